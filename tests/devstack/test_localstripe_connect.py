"""The localstripe wrapper's Stripe Connect: each `Stripe-Account` has objects of its own, its
events name it, a PaymentIntent takes an application fee there, and the store persists them
all."""

import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import stripe
from localstripe import resources
from stripe.params import PaymentIntentCreateParams

from activities.payments import make_stripe_client
from devstack.localstripe_accounts import PLATFORM, AccountStores
from devstack.pay import pay
from devstack.ports import free_port, wait_for_port
from tests.helpers.connect import new_account


def params(fee: int | None = None) -> PaymentIntentCreateParams:
    params: PaymentIntentCreateParams = {
        "amount": 5000,
        "currency": "gbp",
        "payment_method_types": ["card"],  # type: ignore[typeddict-unknown-key]
    }
    if fee is not None:
        params["application_fee_amount"] = fee
    return params


def on(account: str | None) -> stripe.RequestOptions:
    return {"stripe_account": account}


async def missing(call: object) -> int:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        await call  # type: ignore[misc]
    return caught.value.http_status or 0


async def test_an_intent_made_in_one_account_is_found_in_no_other(
    stripe_client: stripe.StripeClient,
) -> None:
    a, b = new_account(), new_account()
    intent = await stripe_client.v1.payment_intents.create_async(params(), on(a))
    intents = stripe_client.v1.payment_intents

    found = await intents.retrieve_async(intent.id, options=on(a))
    assert (found.id, found.amount) == (intent.id, 5000)
    assert await missing(intents.retrieve_async(intent.id, options=on(b))) == 404
    assert await missing(intents.retrieve_async(intent.id)) == 404
    assert [i.id for i in (await intents.list_async(options=on(a))).data] == [intent.id]
    assert (await intents.list_async(options=on(b))).data == []
    assert intent.id not in {i.id for i in (await intents.list_async({"limit": 100})).data}


async def test_a_payment_and_its_refunds_stay_in_its_account_and_its_events_name_it(
    stripe_client: stripe.StripeClient,
) -> None:
    account, other = new_account(), new_account()
    intent = await stripe_client.v1.payment_intents.create_async(params(145), on(account))
    assert intent.application_fee_amount == 145
    assert await pay(stripe_client, intent.id, account=account) == "succeeded"

    refund = await stripe_client.v1.refunds.create_async(
        {"payment_intent": intent.id, "amount": 1000, "refund_application_fee": True}, on(account)
    )
    assert (refund.amount, refund.to_dict()["refund_application_fee"]) == (1000, True)
    listed = await stripe_client.v1.refunds.list_async({"payment_intent": intent.id}, on(account))
    assert [r.id for r in listed.data] == [refund.id]
    # Refunding it from another account, or the platform's, finds no such payment.
    for elsewhere in (other, None):
        made = stripe_client.v1.refunds.create_async({"payment_intent": intent.id}, on(elsewhere))
        assert await missing(made) == 404
    listed = await stripe_client.v1.refunds.list_async({"payment_intent": intent.id}, on(account))
    assert [r.amount for r in listed.data] == [1000]

    events = (await stripe_client.v1.events.list_async(options=on(account))).data
    assert [(e.type, e.to_dict().get("account")) for e in events] == [
        ("payment_intent.succeeded", account)
    ]
    assert (await stripe_client.v1.events.list_async(options=on(other))).data == []


async def test_an_application_fee_needs_a_connected_account_and_fits_the_amount(
    stripe_client: stripe.StripeClient,
) -> None:
    create = stripe_client.v1.payment_intents.create_async
    on_platform = await create(params())
    assert on_platform.application_fee_amount is None
    assert await missing(create(params(100))) == 400
    too_much = create(params(5001), on(new_account()))
    assert await missing(too_much) == 400


async def test_an_account_id_that_is_not_one_is_refused(stripe_client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.PermissionError) as caught:
        await stripe_client.v1.payment_intents.list_async(options=on("cus_not_an_account"))
    assert caught.value.http_status == 403
    account = await stripe_client.v1.accounts.retrieve_async("acct_1Harbour")
    assert (account.id, account.charges_enabled) == ("acct_1Harbour", True)
    assert await missing(stripe_client.v1.accounts.retrieve_async("harbour")) == 404


async def test_the_store_keeps_every_account_across_a_restart(tmp_path: Path) -> None:
    stored = ("--store", str(tmp_path / "localstripe.pickle"))
    account = new_account()

    def start() -> tuple[subprocess.Popen[bytes], stripe.StripeClient]:
        port = free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "devstack.localstripe_server", "--port", str(port), *stored],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(port)
        return process, make_stripe_client("sk_test_localstripe", f"http://127.0.0.1:{port}")

    process, client = start()
    try:
        connected = await client.v1.payment_intents.create_async(params(), on(account))
        platform = await client.v1.payment_intents.create_async(params())
    finally:
        process.terminate()
        process.wait(10)

    process, client = start()
    try:
        intents = client.v1.payment_intents
        assert (await intents.retrieve_async(connected.id, options=on(account))).id == connected.id
        assert (await intents.retrieve_async(platform.id)).id == platform.id
        assert await missing(intents.retrieve_async(connected.id)) == 404
    finally:
        process.terminate()
        process.wait(10)


def test_a_store_saved_before_accounts_holds_the_platform_s_objects(tmp_path: Path) -> None:
    path = tmp_path / "old.pickle"
    with path.open("wb") as f:
        pickle.dump(resources.Store({"coupon:10OFF": "a coupon"}), f)
    stores = AccountStores(path)
    stores.try_load_from_disk()
    assert dict(stores) == {"coupon:10OFF": "a coupon"}  # the platform's: no account named
    stores.dump_to_disk()
    with path.open("rb") as f:
        assert pickle.load(f) == {PLATFORM: {"coupon:10OFF": "a coupon"}}
