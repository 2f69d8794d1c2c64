"""The redelivery's answer is what the OpenAPI document says it is."""

import httpx

from tests.api.webhooks_out.conftest import Register
from tests.fakes.webhook_receiver import WebhookReceiver

PATH = "/v1/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}/redeliver"


async def test_redeliver_answers_the_documented_202(
    admin: httpx.AsyncClient, register: Register, receiver: WebhookReceiver
) -> None:
    endpoint = await register("shop")
    ping = (await admin.post(f"/v1/webhook-endpoints/{endpoint['id']}/ping")).json()

    answer = await admin.post(PATH.format(endpoint_id=endpoint["id"], delivery_id=ping["id"]))

    documented = (await admin.get("/openapi.json")).json()["paths"][PATH]["post"]["responses"]
    assert answer.status_code == 202, answer.text
    media_types = documented["202"].get("content", {})
    if media_types:
        assert answer.headers.get("content-type") in media_types, (answer.headers, media_types)
    else:
        assert "content-type" not in answer.headers
        assert answer.content == b""
