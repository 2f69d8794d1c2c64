"""Data for people, as the operators' command line prints it."""

from datetime import UTC, datetime


def when(value: datetime | None) -> str:
    """A moment for people: UTC, to the second."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if value else ""
