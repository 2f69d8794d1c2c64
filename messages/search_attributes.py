"""Custom search attributes: how operators find a booking in the Temporal Web UI."""

from temporalio.common import SearchAttributeKey

BOOKING_STATUS = SearchAttributeKey.for_keyword("BookingStatus")
BOOKING_REFERENCE = SearchAttributeKey.for_keyword("BookingReference")
SESSION_ID = SearchAttributeKey.for_keyword("SessionId")
# A keyed hash of the customer's email (core/customer_hash.py): visibility holds nothing personal.
CUSTOMER_HASH = SearchAttributeKey.for_keyword("CustomerHash")
HOLD_EXPIRES_AT = SearchAttributeKey.for_datetime("HoldExpiresAt")
# The organisation whose session is booked (an id, nothing personal).
ORGANISATION_ID = SearchAttributeKey.for_keyword("OrganisationId")

ALL = (
    BOOKING_STATUS,
    BOOKING_REFERENCE,
    SESSION_ID,
    CUSTOMER_HASH,
    HOLD_EXPIRES_AT,
    ORGANISATION_ID,
)


def cli_types() -> dict[str, str]:
    """Name -> type as the `temporal` CLI and the dev server spell it (Keyword, Datetime)."""
    kinds = {"KEYWORD": "Keyword", "DATETIME": "Datetime"}
    return {key.name: kinds[key.indexed_value_type.name] for key in ALL}


def dev_server_flags() -> list[str]:
    """`--search-attribute Name=Type` pairs for `temporal server start-dev`."""
    return [
        flag
        for name, kind in cli_types().items()
        for flag in ("--search-attribute", f"{name}={kind}")
    ]
