"""Prices in integer minor units; the group-discount rule, the price of places kept when others
are given back, and their rounding live here only."""

from dataclasses import dataclass


@dataclass(frozen=True)
class GroupDiscount:
    """`basis_points` off the subtotal when at least `min_quantity` places are booked together."""

    min_quantity: int
    basis_points: int


@dataclass(frozen=True)
class Quote:
    unit_amount: int
    quantity: int
    subtotal: int
    discount: int
    total: int


def quote(unit_amount: int, quantity: int, discount: GroupDiscount | None) -> Quote:
    """Price `quantity` places.

    Rounding: the discount is computed on the whole subtotal (not per place) and rounded
    half up to the minor unit, so 10 % of 37 505 pence is 3 751 pence. The total is always
    subtotal minus discount, so the lines on a receipt add up exactly.
    """
    if unit_amount < 0 or quantity < 1:
        raise ValueError("unit_amount must be >= 0 and quantity >= 1")
    subtotal = unit_amount * quantity
    amount_off = 0
    if discount and discount.basis_points and quantity >= discount.min_quantity:
        amount_off = (subtotal * discount.basis_points + 5_000) // 10_000
    return Quote(unit_amount, quantity, subtotal, amount_off, subtotal - amount_off)


def split(total: int, weights: list[int]) -> list[int]:
    """`total` split in proportion to `weights`, in whole minor units that add up to `total`.

    Each share is rounded down; the minor units left go one each to the largest remainders,
    the earliest first on a tie, so the same inputs always give the same shares. Weights that
    are all 0 count as equal.
    """
    if not weights:
        return []
    if not any(weights):
        weights = [1] * len(weights)
    whole = sum(weights)
    shares = [total * weight // whole for weight in weights]
    remainders = [total * weight % whole for weight in weights]
    by_remainder = sorted(range(len(weights)), key=lambda i: (-remainders[i], i))
    for i in by_remainder[: total - sum(shares)]:
        shares[i] += 1
    return shares


def kept(paid: int, unit_amount: int, places: list[str], keep: list[str]) -> Quote:
    """The price of the places `keep` once the others of `places` (as sold) are given back.

    Each place sold carried its share of what was `paid`, the paid total split across the
    places in proportion to their list prices (`split`). A place given back refunds its share;
    the places kept keep theirs: the group discount is not computed again, so what is kept is
    never dearer than what was paid for it, and its discount is what its list price exceeds it.
    """
    shares = dict(zip(places, split(paid, [unit_amount] * len(places)), strict=True))
    subtotal = unit_amount * len(keep)
    total = sum(shares[label] for label in keep)
    return Quote(unit_amount, len(keep), subtotal, subtotal - total, total)
