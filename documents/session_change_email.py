"""What a session's change says to its customers: one line per field that changed, before and
after, times as the clocks read where the session happens."""

from datetime import datetime

from documents.receipt_data import format_moment

_LABELS = {"title": "Title", "location": "Place", "starts_at": "Starts", "ends_at": "Ends"}


def change_lines(changes: dict[str, list[str]], time_zone: str, locale: str) -> str:
    """`changes` (field -> [before, after], as `SessionChange.changes` keeps them) as lines:
    "Starts: Mon 1 Mar 2031, 09:00 GMT → Tue 2 Mar 2031, 10:00 GMT"."""

    def shown(name: str, value: str) -> str:
        if name in ("starts_at", "ends_at"):
            return format_moment(datetime.fromisoformat(value), time_zone, locale)
        return value

    return "\n".join(
        f"{label}: {shown(name, changes[name][0])} → {shown(name, changes[name][1])}"
        for name, label in _LABELS.items()
        if name in changes
    )
