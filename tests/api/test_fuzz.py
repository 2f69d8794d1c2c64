"""Fuzzing the live API from its OpenAPI document (issue 9, case 7), with schemathesis.

Every operation, with the client and the admin key, with data that fits the schema and data
that does not: no 5xx, every request answered, every status documented, every body (problem+json
included) matching its schema, data that breaks the schema refused, a request without the key
refused (ignored auth). A last round names things that exist (a paid booking, its session, a
webhook endpoint and one of its deliveries) wherever a path or body takes their ids. Then a
stateful run chains operations through the links schemathesis infers (create an endpoint, read
it, change it, delete it, read it again: use after free), and one endpoint is made, deleted and
asked again by every operation on it, whatever the draws reached (404 each). Each operation
must get at least FLOOR requests, and a 2xx in the round with real ids unless NO_SUCCESS says
why it cannot: an operation silently not exercised fails the test. FUZZ_EXAMPLES=200 makes it
larger (default 20 per operation, key and round); FUZZ_RANDOM=1 draws new examples instead of
the same ones every run.

Over 350 lines: one fuzz run (its rounds, the known ids it feeds them, the floors it checks),
read top to bottom; its schemathesis glue has no other user.
"""

import base64
import contextlib
import os
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import hypothesis
import pytest
import requests
import schemathesis
import stripe
from hypothesis import HealthCheck, Phase
from schemathesis import GenerationMode
from schemathesis.checks import CheckFunction, not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
    use_after_free,
)

from messages.booking import MAX_PLACES_PER_BOOKING
from schemas.organisations import OrganisationPatch
from tests.conftest import ADMIN_KEY, CLIENT_KEY, SessionFactory, api_client
from tests.helpers.api_bookings import paid_booking
from tests.helpers.stack import Stack
from tests.helpers.threads import import_modules_of, in_own_thread

# Imported here, in the main thread (tests/helpers/threads.py): the fuzz runs in a thread.
import_modules_of(schemathesis, skipping=(".cli", ".reporting", ".pytest", "graphql"))

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "20"))
# 60 scenarios of 12 steps: run first on a fresh database (tests/conftest.py), they delete 6
# endpoints and read 5 of them again (40 deleted none once the timers ran to 10 ms).
SCENARIOS = int(os.environ.get("FUZZ_SCENARIOS", "60"))
# Requests per operation over every round and key: an operation without parameters or body is
# generated once per key; one that takes any gets at least a few distinct cases.
FLOOR, FLOOR_WITHOUT_INPUT = 5, 2
# Requests of the stateful scenarios at least (60 scenarios make up to 720).
STATEFUL_FLOOR = 300
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
    ignored_auth,
]
# The codec server answers callers on its open networks without a key (core/settings.py
# `codec_open_networks`, loopback by default: the Temporal UI in an operator's browser), and the
# fuzz calls from loopback: a missing key is no fault there.
OPEN_TO_LOOPBACK = {"POST /codec/encode", "POST /codec/decode"}
AUTH_CHECKS = {ignored_auth, negative_data_rejection}
# Operations that cannot answer 2xx to generated data even with real ids, and why.
NO_SUCCESS = {
    "POST /v1/webhooks/stripe": "a generated body carries no valid Stripe signature",
    "POST /v1/sessions/{session_id}/check-ins": "a generated code is no ticket the server signed",
    "POST /v1/waiting-list/{entry_id}/accept": "a generated token is never the offer's",
    "POST /v1/waiting-list/{entry_id}/decline": "a generated token is never the offer's",
    "GET /v1/certificates/{code}": "a generated code is no certificate the server signed",
    # The fuzz's booking is of a session to come: attendance is recorded once it has ended.
    "PATCH /v1/bookings/{booking_id}/attendance": "the booking's attendance is not recorded yet",
    "POST /v1/bookings/{booking_id}/certificates/{attendee_index}/reissue": (
        "the booking's session has not ended: it has no certificate"
    ),
}
# The known session asks no questions: generated answers and consents name none of its (422),
# so the round with real ids sends none.
UNASKED = ("answers", "consents")
# A webhook endpoint's URL that the API accepts (a generated one rarely is a URL at all).
ENDPOINT_URL = "http://127.0.0.1:9/fuzz"
LOGO = b'<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>'


