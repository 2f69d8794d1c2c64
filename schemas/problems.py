"""The error body of every answer, RFC 9457 problem+json."""

from typing import Any

from pydantic import BaseModel, ConfigDict


class Problem(BaseModel):
    """An error, as RFC 9457 problem+json."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    errors: list[dict[str, Any]] | None = None
