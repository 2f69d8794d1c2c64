"""Prices in integer minor units; the group-discount rule and its rounding live here only."""

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
