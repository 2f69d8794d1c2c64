"""Certificate verification codes name their certificate under any listed key and nothing
else: altered, truncated, unsigned or ticket codes are refused."""

import uuid

import pytest

from core.certificates import certificate_code, certificate_id
from core.signed_codes import InvalidCode
from core.tickets import Ticket, sign

KEYS = ["current key", "older key"]
ID = uuid.UUID("6f1c2a9e-6a8e-4c35-9d2b-5b0e4d1f7a10")


def test_a_code_names_its_certificate_under_any_listed_key() -> None:
    code = certificate_code(ID, KEYS)
    assert len(code) == 44
    assert certificate_id(code, KEYS) == ID
    assert certificate_id(certificate_code(ID, KEYS[1:]), KEYS) == ID  # signed before a rotation


@pytest.mark.parametrize(
    "alter",
    [
        lambda c: c[:-1] + ("A" if c[-1] != "A" else "B"),  # the MAC
        lambda c: c[:5] + ("x" if c[5] != "x" else "y") + c[6:],  # the certificate's id
        lambda c: c[:-1],  # truncated
        lambda c: c + "A",  # too long
        lambda c: "not a code",
    ],
    ids=["mac", "id", "truncated", "longer", "garbage"],
)
def test_an_altered_code_is_refused(alter: object) -> None:
    with pytest.raises(InvalidCode):
        certificate_id(alter(certificate_code(ID, KEYS)), KEYS)  # type: ignore[operator]


def test_an_unknown_key_and_a_ticket_code_are_refused() -> None:
    with pytest.raises(InvalidCode):
        certificate_id(certificate_code(ID, ["someone else's key"]), KEYS)
    ticket = sign(Ticket(ID, ID, ID, 0), KEYS)
    with pytest.raises(InvalidCode):
        certificate_id(ticket, KEYS)