def checks_for(
    operation: schemathesis.APIOperation, probe_auth: bool = True
) -> list[CheckFunction]:
    """The checks of one round. `ignored_auth` sends each case again without the key and with a
    wrong one: one round per operation is enough to show the key is not ignored (and keeps the
    fuzz near its earlier time), so it runs in the admin key's last positive round only."""
    skipped = AUTH_CHECKS if operation.label in OPEN_TO_LOOPBACK else set()
    if not probe_auth:
        skipped = skipped | {ignored_auth}
    return [check for check in CHECKS if check not in skipped]


@dataclass
class Tally:
    requests: int = 0
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    succeeded_with_ids: set[str] = field(default_factory=set)
    failures: list[str] = field(default_factory=list)
    stateful_seconds: float = 0

    def count(self, label: str, status: int, with_ids: bool) -> None:
        self.requests += 1
        self.statuses[(label, status)] += 1
        if with_ids and 200 <= status < 300:
            self.succeeded_with_ids.add(label)

    def requests_of(self, label: str) -> int:
        return sum(n for (op, _), n in self.statuses.items() if op == label)

    def report(self) -> str:
        lines = []
        for operation in sorted({label for label, _ in self.statuses}):
            counts = {s: n for (label, s), n in sorted(self.statuses.items()) if label == operation}
            lines.append(f"  {operation}: {counts}")
        return "\n".join(lines)


def examine(
    operation: schemathesis.APIOperation,
    mode: GenerationMode,
    api_url: str,
    session: requests.Session,
    key: str,
    known: dict[str, str],
    checks: list[CheckFunction],
    documented: list[dict[str, Any]],
) -> None:
    """Up to EXAMPLES cases; `known` ids replace generated ones in the path and the body. With
    them, the request bodies the document gives as examples are sent too (`documented`): the
    documented request works, whatever the generated draws reach."""
    in_path = {name: value for name, value in known.items() if f"{{{name}}}" in operation.path}
    cases = operation.as_strategy(generation_mode=mode, path_parameters=in_path)

    @hypothesis.settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize="FUZZ_RANDOM" not in os.environ,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
    )
    @hypothesis.given(case=cases)
    def run(case: schemathesis.Case) -> None:
        if isinstance(case.body, dict):
            case.body.update({k: v for k, v in known.items() if k in case.body})
            if known:
                case.body.update({k: [] for k in UNASKED if k in case.body})
        case.call_and_validate(
            base_url=api_url,
            session=session,
            headers={"Authorization": f"Bearer {key}"},
            checks=checks,
            timeout=30,  # an answer, or a failure: no request may hang
        )

    run()
    if not (known and mode.is_positive):
        return
    for example in documented:
        body = example | {k: v for k, v in known.items() if k in example}
        case = operation.Case(body=body, path_parameters=in_path, media_type="application/json")
        case.call_and_validate(
            base_url=api_url,
            session=session,
            headers={"Authorization": f"Bearer {key}"},
            checks=checks,
            timeout=30,
        )


def documented_examples(
    raw: dict[str, Any], operation: schemathesis.APIOperation
) -> list[dict[str, Any]]:
    """The examples of a POST's request body in the OpenAPI document (a POST makes or asks for
    something; a documented PATCH would change what the other operations rely on)."""
    if operation.method.upper() != "POST":
        return []
    body = raw["paths"][operation.path]["post"].get("requestBody", {})
    ref = body.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref")
    if not ref:
        return []
    return list(raw["components"]["schemas"][ref.rsplit("/", 1)[1]].get("examples", []))


