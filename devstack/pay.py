"""Pay a PaymentIntent the way Stripe.js does against localstripe: PaymentMethod, attach, confirm.

localstripe answers "Not implemented" to `confirm` with a `payment_method`, so the method is
attached with `update` first. Test cards: 4242424242424242 succeeds, 4000000000000341 is
declined, 4000002500003155 asks for 3-D Secure.
"""

import stripe

SUCCEEDS = "4242424242424242"
DECLINED = "4000000000000341"


async def pay(client: stripe.StripeClient, payment_intent_id: str, card: str = SUCCEEDS) -> str:
    """Returns the intent's status after confirming; a declined card returns its error code."""
    method = await client.v1.payment_methods.create_async(
        {"type": "card", "card": {"number": card, "exp_month": 12, "exp_year": 2034, "cvc": "123"}}
    )
    await client.v1.payment_intents.update_async(payment_intent_id, {"payment_method": method.id})
    try:
        intent = await client.v1.payment_intents.confirm_async(payment_intent_id)
    except stripe.CardError as err:
        return f"declined: {err.code}"
    return str(intent.status)
