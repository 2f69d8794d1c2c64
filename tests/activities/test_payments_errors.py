"""Every Stripe error leaves the payment activities classified: retried when Stripe could not
answer (the network, 429, 409, 5xx), else refused for good under a named type.

Stripe's answers come from a fake Stripe HTTP server, so stripe-python's own parsing picks the
error class; the classes no HTTP answer of the v1 API produces are raised from the client's
request method.
"""

import inspect
import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
import stripe
import stripe.oauth_error
from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.payment_setup import PaymentSetupActivities
from activities.payments import PaymentActivities, make_stripe_client
from core import errors
from devstack.ports import free_port
from messages.booking import OpenMovePayment
from messages.payments import CreatePaymentIntent, RefundRequest
from tests.fakes.local_server import LocalHTTPServer

RETRIED = "PaymentProviderUnavailable"
INTENT = "pi_fake"
PAID_INTENT = {
    "id": INTENT,
    "object": "payment_intent",
    "status": "succeeded",
    "amount": 2500,
    "amount_received": 2500,
    "currency": "gbp",
    "client_secret": f"{INTENT}_secret",
    "payment_method": "pm_fake",
}


class FakeStripe(LocalHTTPServer):
    """Answers each request whose "METHOD path" starts with a given prefix as told (the
    longest prefix wins); anything else 500. It remembers the requests it answered."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._answers: dict[str, tuple[int, bytes]] = {}
        self.requests: list[str] = []
        self.idempotency_keys: list[str] = []
        super().__init__(_handler_for(self), "fake-stripe")

    def answer(self, prefix: str, status: int, body: dict[str, Any] | bytes) -> None:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        with self._lock:
            self._answers[prefix] = (status, raw)

    def answer_for(self, request: str, idempotency_key: str | None) -> tuple[int, bytes]:
        with self._lock:
            self.requests.append(request)
            if idempotency_key and request.startswith("POST"):
                self.idempotency_keys.append(idempotency_key)
            prefixes = sorted(self._answers, key=len, reverse=True)
            found = next((p for p in prefixes if request.startswith(p)), None)
            return self._answers[found] if found else (500, b"{}")


def _handler_for(fake: FakeStripe) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args: object) -> None:
            pass

        def _answer(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            request = f"{self.command} {self.path}"
            status, body = fake.answer_for(request, self.headers.get("Idempotency-Key"))
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_DELETE = _answer

    return Handler


@pytest.fixture
def fake_stripe() -> Iterator[FakeStripe]:
    with FakeStripe() as fake:
        yield fake


def error(kind: str, code: str | None = None) -> dict[str, Any]:
    return {"error": {"type": kind, "code": code, "message": f"{kind} {code or ''}".strip()}}


async def failure_of(payments: PaymentActivities) -> ApplicationError:
    """What reading an intent raises (the activity run as a worker runs it)."""
    with pytest.raises(ApplicationError) as caught:
        await ActivityEnvironment().run(payments.get_intent, INTENT)
    return caught.value


def assert_outcome(failure: ApplicationError, expected: str) -> None:
    assert failure.type == expected
    assert failure.non_retryable == (expected != RETRIED)
    assert failure.type in errors.ERRORS_BY_TYPE  # the API maps it to its HTTP status


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (400, error("invalid_request_error", "parameter_invalid_integer"), "PaymentRequestInvalid"),
        (400, error("invalid_request_error", "amount_too_large"), "PaymentRequestInvalid"),
        (404, error("invalid_request_error", "resource_missing"), "PaymentObjectMissing"),
        (400, error("idempotency_error"), "PaymentIdempotencyKeyReused"),
        (402, error("card_error", "card_declined"), "PaymentCardDeclined"),
        (401, error("invalid_request_error"), "PaymentProviderAuthenticationFailed"),
        (403, error("invalid_request_error"), "PaymentProviderForbidden"),
        (405, error("invalid_request_error"), "PaymentProviderRefused"),
        (410, error("invalid_request_error"), "PaymentProviderRefused"),
        (429, error("invalid_request_error", "rate_limit"), RETRIED),
        (429, error("invalid_request_error", "lock_timeout"), RETRIED),
        (400, error("invalid_request_error", "rate_limit"), RETRIED),
        (409, error("idempotency_error"), RETRIED),  # the same key still in flight
        (500, error("api_error"), RETRIED),
        (502, b"<html>Bad Gateway</html>", RETRIED),
        (503, error("api_error"), RETRIED),
        (200, b"not json", RETRIED),
    ],
)
async def test_each_answer_of_stripe_is_retried_or_refused_by_name(
    fake_stripe: FakeStripe, status: int, body: dict[str, Any] | bytes, expected: str
) -> None:
    fake_stripe.answer("GET /v1/payment_intents", status, body)
    payments = PaymentActivities(make_stripe_client("sk_test_fake", fake_stripe.base_url))
    assert_outcome(await failure_of(payments), expected)


async def test_no_answer_at_all_is_retried() -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    assert_outcome(await failure_of(PaymentActivities(make_stripe_client("sk", nowhere))), RETRIED)


class NoDatabase:
    async def record(self, _transition: object) -> None:
        pass

    async def record_move_intent(self, _intent: object) -> None:
        pass


def _calls(payments: PaymentActivities) -> dict[str, tuple[Any, Any]]:
    """Each payment activity by its name, with an argument to call it with."""
    refund = RefundRequest("b1", INTENT, "admin", 100, 1)
    intent = CreatePaymentIntent("b1", 2500, "GBP", "ada@example.com")
    move = OpenMovePayment(str(uuid.uuid4()), 1, str(uuid.uuid4()), 500, "GBP")
    setup = PaymentSetupActivities(payments, NoDatabase())  # type: ignore[arg-type]
    return {
        "get_payment_intent": (payments.get_intent, INTENT),
        "cancel_payment_intent": (payments.cancel_intent, INTENT),
        "refund_payment": (payments.refund, refund),
        "list_refunds": (payments.list_refunds, INTENT),
        "open_payment": (setup.open_payment, intent),
        "open_move_payment": (setup.open_move_payment, move),
    }


def _activity_names(*classes: type) -> set[str]:
    found = set()
    for cls in classes:
        for _, method in inspect.getmembers(cls, inspect.isfunction):
            definition = activity._Definition.from_callable(method)
            if definition is not None and definition.name is not None:
                found.add(definition.name)
    return found


UNPAID_INTENT = {**PAID_INTENT, "status": "requires_payment_method", "amount_received": 0}
# What Stripe answers when it does not fail.
ANSWERS: dict[str, dict[str, Any]] = {
    "GET /v1/payment_intents": PAID_INTENT,
    "POST /v1/payment_intents": PAID_INTENT,  # created, or cancelled
    "GET /v1/payment_methods": {"id": "pm_fake", "object": "payment_method", "card": {}},
    "GET /v1/refunds": {"object": "list", "data": [], "has_more": False, "url": "/v1/refunds"},
    "POST /v1/refunds": {
        "id": "re_fake",
        "object": "refund",
        "status": "succeeded",
        "amount": 100,
        "currency": "gbp",
    },
}


@pytest.mark.parametrize(
    ("failing", "intent"),
    [
        ("GET /v1/payment_intents", PAID_INTENT),
        ("POST /v1/payment_intents", UNPAID_INTENT),  # created, or cancelled when unpaid
        ("GET /v1/payment_methods", PAID_INTENT),  # the card's details once paid
        ("GET /v1/refunds", PAID_INTENT),  # listed before refunding
        ("POST /v1/refunds", PAID_INTENT),
    ],
)
async def test_every_stripe_call_of_every_payment_activity_is_classified(
    fake_stripe: FakeStripe, failing: str, intent: dict[str, Any]
) -> None:
    """Each activity, with each kind of Stripe call failing: an activity that made the call
    raises the refusal by name (a 403 here), never an error retried without end."""
    for prefix, body in {**ANSWERS, "GET /v1/payment_intents": intent}.items():
        fake_stripe.answer(prefix, 200, body)
    fake_stripe.answer(failing, 403, error("invalid_request_error"))
    payments = PaymentActivities(make_stripe_client("sk_test_fake", fake_stripe.base_url))
    calls = _calls(payments)
    assert set(calls) == _activity_names(PaymentActivities, PaymentSetupActivities)
    failed = set()
    for name, (method, arg) in calls.items():
        fake_stripe.requests.clear()
        try:
            await ActivityEnvironment().run(method, arg)
        except ApplicationError as err:
            assert (name, err.non_retryable) == (name, True)
            if err.type == "PaymentProviderForbidden":
                failed.add(name)
        made_the_call = any(r.startswith(failing) for r in fake_stripe.requests)
        assert (name, made_the_call) == (name, name in failed)
    assert failed  # some activity makes this call


def _all_stripe_errors(cls: type[stripe.StripeError]) -> list[type[stripe.StripeError]]:
    found: list[type[stripe.StripeError]] = []
    for direct in cls.__subclasses__():
        found += [direct, *_all_stripe_errors(direct)]
    return found


# What each error class of stripe-python means for a step; every other class (the v2 API's,
# OAuth's) is refused as PaymentProviderRefused.
EXPECTED = {
    stripe.APIConnectionError: RETRIED,
    stripe.RateLimitError: RETRIED,
    stripe.APIError: RETRIED,
    stripe.InvalidRequestError: "PaymentRequestInvalid",
    stripe.IdempotencyError: "PaymentIdempotencyKeyReused",
    stripe.CardError: "PaymentCardDeclined",
    stripe.AuthenticationError: "PaymentProviderAuthenticationFailed",
    stripe.PermissionError: "PaymentProviderForbidden",
    stripe.SignatureVerificationError: "PaymentSignatureInvalid",
}


def _instance(cls: type[stripe.StripeError]) -> stripe.StripeError:
    """`cls` made with a message and None for its other required arguments."""
    parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]
    required = [p for p in parameters if p.default is inspect.Parameter.empty]
    return cls("boom", *[None] * (len(required) - 1))


@pytest.mark.parametrize(
    "error_class",
    [stripe.StripeError, *_all_stripe_errors(stripe.StripeError)],
    ids=lambda cls: cls.__qualname__,
)
async def test_each_stripe_error_class_is_retried_or_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, error_class: type[stripe.StripeError]
) -> None:
    client = make_stripe_client("sk_test_fake", "http://127.0.0.1:9")

    async def request_async(*_args: object, **_kwargs: object) -> None:
        raise _instance(error_class)

    monkeypatch.setattr(client._requestor, "request_async", request_async)
    expected = EXPECTED.get(error_class, "PaymentProviderRefused")
    assert_outcome(await failure_of(PaymentActivities(client)), expected)


async def test_a_refused_sequence_asked_again_with_another_amount_uses_another_key(
    fake_stripe: FakeStripe,
) -> None:
    """Stripe may keep a refused refund's answer under its key; the same key with another
    amount would then be refused as key reuse (PaymentIdempotencyKeyReused), for good."""
    for prefix, body in ANSWERS.items():
        fake_stripe.answer(prefix, 200, body)
    payments = PaymentActivities(make_stripe_client("sk_test_fake", fake_stripe.base_url))
    for amount in (900, 500, 500):
        await ActivityEnvironment().run(
            payments.refund, RefundRequest("b1", INTENT, "admin", amount, 3)
        )
    first, second, again = fake_stripe.idempotency_keys
    assert first != second == again
