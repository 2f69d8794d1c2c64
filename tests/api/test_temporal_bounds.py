"""No API call waits without bound on Temporal, and Temporal gone is a 503, never a bare 500
(issue 9, cases 4 and 7): cancels answer 202 when the outcome is slow and the same outcome when
repeated; a start Temporal does not answer, or any call while it is down, is a 503."""

import time
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from temporalio.client import Client, WorkflowUpdateStage
from temporalio.service import RetryConfig
from temporalio.testing import WorkflowEnvironment

from api.main import create_app
from clients.booking_workflows import booking_id_for
from core.settings import Settings
from devstack.tools import temporal_cli
from messages.booking import PlacesCancellation, booking_workflow_id
from tests.api.conftest import ADMIN, VariantFactory, serving
from tests.conftest import CLIENT_KEY_ID, SessionFactory
from tests.helpers.api_bookings import booking_body, paid_booking, start_booking
from tests.helpers.api_bookings import wait_for_status as wait_for
from tests.helpers.stack import Stack
from tests.helpers.stripe_events import recorded, signed_event
from workflows.booking import BookingWorkflow


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 503


async def test_a_cancel_whose_outcome_is_slow_is_202_then_final(
    api: httpx.AsyncClient, api_variant: VariantFactory, new_session: SessionFactory
) -> None:
    session_id = await new_session(capacity=4)
    booking = await start_booking(api, session_id, 2)
    async with api_variant(cancel_wait_seconds=0) as impatient:
        accepted = await impatient.post(f"/v1/bookings/{booking['id']}/cancel")
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["id"] == booking["id"]
    assert accepted.json()["status"] in ("PENDING_PAYMENT", "CANCELLED")
    final = await wait_for(api, booking["id"], "CANCELLED")
    assert (await api.get(f"/v1/sessions/{session_id}")).json()["availability"]["held"] == 0
    again = await api.post(f"/v1/bookings/{booking['id']}/cancel", json={"reason": "again"})
    assert (again.status_code, again.json()) == (200, final)


async def test_a_repeated_cancel_of_a_refunded_booking_answers_the_same_outcome(
    stack: Stack,
) -> None:
    booking = await paid_booking(
        stack.api, stack.stripe_client, await stack.new_session(capacity=4), 1
    )
    first = await stack.api.post(f"/v1/bookings/{booking['id']}/cancel", json={"reason": "ill"})
    assert (first.status_code, first.json()["status"]) == (200, "REFUNDED")
    for _ in range(2):
        again = await stack.api.post(f"/v1/bookings/{booking['id']}/cancel")
        assert (again.status_code, again.json()) == (200, first.json())
    refunds = await stack.stripe_client.v1.refunds.list_async(
        {"payment_intent": booking["payment"]["payment_intent_id"]}
    )
    assert len(refunds.data) == 1


async def test_a_cancel_the_workflow_refuses_stays_409(stack: Stack) -> None:
    """Expired is not an outcome of a cancel: cancelling it is refused, every time."""
    session_id = await stack.new_session(capacity=4, hold_seconds=1)
    booking = await start_booking(stack.api, session_id)
    await wait_for(stack.api, booking["id"], "EXPIRED", within=20)
    for _ in range(2):
        response = await stack.api.post(f"/v1/bookings/{booking['id']}/cancel")
        assert response.status_code == 409, response.text
        assert response.json()["type"].endswith("not-cancellable")


async def test_a_booking_start_temporal_does_not_answer_is_503(
    api_variant: VariantFactory, new_session: SessionFactory, temporal: Client
) -> None:
    """No worker polls this task queue: the update-with-start would wait for ever."""
    key = str(uuid.uuid4())
    session_id = await new_session(capacity=4)
    changes = {"task_queue": f"nobody-{uuid.uuid4()}", "booking_start_wait_seconds": 1.0}
    async with api_variant(**changes) as api:
        started = time.monotonic()
        response = await api.post(
            "/v1/bookings", json=booking_body(session_id), headers={"Idempotency-Key": key}
        )
    assert_unavailable(response)
    assert time.monotonic() - started < 5
    await temporal.get_workflow_handle(
        booking_workflow_id(booking_id_for(str(CLIENT_KEY_ID), key))
    ).terminate()