def rounds(known: dict[str, str]) -> Iterator[tuple[GenerationMode, dict[str, str]]]:
    """Generated data of both kinds; then data that fits the schema, naming things that exist
    wherever the path or body names one."""
    yield GenerationMode.POSITIVE, {}
    yield GenerationMode.NEGATIVE, {}
    if known:
        yield GenerationMode.POSITIVE, known


# Operations that change or end what the known ids name, in the order they run once every
# other operation has had the known ids: a disabled endpoint is not pinged, a booking refunded
# in full cannot give places back, a cancelled session leaves nothing to change.
CHANGES_LAST = [
    "PUT /v1/sessions/{session_id}/questions",  # a required question refuses later bookings
    "PATCH /v1/organisation",  # it may take the logo away
    "PATCH /v1/webhook-endpoints/{endpoint_id}",
    "POST /v1/bookings/{booking_id}/move",
    "POST /v1/bookings/{booking_id}/cancel-places",
    "POST /v1/bookings/{booking_id}/refunds",
    "POST /v1/bookings/{booking_id}/cancel",
    "POST /v1/sessions/{session_id}/cancel",
    "DELETE /v1/webhook-endpoints/{endpoint_id}",
]
# Ids of their own: the booking the refunds may have refunded in full is cancelled as a spare
# one of its own; joining a waiting list takes a sold-out session (one with places free
# answers 409, and the known session keeps places free for generated bookings).
SPARE_BOOKING = "POST /v1/bookings/{booking_id}/cancel"
OWN_IDS = {
    SPARE_BOOKING: {"booking_id": "spare_booking_id"},
    "POST /v1/sessions/{session_id}/waiting-list": {"session_id": "full_session_id"},
    # A move goes to another session with room for the booking's places.
    "POST /v1/bookings/{booking_id}/move": {"session_id": "move_session_id"},
}


def _order(operation: schemathesis.APIOperation) -> int:
    label = operation.label
    return CHANGES_LAST.index(label) + 1 if label in CHANGES_LAST else 0


def fuzz(api_url: str, known: dict[str, str], before: set[str]) -> Tally:
    """Every round, then the stateful run; `before`: the endpoints the test found."""
    tally = Tally()
    schema = schemathesis.openapi.from_url(f"{api_url}/openapi.json")
    # The API ignores query parameters it does not know, as most do: none are made up.
    schema.config.generation.update(allow_extra_parameters=False)
    session = requests.Session()
    current: dict[str, Any] = {}

    def count(response: requests.Response, *args: object, **kwargs: object) -> None:
        tally.count(current["label"], response.status_code, current["with_ids"])

    session.hooks["response"].append(count)
    operations = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            tally.failures.append(f"the OpenAPI document: {result.err()}")
        else:
            operations.append(result.ok())
    for operation in sorted(operations, key=_order):
        takes_ids = bool(operation.body) or "_id}" in operation.path
        own = OWN_IDS.get(operation.label, {})
        mine = known | {name: known[source] for name, source in own.items()}
        for key in (CLIENT_KEY, ADMIN_KEY):
            for mode, ids in rounds(mine if takes_ids else {}):
                last_positive = mode.is_positive and (bool(ids) or not takes_ids)
                checks = checks_for(operation, probe_auth=last_positive and key == ADMIN_KEY)
                current.update(label=operation.label, with_ids=bool(ids) or not takes_ids)
                try:
                    documented = documented_examples(schema.raw_schema, operation)
                    examine(operation, mode, api_url, session, key, ids, checks, documented)
                except hypothesis.errors.Unsatisfiable:
                    assert mode.is_negative  # nothing to get wrong: no parameter, no body
                except (Exception, BaseExceptionGroup) as err:  # one failure hides no other
                    label = f"{operation.label} [{mode.value}, {key}, {ids}]"
                    tally.failures.append(f"{label}: {err}")
    _make_room(api_url, keep=before | {known["endpoint_id"]})
    current.update(label="stateful", with_ids=False)
    began = time.monotonic()
    _stateful(schema, api_url, session, tally)
    tally.stateful_seconds = time.monotonic() - began
    _freed_stays_gone(api_url, tally)
    _coverage(operations, tally)
    return tally


