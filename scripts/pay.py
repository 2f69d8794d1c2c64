"""Dev command: pay a booking's PaymentIntent the way Stripe.js would, against localstripe.

    .venv/bin/python -m scripts.pay BOOKING_ID [--card 4000000000000341] [--intent PI]

`--intent` pays another intent of the booking: a move's difference (`move_payment`).

localstripe then sends the signed webhook to the API, which confirms the booking.
"""

import argparse
import asyncio
import sys

import httpx

from activities.payments import make_stripe_client
from core.settings import get_settings
from devstack.pay import SUCCEEDS, pay


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("booking_id")
    parser.add_argument("--card", default=SUCCEEDS, help="test card number")
    parser.add_argument("--api", default="http://127.0.0.1:8000", help="API base URL")
    parser.add_argument("--api-key", default="dev-client-key")
    parser.add_argument("--intent", help="a move's difference (move_payment.payment_intent_id)")
    args = parser.parse_args()
    settings = get_settings()
    if settings.stripe_api_base is None:
        print("pay: refusing to pay real Stripe; this command is for localstripe", file=sys.stderr)
        return 2
    async with httpx.AsyncClient(base_url=args.api, timeout=10) as http:
        answer = await http.get(
            f"/v1/bookings/{args.booking_id}",
            headers={"Authorization": f"Bearer {args.api_key}"},
        )
    if answer.status_code != 200:
        print(f"pay: {answer.json().get('detail', answer.text)}", file=sys.stderr)
        return 1
    payment = answer.json()["payment"]
    intent_id = args.intent or payment["payment_intent_id"]
    client = make_stripe_client(settings.stripe_api_key, settings.stripe_api_base)
    status = await pay(client, intent_id, args.card, payment.get("stripe_account_id"))
    print(f"{intent_id}: {status}")
    return 0 if status == "succeeded" else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
