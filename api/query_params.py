"""A query parameter the OpenAPI document gives as one value may come once.

FastAPI keeps the last of `?q=a&q=b` and drops the others without a word; the caller meant
something the answer does not do, so it is refused (422 naming the parameter) instead.
"""

from collections import Counter
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError


async def single_query_values(request: Request) -> None:
    names = Counter(name for name, _ in request.query_params.multi_items())
    repeated = {name for name, count in names.items() if count > 1}
    if not repeated:
        return
    refused = sorted(repeated & _single_valued(request))
    if refused:
        raise RequestValidationError(
            [
                {"type": "value_error", "loc": ("query", name), "msg": "must be given once"}
                for name in refused
            ]
        )


def _single_valued(request: Request) -> set[str]:
    """The operation's query parameters whose documented schema is no array."""
    path = getattr(request.scope.get("route"), "path_format", None)
    operation = request.app.openapi()["paths"].get(path, {}).get(request.method.lower(), {})
    return {
        parameter["name"]
        for parameter in operation.get("parameters", [])
        if parameter["in"] == "query" and not _is_array(parameter.get("schema", {}))
    }


def _is_array(schema: dict[str, Any]) -> bool:
    """`list[X]`, or `list[X] | None` (an anyOf with null)."""
    return schema.get("type") == "array" or any(_is_array(s) for s in schema.get("anyOf", []))