@pytest.fixture
async def temporal_gone() -> AsyncIterator[Client]:
    """A client of a Temporal server that has since stopped (as while it restarts)."""
    env = await WorkflowEnvironment.start_local(dev_server_existing_path=str(temporal_cli()))
    target = env.client.service_client.config.target_host
    client = await Client.connect(target, retry_config=RetryConfig(max_retries=0))
    await env.shutdown()
    yield client


async def test_temporal_down_is_503_problem_json_on_every_route_that_needs_it(
    stack: Stack, api_variant: VariantFactory, temporal_gone: Client
) -> None:
    booking = await start_booking(stack.api, await stack.new_session(capacity=4))
    pi = {"id": booking["payment"]["payment_intent_id"], "metadata": {"booking_id": booking["id"]}}
    event, headers = signed_event("payment_intent.succeeded", pi, event_id=f"evt_{uuid.uuid4()}")
    async with api_variant(temporal_client=temporal_gone, workflow_accept_seconds=3) as down:
        assert_unavailable(
            await down.post("/v1/bookings", json=booking_body(booking["session_id"]))
        )
        assert_unavailable(await down.post(f"/v1/bookings/{booking['id']}/cancel"))
        refund = {"amount": 100}
        path = f"/v1/bookings/{booking['id']}"
        assert_unavailable(await down.post(f"{path}/refunds", json=refund, headers=ADMIN))
        assert_unavailable(await down.post(f"{path}/cancel-places", json={"count": 1}))
        assert_unavailable(await down.post("/v1/webhooks/stripe", content=event, headers=headers))
        assert_unavailable(await down.get("/readyz"))
        # What needs only the database still answers.
        assert (await down.get(f"/v1/bookings/{booking['id']}")).status_code == 200
    assert await recorded(stack.db, event.decode().split('"id": "')[1].split('"')[0]) is None
    assert (await stack.api.get(f"/v1/bookings/{booking['id']}")).json()[
        "status"
    ] == "PENDING_PAYMENT"


async def test_an_unexpected_error_is_a_500_problem_json(settings: Settings, temporal: Client):
    app = create_app(settings, temporal)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("a bug")

    async with serving(app) as url, httpx.AsyncClient(base_url=url) as client:
        response = await client.get("/boom")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("internal-error")
    assert "a bug" not in response.text  # no internals leak out


def assert_workflow_ended(response: httpx.Response) -> None:
    assert response.status_code == 409, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"].endswith("workflow-ended"), problem
    assert "operator" in problem["title"]


async def test_a_change_to_a_terminated_workflow_is_a_clear_409_never_a_500(stack: Stack) -> None:
    """The workflow ended for a reason that is no business rule: refund, places and cancel each
    answer 409 workflow-ended, not "a CONFIRMED booking cannot be changed"."""
    booking = await paid_booking(
        stack.api, stack.stripe_client, await stack.new_session(capacity=4), 3
    )
    handle = stack.temporal.get_workflow_handle(booking_workflow_id(booking["id"]))
    await handle.terminate("operator")
    path = f"/v1/bookings/{booking['id']}"
    assert_workflow_ended(
        await stack.api.post(f"{path}/refunds", json={"amount": 100}, headers=ADMIN)
    )
    assert_workflow_ended(await stack.api.post(f"{path}/cancel-places", json={"count": 1}))
    ended = await stack.api.post(f"{path}/cancel")
    assert_workflow_ended(ended)
    assert "terminated" in ended.json()["detail"]


async def test_an_update_in_flight_when_its_workflow_is_terminated_is_a_409(stack: Stack) -> None:
    """Accepted, then its workflow terminated before it finished: asking again (the same
    Idempotency-Key) reads the update's failure, which is no business error."""
    booking = await paid_booking(
        stack.api, stack.stripe_client, await stack.new_session(capacity=4), 3
    )
    handle = stack.temporal.get_workflow_handle(booking_workflow_id(booking["id"]))
    key = str(uuid.uuid4())
    await handle.start_update(
        BookingWorkflow.cancel_places,
        PlacesCancellation(count=1),
        id=f"places-{booking_id_for(str(CLIENT_KEY_ID), key)}",
        wait_for_stage=WorkflowUpdateStage.ACCEPTED,
    )
    await handle.terminate("operator")
    response = await stack.api.post(
        f"/v1/bookings/{booking['id']}/cancel-places",
        json={"count": 1},
        headers={"Idempotency-Key": key},
    )
    assert_workflow_ended(response)
