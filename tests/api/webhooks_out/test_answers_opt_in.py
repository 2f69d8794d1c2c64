"""A booking's answers and consents are personal data: only an endpoint that opted in gets them
in its events (and in its deliveries' listing); the others get the booking without them."""

import httpx

from tests.api.conftest import ADMIN
from tests.api.webhooks_out.conftest import Register
from tests.api.webhooks_out.helpers import accepted_about, deliveries, wait_for
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.helpers.api_bookings import booking_body
from tests.helpers.stack import Stack

ANSWER = "Bring a packed lunch for the instructor"
QUESTIONS = {
    "questions": [{"key": "notes", "label": "Notes", "type": "text"}],
    "consents": [{"key": "terms", "title": "Terms", "text": "The course terms."}],
}


async def test_only_an_endpoint_that_opted_in_gets_the_answers(
    stack: Stack, admin: httpx.AsyncClient, register: Register, receiver: WebhookReceiver
) -> None:
    plain = await register("plain", events=["booking.created"])
    opted = await register("opted", events=["booking.created"])
    assert plain["include_answers"] is False  # off unless asked for
    changed = await admin.patch(
        f"/v1/webhook-endpoints/{opted['id']}", json={"include_answers": True}
    )
    assert changed.json()["include_answers"] is True
    session_id = await stack.new_session()
    put = await stack.api.put(f"/v1/sessions/{session_id}/questions", json=QUESTIONS, headers=ADMIN)
    assert put.status_code == 200, put.text
    sent = booking_body(
        session_id,
        answers=[{"question": "notes", "value": ANSWER}],
        consents=[{"consent": "terms", "version": 1}],
    )
    created = await stack.api.post("/v1/bookings", json=sent)
    assert created.status_code == 201, created.text
    booking_id = created.json()["id"]

    [to_opted] = await wait_for(accepted_about(receiver, "opted", booking_id), 1)
    [to_plain] = await wait_for(accepted_about(receiver, "plain", booking_id), 1)
    shown = to_opted.body["data"]["booking"]
    assert [a["value"] for a in shown["answers"]] == [ANSWER]
    assert [c["consent"] for c in shown["consents"]] == ["terms"]
    assert "answers" not in to_plain.body["data"]["booking"]
    assert "consents" not in to_plain.body["data"]["booking"]
    assert ANSWER not in str(to_plain.body)
    listed = [d["payload"] for d in await deliveries(admin, plain["id"])]
    assert listed and ANSWER not in str(listed)
