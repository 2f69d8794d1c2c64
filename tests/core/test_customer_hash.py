"""The customer's key in visibility: one value per address however it is typed, and only with
the key."""

import hashlib
import hmac

from core.customer_hash import customer_hash, normalise_email


def test_one_address_however_it_is_typed_has_one_hash() -> None:
    assert normalise_email("  Ada.Lovelace@Example.COM \n") == "ada.lovelace@example.com"
    assert customer_hash(" ADA@example.com", "k") == customer_hash("ada@EXAMPLE.com ", "k")
    assert customer_hash("ada@example.com", "k") != customer_hash("grace@example.com", "k")


def test_it_is_an_hmac_under_the_key_never_the_email() -> None:
    value = customer_hash("ada@example.com", "secret")
    expected = hmac.new(b"secret", b"ada@example.com", hashlib.sha256).hexdigest()
    assert value == expected
    assert len(value) == 64 and "ada" not in value
    assert customer_hash("ada@example.com", "another key") != value
    assert value != hashlib.sha256(b"ada@example.com").hexdigest()  # not guessable without it


def test_addresses_postgresql_and_python_fold_differently_have_one_form() -> None:
    spellings = [
        ("straße@example.com", "STRASSE@example.com", "strasse@example.com"),
        ("İnci@example.com", "i̇nci@EXAMPLE.com", "i̇nci@example.com"),
        ("ﬁle@example.com", "FILE@example.com", "file@example.com"),
        (
            "  Mixed.Case@Example.COM ",
            "\u00a0mixed.case@example.com\u2003",
            "mixed.case@example.com",
        ),
    ]
    for typed, other, normalised in spellings:
        assert normalise_email(typed) == normalise_email(other) == normalised
        assert normalise_email(normalised) == normalised  # a fixed point: stored, then compared
        assert customer_hash(typed, "k") == customer_hash(other, "k")
