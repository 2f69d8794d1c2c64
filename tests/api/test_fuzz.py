"""Fuzzing the live API from its OpenAPI document (issue 9, case 7), with schemathesis.

Every operation, with the client and the admin key, with data that fits the schema and data
that does not: no 5xx, every request answered, every status documented, every body (problem+json
included) matching its schema. FUZZ_EXAMPLES=200 makes it larger (default 20 per operation, key
and round); FUZZ_RANDOM=1 draws new examples instead of the same ones every run.
"""

import asyncio
import os
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import hypothesis
import requests
import schemathesis
import stripe
from hypothesis import HealthCheck, Phase
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.helpers import paid_booking
from tests.conftest import ADMIN_KEY, CLIENT_KEY, SessionFactory

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "20"))
# Not `negative_data_rejection`: the API ignores query parameters it does not know, as most do.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@dataclass
class Tally:
    requests: int = 0
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

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
) -> None:
    """Up to EXAMPLES cases; `known` ids replace generated ones in the path and the body."""
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
        case.call_and_validate(
            base_url=api_url,
            session=session,
            headers={"Authorization": f"Bearer {key}"},
            checks=CHECKS,
            timeout=30,  # an answer, or a failure: no request may hang
        )

    run()


def rounds(known: dict[str, str]) -> Iterator[tuple[GenerationMode, dict[str, str]]]:
    """Generated data of both kinds; then data that fits the schema, naming a session and a
    booking that exist (a paid booking, its session) wherever the path or body names one."""
    yield GenerationMode.POSITIVE, {}
    yield GenerationMode.NEGATIVE, {}
    if known:
        yield GenerationMode.POSITIVE, known


def fuzz(api_url: str, known: dict[str, str]) -> Tally:
    tally = Tally()
    schema = schemathesis.openapi.from_url(f"{api_url}/openapi.json")
    session = requests.Session()

    def count(response: requests.Response, *args: object, **kwargs: object) -> None:
        tally.requests += 1
        tally.statuses[(operation.label, response.status_code)] += 1

    session.hooks["response"].append(count)
    operations = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            tally.failures.append(f"the OpenAPI document: {result.err()}")
        else:
            operations.append(result.ok())
    # Cancelling the known session and booking last leaves them open for the other operations.
    for operation in sorted(operations, key=lambda op: op.path.endswith("/cancel")):
        for key in (CLIENT_KEY, ADMIN_KEY):
            for mode, ids in rounds(known if operation.body or "_id}" in operation.path else {}):
                try:
                    examine(operation, mode, api_url, session, key, ids)
                except hypothesis.errors.Unsatisfiable:
                    assert mode.is_negative  # nothing to get wrong: no parameter, no body
                except (Exception, BaseExceptionGroup) as err:  # one failure hides no other
                    label = f"{operation.label} [{mode.value}, {key}, {ids}]"
                    tally.failures.append(f"{label}: {err}")
    return tally


async def test_the_api_survives_fuzzing_of_every_operation(
    api: httpx.AsyncClient,
    api_url: str,
    new_session: SessionFactory,
    stripe_client: stripe.StripeClient,
) -> None:
    session_id = await new_session(capacity=50)
    booking = await paid_booking(api, stripe_client, session_id)
    known = {"session_id": session_id, "booking_id": booking["id"]}
    started = time.monotonic()
    # Schemathesis is synchronous; the API serves from this event loop, so it runs aside.
    tally = await asyncio.to_thread(fuzz, api_url, known)
    print(
        f"\nfuzz: {tally.requests} requests in {time.monotonic() - started:.0f} s, "
        "statuses by operation:\n" + tally.report()
    )
    assert tally.requests > 0
    assert not tally.failures, "\n\n".join(tally.failures)
