"""Dependencies injected into routes: settings, database sessions, the Temporal client, callers,
and the check every path and query parameter passes.

Those that never wait are `async def` all the same: FastAPI runs a plain `def` dependency in a
thread of its pool, a hand-over per dependency per request (issue 13).
"""

import hmac
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client

from api.rate_limit import KeyRateLimiter, RateLimited
from core.enums import Role
from core.settings import Settings
from schemas.fields import storable
from store.api_keys import Caller, check_key

_bearer = HTTPBearer(auto_error=False)


async def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


async def get_temporal(request: Request) -> Client:
    return request.app.state.temporal  # type: ignore[no-any-return]


async def get_db(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.sessionmaker() as db:
        yield db


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
TemporalDep = Annotated[Client, Depends(get_temporal)]
DbDep = Annotated[AsyncSession, Depends(get_db)]


async def storable_parameters(request: Request) -> None:
    """Path and query strings obey the rule body strings obey (`schemas.fields.String`)."""
    places = [
        ("path", list(request.path_params.items())),
        ("query", request.query_params.multi_items()),
    ]
    errors = []
    for where, parameters in places:
        for name, value in parameters:
            try:
                storable(name)
                storable(value)
            except ValueError as err:
                errors.append({"type": "value_error", "loc": (where, name), "msg": str(err)})
    if errors:
        raise RequestValidationError(errors)


def _unauthenticated(detail: str) -> HTTPException:
    return HTTPException(401, detail, {"WWW-Authenticate": "Bearer"})


async def current_caller(
    request: Request,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    db: DbDep,
) -> Caller:
    """The organisation's key in `Authorization: Bearer`: known, not revoked, within its rate
    limit. Read in the request's own database session (one connection per request)."""
    if credentials is None:
        raise _unauthenticated("an API key is required")
    found = await check_key(db, credentials.credentials, settings.api_key_pepper)
    if found.revoked:
        raise _unauthenticated("the API key was revoked")
    if found.caller is None:
        raise _unauthenticated("the API key is not known")
    limiter: KeyRateLimiter = request.app.state.rate_limiter
    try:
        await limiter.hit(str(found.caller.key_id), found.caller.rate_limit_per_minute)
    except RateLimited as limited:
        raise HTTPException(
            429,
            "too many requests for this API key",
            {"Retry-After": str(limited.retry_after)},
        ) from None
    return found.caller


async def require_admin(caller: Annotated[Caller, Depends(current_caller)]) -> Caller:
    if caller.role != Role.ADMIN:
        raise HTTPException(403, "this needs an admin API key")
    return caller


async def require_client(caller: Annotated[Caller, Depends(current_caller)]) -> Caller:
    """A client or admin key: a door key checks in and reads the door list, nothing else."""
    if caller.role == Role.DOOR:
        raise HTTPException(403, "a door API key may only check attendees in and list them")
    return caller


async def require_door(caller: Annotated[Caller, Depends(current_caller)]) -> Caller:
    """A door or admin key: who may check attendees in and read a session's door list."""
    if caller.role not in (Role.DOOR, Role.ADMIN):
        raise HTTPException(403, "this needs a door or admin API key")
    return caller


ClientCaller = Annotated[Caller, Depends(require_client)]
AdminCaller = Annotated[Caller, Depends(require_admin)]
DoorCaller = Annotated[Caller, Depends(require_door)]


def current_operator(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """A platform operator: the `operator_token` setting as `Authorization: Bearer`, compared
    in constant time; never an organisation's API key. No token configured: nobody is one."""
    if not settings.operator_token:
        raise HTTPException(403, "no operator token is configured")
    given = credentials.credentials if credentials else ""
    if not hmac.compare_digest(given.encode(), settings.operator_token.encode()):
        raise _unauthenticated("an operator token is required")


OperatorCaller = Annotated[None, Depends(current_operator)]
