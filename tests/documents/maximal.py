"""Text at the API's largest accepted sizes, in mixed scripts: Latin with combining marks,
Cyrillic, Chinese, Arabic (right to left) and emoji. Each piece of text starts with a plain
marker that text extraction must give back."""

from messages.booking import MAX_PLACES_PER_BOOKING

NAME_CHARS = 200  # names, titles and locations (schemas/fields.py Text)
REASON_CHARS = 500  # cancel and refund reasons
REQUIREMENTS_CHARS = 1000  # an attendee's special requirements
MIXED = "Zoe\u0308 Ærøskøbing e\u0301 李小龙 Ольга محمد علي 🎉 "
# 64 + 1 + 189: the longest address email-validator accepts (254 characters).
LONGEST_EMAIL = "a" * 64 + "@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 57 + ".com"
ATTENDEES = MAX_PLACES_PER_BOOKING


def marker(label: str, n: int = 0) -> str:
    return f"{label}{n:02d}"


def text(label: str, n: int = 0, length: int = NAME_CHARS) -> str:
    """Exactly `length` characters, `marker(label, n)` first, ending on no space."""
    filled = (marker(label, n) + " " + MIXED * (length // len(MIXED) + 1))[:length]
    return filled[:-1] + "x" if filled.endswith(" ") else filled


def attendee_names() -> list[str]:
    return [text("Attendee", n) for n in range(ATTENDEES)]
