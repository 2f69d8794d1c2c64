"""The platform's fee on a payment made into an organisation's own Stripe account."""

BASIS_POINTS = 10_000  # 100 %


def platform_fee(amount: int, basis_points: int, fixed: int) -> int:
    """`basis_points` of `amount` (hundredths of a percent), rounded half up to the minor unit,
    plus `fixed` minor units; never below 0 and never above `amount` (Stripe refuses an
    application fee larger than the payment, and the organiser is never charged to sell).

    >>> platform_fee(2500, 250, 20)  # 2.5 % of 25.00 is 62.5 -> 63, plus 0.20
    83
    """
    if amount <= 0:
        return 0
    share = (amount * basis_points + BASIS_POINTS // 2) // BASIS_POINTS
    return min(max(share + fixed, 0), amount)
