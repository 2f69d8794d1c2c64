"""Pay a PaymentIntent the way Stripe.js does against localstripe: PaymentMethod, attach, confirm.

localstripe answers "Not implemented" to `confirm` with a `payment_method`, so the method is
attached with `update` first. Test cards: 4242424242424242 succeeds, 4000000000000341 is
declined, 4000002500003155 asks for 3-D Secure. An intent made in a connected account is paid
there (`account`), as Stripe.js does when given that account.
"""

import stripe

SUCCEEDS = "4242424242424242"
DECLINED = "4000000000000341"


async def pay(
    client: stripe.StripeClient,
    payment_intent_id: str,
    card: str = SUCCEEDS,
    account: str | None = None,
) -> str:
    """Returns the intent's status after confirming; a declined card returns its error code."""
    options: stripe.RequestOptions = {"stripe_account": account}
    method = await client.v1.payment_methods.create_async(
        {"type": "card", "card": {"number": card, "exp_month": 12, "exp_year": 2034, "cvc": "123"}},
        options,
    )
    await client.v1.payment_intents.update_async(
        payment_intent_id, {"payment_method": method.id}, options
    )
    try:
        intent = await client.v1.payment_intents.confirm_async(payment_intent_id, options=options)
    except stripe.CardError as err:
        return f"declined: {err.code}"
    return str(intent.status)