def _make_room(api_url: str, keep: set[str]) -> None:
    """Delete the endpoints the rounds made: an organisation keeps 20 at most, and the stateful
    run must be able to make one, or it deletes nothing and checks no use after free."""
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    listed = requests.get(f"{api_url}/v1/webhook-endpoints", headers=admin, timeout=30)
    assert listed.status_code == 200, listed.text
    for endpoint in listed.json()["items"]:
        if endpoint["id"] not in keep:
            deleted = requests.delete(
                f"{api_url}/v1/webhook-endpoints/{endpoint['id']}", headers=admin, timeout=30
            )
            assert deleted.status_code == 204, deleted.text


# Every operation on one webhook endpoint, with a body where it takes one.
ON_AN_ENDPOINT = [
    ("GET", "", None),
    ("PATCH", "", {"enabled": False}),
    ("DELETE", "", None),
    ("POST", "/ping", None),
    ("GET", "/deliveries", None),
]


def _freed_stays_gone(api_url: str, tally: Tally) -> None:
    """Use after free, whatever the stateful run's draws reached: an endpoint made, then
    deleted, answers every operation on it with 404 problem+json."""
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    made = requests.post(
        f"{api_url}/v1/webhook-endpoints",
        json={"url": ENDPOINT_URL, "events": ["booking.created"]},
        headers=admin,
        timeout=30,
    )
    assert made.status_code == 201, made.text
    endpoint = f"{api_url}/v1/webhook-endpoints/{made.json()['id']}"
    deleted = requests.delete(endpoint, headers=admin, timeout=30)
    assert deleted.status_code == 204, deleted.text
    for method, tail, body in ON_AN_ENDPOINT:
        answer = requests.request(method, endpoint + tail, json=body, headers=admin, timeout=30)
        kind = answer.headers.get("content-type", "")
        if (answer.status_code, kind) != (404, "application/problem+json"):
            tally.failures.append(
                f"use after free: {method} {tail or '/'} answered {answer.status_code} {kind}"
            )


def _stateful(schema: Any, api_url: str, session: requests.Session, tally: Tally) -> None:
    """Scenarios chained through inferred links, with the admin key: a resource deleted is not
    found afterwards (use after free), and every check of the other rounds still holds."""
    machine = schema.as_state_machine()

    class Scenarios(machine):  # type: ignore[misc,valid-type]
        def before_call(self, case: schemathesis.Case) -> None:
            # So endpoints get made, read and deleted; the url of a negative body is its own
            # (it may be what is invalid: a valid URL in its place would make the API right to
            # accept it), as is a url of another type.
            if (
                isinstance(case.body, dict)
                and isinstance(case.body.get("url"), str)
                and not _negative_body(case)
            ):
                case.body["url"] = ENDPOINT_URL

        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
            return {"base_url": api_url, "session": session, "headers": headers, "timeout": 30}

        def validate_response(self, response: Any, case: schemathesis.Case, **kwargs: Any) -> None:
            label = case.operation.label
            tally.statuses[(f"stateful {label}", response.status_code)] += 1
            checks = checks_for(case.operation)
            if _negated_only_by_a_missing_key(case):
                checks = [check for check in checks if check is not negative_data_rejection]
            try:  # one failure hides no other: the scenarios go on
                case.validate_response(
                    response,
                    checks=[*checks, use_after_free],
                    transport_kwargs=kwargs or None,
                    recorder=self.recorder,
                )
            except (Exception, BaseExceptionGroup) as err:
                tally.failures.append(f"stateful {label}: {err}")

    # A scenario that begins as an earlier one did, against a server that one moved on, can
    # draw otherwise: Hypothesis then stops exploring (FlakyStrategyDefinition). No finding
    # about the API (each response so far was checked): the scenarios go on in a run drawn at
    # random, until the floor is reached or three runs were made.
    for attempt in range(3):
        with contextlib.suppress(hypothesis.errors.FlakyStrategyDefinition):
            Scenarios.run(
                settings=hypothesis.settings(
                    max_examples=SCENARIOS,
                    stateful_step_count=12,
                    deadline=None,
                    database=None,
                    derandomize=attempt == 0 and "FUZZ_RANDOM" not in os.environ,
                    suppress_health_check=list(HealthCheck),
                    phases=[Phase.generate],
                )
            )
        if tally.requests_of("stateful") >= STATEFUL_FLOOR:
            break
    if (n := tally.requests_of("stateful")) < STATEFUL_FLOOR:
        tally.failures.append(f"stateful: {n} requests, under the floor of {STATEFUL_FLOOR}")


