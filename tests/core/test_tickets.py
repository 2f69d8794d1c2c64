"""Ticket codes: signed, compact, URL-safe; forged, truncated, altered or foreign-key codes refused,
and a rotated key still verifying the tickets it signed."""

import re
import uuid

import pytest
from pydantic import ValidationError

from core.settings import DEV_TICKET_SIGNING_KEY, Settings
from core.tickets import InvalidTicket, Ticket, sign, verify
from tests.helpers.production import PRODUCTION

KEY, OLD_KEY, OTHER_KEY = "a ticket key", "an older ticket key", "someone else's key"
# Fixed ids: the codes below are test parameters, which every pytest-xdist worker must collect
# alike.
TICKET = Ticket(uuid.UUID(int=0x0A), uuid.UUID(int=0x5E), uuid.UUID(int=0xB0), 3)


def test_a_code_is_url_safe_and_names_its_ticket() -> None:
    code = sign(TICKET, [KEY])
    assert re.fullmatch(r"[A-Za-z0-9_-]{90}", code)
    assert verify(code, [KEY]) == TICKET
    assert verify(f" {code}\n", [KEY]) == TICKET  # a scanner's trailing newline
    assert (
        sign(Ticket(TICKET.organisation_id, TICKET.session_id, TICKET.booking_id, 4), [KEY]) != code
    )


def test_a_rotated_key_still_verifies_and_the_first_key_signs() -> None:
    old_code = sign(TICKET, [OLD_KEY])
    assert verify(old_code, [KEY, OLD_KEY]) == TICKET
    assert sign(TICKET, [KEY, OLD_KEY]) == sign(TICKET, [KEY]) != old_code
    with pytest.raises(InvalidTicket):
        verify(old_code, [KEY])  # the old key dropped: its tickets no longer verify


@pytest.mark.parametrize(
    "code",
    [
        "",
        "RFT-2026-0001",  # the booking reference, which anyone can guess
        sign(TICKET, [KEY])[:-1],  # truncated
        sign(TICKET, [KEY])[:60],
        sign(TICKET, [KEY]) + "A",
        sign(TICKET, [OTHER_KEY]),  # signed, but not by us
        "+" + sign(TICKET, [KEY])[1:],  # not the URL-safe alphabet
        "A" * 90,  # forged: the right shape, no signature
    ],
)
def test_codes_not_signed_by_a_key_are_refused(code: str) -> None:
    with pytest.raises(InvalidTicket):
        verify(code, [KEY])


def test_every_altered_character_is_refused() -> None:
    """Altering any field (organisation, session, booking, index), the version or the
    signature, one character at a time, breaks the code; so do the last character's spare bits."""
    code = sign(TICKET, [KEY])
    for position, char in enumerate(code):
        altered = code[:position] + ("B" if char == "A" else "A") + code[position + 1 :]
        with pytest.raises(InvalidTicket):
            verify(altered, [KEY])


def test_an_index_out_of_range_or_no_key_cannot_sign() -> None:
    with pytest.raises(ValueError, match="out of range"):
        sign(Ticket(TICKET.organisation_id, TICKET.session_id, TICKET.booking_id, -1), [KEY])
    with pytest.raises(ValueError, match="no ticket signing key"):
        sign(TICKET, [])


def test_production_refuses_the_dev_ticket_key() -> None:
    assert Settings(**PRODUCTION).ticket_signing_keys == PRODUCTION["ticket_signing_keys"]
    with pytest.raises(ValidationError, match="dev secrets"):
        Settings(**{**PRODUCTION, "ticket_signing_keys": ["live", DEV_TICKET_SIGNING_KEY]})
    with pytest.raises(ValidationError):
        Settings(**{**PRODUCTION, "ticket_signing_keys": []})
