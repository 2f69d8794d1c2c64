"""A pydantic refusal as the one line `booking-ops` prints: each field with what is wrong."""

from pydantic import ValidationError


def problems(err: ValidationError, whole: str) -> str:
    """`field: message; ...`, the whole input named `whole` where no field is."""
    return "; ".join(
        f"{'.'.join(map(str, e['loc'])) or whole}: {e['msg'].removeprefix('Value error, ')}"
        for e in err.errors()
    )