def _negative_body(case: schemathesis.Case) -> bool:
    """Whether the case's body was drawn to break the schema."""
    body = case.meta.components.get(ParameterLocation.BODY) if case.meta else None
    return body is not None and body.mode.is_negative


def _negated_only_by_a_missing_key(case: schemathesis.Case) -> bool:
    """A negative case whose invalid part includes a missing `Authorization` header: the stateful
    run sends the admin key with every call (`get_call_kwargs`), and a link may fill the body from
    an earlier answer, so what is sent can be valid and rightly accepted. Missing and wrong keys
    are the rounds' `ignored_auth` check."""
    data = case.meta.phase.data if case.meta else None
    mutations = getattr(data, "mutations", None) or []
    named = {getattr(data, "parameter", None), *(m.parameter for m in mutations)}
    return "Authorization" in named


def _coverage(operations: list[schemathesis.APIOperation], tally: Tally) -> None:
    """Each operation exercised: FLOOR requests at least, and a success where one can be had."""
    for operation in operations:
        label = operation.label
        floor = FLOOR if _takes_input(operation) else FLOOR_WITHOUT_INPUT
        if (n := tally.requests_of(label)) < floor:
            tally.failures.append(f"{label}: {n} requests, under the floor of {floor}")
        if label not in tally.succeeded_with_ids and label not in NO_SUCCESS:
            tally.failures.append(f"{label}: no 2xx in the rounds with real ids")
    chained = [
        label
        for (label, status), n in tally.statuses.items()
        if label.startswith("stateful ") and 200 <= status < 300
    ]
    if not chained:
        tally.failures.append("stateful: no scenario got a 2xx (no link was followed)")


def _takes_input(operation: schemathesis.APIOperation) -> bool:
    return bool(operation.body) or any(True for _ in operation.iter_parameters())


@pytest.mark.long
async def test_the_api_survives_fuzzing_of_every_operation(stack: Stack) -> None:
    async with api_client(stack.api_url, ADMIN_KEY) as admin:
        before = await _endpoint_ids(admin)
        profile = await _profile(admin)
        try:
            known = await _known(stack.api, stack.api_url, stack.new_session, stack.stripe_client)
            started = time.monotonic()
            # Schemathesis is synchronous; the API serves from this event loop, so it runs aside.
            tally = await in_own_thread(fuzz, stack.api_url, known, before)
        finally:
            # The default organisation's profile, which the tests after this one print.
            await _restore_profile(admin, profile)
            # An organisation keeps 20 endpoints at most: those made here go, so the tests
            # after this one (on a database of the same session) can make theirs.
            for endpoint_id in await _endpoint_ids(admin) - before:
                deleted = await admin.delete(f"/v1/webhook-endpoints/{endpoint_id}")
                assert deleted.status_code == 204, deleted.text
    print(
        f"\nfuzz: {tally.requests} requests in {time.monotonic() - started:.0f} s "
        f"({tally.stateful_seconds:.0f} s of them stateful), statuses by operation:\n"
        + tally.report()
    )
    assert not tally.failures, "\n\n".join(tally.failures)


# The profile's fields a PATCH takes (all but the logo, put back as its bytes).
PROFILE_FIELDS = set(OrganisationPatch.model_fields) - {"logo"}


