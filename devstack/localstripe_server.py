"""Runs localstripe with its store where we say (it hard-codes /tmp/localstripe.pickle), and
with the part of Stripe Connect the engine uses, which localstripe lacks.

`python -m devstack.localstripe_server --port 8420 --store var/localstripe.pickle`; with
`--store none` nothing is written, which also spares the full pickle it dumps on every write.
`--webhook URL --secret S` registers our endpoint (localstripe forgets webhooks on restart).

Connect, as real Stripe answers it for direct charges:
- each `Stripe-Account` header value (`acct_...`, any such id: accounts exist once named) has
  objects of its own, the platform (no header) too: an intent made on one account is not found
  on another (devstack/localstripe_accounts.py);
- an event about a connected account's object carries `"account": "acct_..."` at its top level;
- a PaymentIntent takes `application_fee_amount` (only with a `Stripe-Account`, at most the
  amount) and returns it; a refund takes `refund_application_fee` and echoes it back;
- `GET /v1/accounts/{id}` answers for any `acct_...` id, able to take charges.
"""

import argparse
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web
from localstripe import resources, server, webhooks
from localstripe.errors import UserError

from core.stripe_accounts import ACCOUNT_ID
from devstack.localstripe_accounts import PLATFORM, AccountStores, account

ACCOUNT_HEADER = "Stripe-Account"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def account_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The request's account, from its Stripe-Account header, for the store and its events."""
    named = request.headers.get(ACCOUNT_HEADER, PLATFORM)
    if named and not ACCOUNT_ID.fullmatch(named):
        # Real Stripe's answer for an account the key may not act for.
        raise UserError(
            403,
            f"The provided key does not have access to account '{named}'",
            {"code": "account_invalid"},
        )
    token = account.set(named)
    try:
        return await handler(request)
    finally:
        account.reset(token)  # one connection serves several requests


def _event_init(original: Callable[..., None]) -> Callable[..., None]:
    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        if named := account.get():
            self.account = named

    return init


def _intent_init(original: Callable[..., None]) -> Callable[..., None]:
    def init(self: Any, *args: Any, application_fee_amount: Any = None, **kwargs: Any) -> None:
        fee = resources.try_convert_to_int(application_fee_amount)
        if fee is not None:
            if not account.get():
                raise UserError(
                    400,
                    "Can only apply an application_fee_amount when the PaymentIntent is "
                    "attempting a direct payment (using a Stripe-Account header)",
                )
            amount = resources.try_convert_to_int(kwargs.get("amount"))
            if type(fee) is not int or fee < 0 or (type(amount) is int and fee > amount):
                raise UserError(400, "application_fee_amount must be between 0 and the amount")
        original(self, *args, **kwargs)
        self.application_fee_amount = fee

    return init


def _refund_init(original: Callable[..., None]) -> Callable[..., None]:
    def init(self: Any, *args: Any, refund_application_fee: Any = None, **kwargs: Any) -> None:
        flag = resources.try_convert_to_bool(refund_application_fee)
        if flag is not None and type(flag) is not bool:
            raise UserError(400, "refund_application_fee must be a boolean")
        original(self, *args, **kwargs)
        self.refund_application_fee = bool(flag)

    return init


def retrieve_account(request: web.Request) -> web.Response:
    named = request.match_info["id"]
    if not ACCOUNT_ID.fullmatch(named):
        raise UserError(404, f"No such account: '{named}'", {"code": "resource_missing"})
    return server.json_response(
        {
            "id": named,
            "object": "account",
            "type": "standard",
            "charges_enabled": True,
            "payouts_enabled": True,
            "details_submitted": True,
        }
    )


def add_connect(path: Path | None) -> AccountStores:
    """Give localstripe per-account stores (persisted at `path`), Connect's fields and routes."""
    stores = AccountStores(path)
    resources.store = stores  # type: ignore[assignment]  # read as a global by resources
    server.store = stores  # type: ignore[assignment]  # read by its save and flush handlers
    resources.Event.__init__ = _event_init(resources.Event.__init__)  # type: ignore[method-assign]
    resources.PaymentIntent.__init__ = _intent_init(  # type: ignore[method-assign]
        resources.PaymentIntent.__init__
    )
    resources.Refund.__init__ = _refund_init(  # type: ignore[method-assign]
        resources.Refund.__init__
    )
    # Right inside localstripe's error middleware, which answers the UserError it raises. The
    # application is not started yet, so its middleware list is still open.
    server.app._middlewares.insert(1, account_middleware)
    server.app.router.add_get("/v1/accounts/{id}", retrieve_account)
    return stores


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8420)
    parser.add_argument("--store", default="none", help="pickle file, or 'none'")
    parser.add_argument("--webhook", help="URL that receives signed events")
    parser.add_argument("--secret", help="webhook signing secret")
    args = parser.parse_args()
    add_connect(None if args.store == "none" else Path(args.store))
    if args.webhook:
        webhooks.register_webhook("booking-engine", args.webhook, args.secret, None)
    sys.argv = [sys.argv[0], "--port", str(args.port)]
    server.start()


if __name__ == "__main__":
    main()
