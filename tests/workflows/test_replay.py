"""Determinism guard: committed histories of real runs replay against today's workflow code.

The histories are the release baseline's (workflows/options.py says how a later change keeps
them replaying). They replay under a rotated key set (a newer key current, the recording key
kept for decryption), hold no payload in clear, and carry CustomerHash, never CustomerEmail.
"""

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.codec import ENCODING, encrypting_converter
from tests.conftest import TEST_PAYLOAD_KEYS
from tests.histories import HISTORIES, replays
from workflows.booking import BookingWorkflow

RECORDED = sorted(HISTORIES.glob("*.json"))
ROTATED = encrypting_converter(
    {**TEST_PAYLOAD_KEYS, "test-2027": "dGVzdC1vbmx5IHJvdGF0ZWQga2V5IGZvciAyMDI3ISE="}, "test-2027"
)


def test_histories_are_committed() -> None:
    assert len(RECORDED) >= 7, "run `RECORD_HISTORIES=1 make test` and commit the files"


@pytest.mark.parametrize("path", RECORDED, ids=[p.stem for p in RECORDED])
async def test_history_replays(path: Path) -> None:
    await replays(BookingWorkflow, f"booking-{path.stem}", path, ROTATED)


@pytest.mark.parametrize("path", RECORDED, ids=[p.stem for p in RECORDED])
def test_histories_hold_no_payload_in_clear(path: Path) -> None:
    payloads = list(_payloads(json.loads(path.read_text())))
    assert payloads, "a booking's history carries payloads"
    encodings = {base64.b64decode(p["metadata"]["encoding"]) for p in payloads}
    assert encodings == {ENCODING}


@pytest.mark.parametrize("path", RECORDED, ids=[p.stem for p in RECORDED])
def test_histories_hold_no_email_in_visibility(path: Path) -> None:
    """Search attributes are not encrypted: the customer is only a keyed hash there."""
    fields = list(_search_attribute_names(json.loads(path.read_text())))
    assert "CustomerEmail" not in fields
    assert "CustomerHash" in fields


def _search_attribute_names(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "searchAttributes" and isinstance(value, dict):
                yield from value.get("indexedFields", {})
            else:
                yield from _search_attribute_names(value)
    elif isinstance(node, list):
        for value in node:
            yield from _search_attribute_names(value)


# Not payloads of ours: visibility (never encoded by a codec, so it holds nothing personal) and
# the SDK's own bookkeeping in markers' details (local activities' sequence numbers, patch ids).
_NOT_CODEC_COVERED = {"searchAttributes", "data", "patch-data"}


def _payloads(node: Any) -> Iterator[dict[str, Any]]:
    """Every payload the codec covers (a dict with metadata.encoding) in a history's JSON."""
    if isinstance(node, dict):
        if isinstance(node.get("metadata"), dict) and "encoding" in node["metadata"]:
            yield node
            return
        for key, value in node.items():
            if key not in _NOT_CODEC_COVERED:
                yield from _payloads(value)
    elif isinstance(node, list):
        for value in node:
            yield from _payloads(value)