async def _profile(admin: httpx.AsyncClient) -> dict[str, Any]:
    """The organisation's profile as PATCH takes it, the logo's bytes included (or null)."""
    read = await admin.get("/v1/organisation")
    assert read.status_code == 200, read.text
    profile = {k: v for k, v in read.json().items() if k in PROFILE_FIELDS}
    profile["logo"] = None
    if read.json()["logo"] is not None:
        logo = await admin.get("/v1/organisation/logo")
        data = base64.b64encode(logo.content).decode()
        profile["logo"] = {"content_type": logo.headers["content-type"], "data": data}
    return profile


async def _restore_profile(admin: httpx.AsyncClient, profile: dict[str, Any]) -> None:
    now = await _profile(admin)
    changed = {k: v for k, v in profile.items() if now[k] != v}
    restored = await admin.patch("/v1/organisation", json=changed)
    assert restored.status_code == 200, restored.text


async def _endpoint_ids(admin: httpx.AsyncClient) -> set[str]:
    listed = await admin.get("/v1/webhook-endpoints")
    assert listed.status_code == 200, listed.text
    return {endpoint["id"] for endpoint in listed.json()["items"]}


async def _known(
    api: httpx.AsyncClient,
    api_url: str,
    new_session: SessionFactory,
    stripe_client: stripe.StripeClient,
) -> dict[str, str]:
    """Things that exist: a webhook endpoint (nowhere to deliver to), a paid booking of the most
    places one may hold (a generated `count` of places to give back, which must leave one, then
    mostly fits) refunded in part (it has a credit note), a spare paid booking to cancel, their
    session, another with room for the booking to move to, and one of the endpoint's deliveries
    (the booking's events); a sold-out session
    and an entry of its waiting list; and a URL an endpoint may take."""
    async with api_client(api_url, ADMIN_KEY) as admin:
        created = await admin.post(
            "/v1/webhook-endpoints", json={"url": ENDPOINT_URL, "events": ["booking.created"]}
        )
        assert created.status_code == 201, created.text
        endpoint_id = created.json()["id"]
        # Room for ours, the spare and as many again: generated bookings of the session succeed.
        session_id = await new_session(capacity=2 * MAX_PLACES_PER_BOOKING + 1)
        booking = await paid_booking(api, stripe_client, session_id, MAX_PLACES_PER_BOOKING)
        spare = await paid_booking(api, stripe_client, session_id)
        move_session_id = await new_session(capacity=MAX_PLACES_PER_BOOKING)
        refunded = await admin.post(f"/v1/bookings/{booking['id']}/refunds", json={"amount": 100})
        assert refunded.status_code == 200, refunded.text
        # A logo, so that GET /v1/organisation/logo has one to serve.
        logo = {"content_type": "image/svg+xml", "data": base64.b64encode(LOGO).decode()}
        with_logo = await admin.patch("/v1/organisation", json={"logo": logo})
        assert with_logo.status_code == 200, with_logo.text
        # A sold-out session with someone on its waiting list.
        full_session_id = await new_session(capacity=1)
        await paid_booking(api, stripe_client, full_session_id)
        joined = await api.post(
            f"/v1/sessions/{full_session_id}/waiting-list",
            json={"quantity": 1, "customer": {"name": "Ada", "email": "ada@example.com"}},
        )
        assert joined.status_code == 201, joined.text
        listed = await admin.get(f"/v1/webhook-endpoints/{endpoint_id}/deliveries")
        assert listed.status_code == 200, listed.text
        deliveries = listed.json()["items"]
        assert deliveries, "the booking's booking.created made no delivery"
    return {
        "session_id": session_id,
        "booking_id": booking["id"],
        "spare_booking_id": spare["id"],
        "endpoint_id": endpoint_id,
        "delivery_id": deliveries[0]["id"],
        "full_session_id": full_session_id,
        "move_session_id": move_session_id,
        "entry_id": joined.json()["id"],
        "url": ENDPOINT_URL,
    }
