"""Personal data never lies in clear in Temporal: history at rest is ciphertext (as the Temporal
CLI shows it), an operator reads it through the codec server, and visibility (search attributes,
the static summary) holds nothing personal, only a keyed hash to find a customer's bookings."""

import asyncio
import base64
import json
import re
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
from temporalio.client import Client

from core.codec import ENCODING
from core.customer_hash import customer_hash
from devstack.tools import temporal_cli
from messages import search_attributes as sa
from messages.booking import booking_workflow_id
from tests.helpers.api_bookings import booking_body
from tests.helpers.polling import eventually
from tests.helpers.stack import Stack


async def book_as(
    api: httpx.AsyncClient, session_id: str, name: str, email: str, places: int = 1
) -> str:
    body = booking_body(session_id, places, customer={"name": name, "email": email})
    created = await api.post("/v1/bookings", json=body)
    assert created.status_code == 201, created.text
    return booking_workflow_id(created.json()["id"])


def a_customer() -> tuple[str, str]:
    tag = uuid.uuid4().hex[:8]
    return f"Philippa Quennell {tag}", f"philippa.{tag}@example.org"


async def temporal_cli_json(*args: str) -> dict[str, Any]:
    """Run the CLI aside: with a codec endpoint it calls this process's API, which must answer."""
    process = await asyncio.create_subprocess_exec(
        str(temporal_cli()),
        *args,
        "-o",
        "json",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    return json.loads(out)  # type: ignore[no-any-return]


# Not payloads of ours: visibility (never encoded by a codec; the other test checks it) and the
# SDK's own bookkeeping in markers' details (local activities' sequence numbers, patch ids).
NOT_CODEC_COVERED = frozenset({"searchAttributes", "data", "patch-data"})


def payloads(node: Any, skip: frozenset[str] = frozenset()) -> Iterator[dict[str, Any]]:
    """Every payload (protobuf JSON: metadata.encoding and data) in the CLI's output, but for
    those under a key in `skip`."""
    if isinstance(node, dict):
        if isinstance(node.get("metadata"), dict) and "encoding" in node["metadata"]:
            yield node
            return
        for key, value in node.items():
            if key not in skip:
                yield from payloads(value, skip)
    elif isinstance(node, list):
        for value in node:
            yield from payloads(value, skip)


def plain_bytes(output: dict[str, Any]) -> bytes:
    """The CLI's output as text, and every payload's data base64-decoded."""
    decoded = [base64.b64decode(p.get("data", "")) for p in payloads(output)]
    return json.dumps(output).encode() + b"\n".join(decoded)


async def test_history_at_rest_is_ciphertext_and_the_codec_server_reads_it(stack: Stack) -> None:
    name, email = a_customer()
    workflow_id = await book_as(stack.api, await stack.new_session(), name, email)
    show = ("workflow", "show", "--address", stack.settings.temporal_address, "-w", workflow_id)

    at_rest = await temporal_cli_json(*show)
    assert at_rest["events"], "the CLI shows the booking's history"
    seen = plain_bytes(at_rest)
    for personal in (name, email, name.split()[-1], email.split("@")[0]):
        assert personal.encode() not in seen, personal
    ours = list(payloads(at_rest, skip=NOT_CODEC_COVERED))
    assert ours, "the history carries payloads"
    assert {base64.b64decode(p["metadata"]["encoding"]) for p in ours} == {ENCODING}

    decoded = await temporal_cli_json(*show, "--codec-endpoint", f"{stack.api_url}/codec")
    assert name.encode() in plain_bytes(decoded)
    assert email.encode() in plain_bytes(decoded)


async def test_visibility_holds_a_keyed_hash_and_a_summary_never_the_customer(stack: Stack) -> None:
    name, email = a_customer()
    session_id = await stack.new_session(price_amount=7500)
    workflow_id = await book_as(stack.api, session_id, name, email.upper(), places=2)
    description = await stack.temporal.get_workflow_handle(workflow_id).describe()

    attributes = {pair.key.name: pair.value for pair in description.typed_search_attributes}
    expected_hash = customer_hash(email, stack.settings.customer_hash_key)
    assert attributes[sa.CUSTOMER_HASH.name] == expected_hash
    assert re.fullmatch(r"[0-9a-f]{64}", expected_hash)
    assert "CustomerEmail" not in attributes
    everything = json.dumps([str(value) for value in attributes.values()]).casefold()
    for personal in (name, email, name.split()[-1], email.split("@")[0]):
        assert personal.casefold() not in everything, personal

    starts_at = datetime.fromisoformat(
        (await stack.api.get(f"/v1/sessions/{session_id}")).json()["starts_at"]
    )
    summary = await description.static_summary()
    assert summary == (
        f"2 \N{MULTIPLICATION SIGN} Emergency First Aid at Work · London · "
        f"{starts_at:%Y-%m-%d %H:%M} UTC · £150.00"
    )
    for personal in (name, email, name.split()[-1], email.split("@")[0]):
        assert personal.casefold() not in summary.casefold()

    assert await _listed(stack.temporal, f'{sa.CUSTOMER_HASH.name} = "{expected_hash}"') == [
        workflow_id
    ]


async def _listed(temporal: Client, query: str, within: float = 10) -> list[str]:
    """The workflow ids a visibility query finds, once it finds any (visibility lags a little)."""

    async def found() -> list[str]:
        return [execution.id async for execution in temporal.list_workflows(query)]

    return await eventually(found, within=within, every=0.2, what=f"a workflow for {query}")
