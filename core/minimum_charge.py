"""The smallest amount Stripe will charge in a currency, so a price it would refuse is refused
when the session is created rather than discovered as a 5xx when someone books.

Figures from Stripe's "Minimum and maximum charge amounts" table
(https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts), in minor units of the
currency (JPY has none). Stripe sets other currencies' minimum at the equivalent of 0.50 USD,
which moves with exchange rates: those are not checked here. 0 is no charge at all (free).
"""

from core.pricing import GroupDiscount, quote

MINIMUM_CHARGE = {
    "USD": 50,
    "AED": 200,
    "AUD": 50,
    "BGN": 100,
    "BRL": 50,
    "CAD": 50,
    "CHF": 50,
    "CZK": 1500,
    "DKK": 250,
    "EUR": 50,
    "GBP": 30,
    "HKD": 400,
    "HUF": 17500,
    "INR": 50,
    "JPY": 50,
    "MXN": 1000,
    "MYR": 200,
    "NOK": 300,
    "NZD": 50,
    "PLN": 200,
    "RON": 200,
    "SEK": 300,
    "SGD": 50,
    "THB": 1000,
}


def below_minimum(amount: int, currency: str) -> bool:
    """A charge Stripe refuses: more than nothing but less than the currency's minimum."""
    return 0 < amount < MINIMUM_CHARGE.get(currency.upper(), 0)


def cheapest_group_total(unit_amount: int, discount: GroupDiscount) -> int | None:
    """The lowest total a discounted group booking can come to, None when no booking is
    discounted. A total grows with the places booked, so the smallest group is the cheapest."""
    if not discount.basis_points or unit_amount == 0:
        return None
    return quote(unit_amount, discount.min_quantity, discount).total
