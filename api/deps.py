"""Dependencies injected into routes: settings, database sessions, the Temporal client, callers,
and the check every path and query parameter passes."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client

from api.schemas import storable
from core.settings import Settings
from models.enums import Role

_bearer = HTTPBearer(auto_error=False)


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def get_temporal(request: Request) -> Client:
    return request.app.state.temporal  # type: ignore[no-any-return]


async def get_db(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.sessionmaker() as db:
        yield db


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
TemporalDep = Annotated[Client, Depends(get_temporal)]
DbDep = Annotated[AsyncSession, Depends(get_db)]


def storable_parameters(request: Request) -> None:
    """Path and query strings obey the rule body strings obey (`api.schemas.String`)."""
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


@dataclass(frozen=True)
class Caller:
    api_key: str
    role: Role


def current_caller(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    if credentials is None:
        raise HTTPException(401, "an API key is required", {"WWW-Authenticate": "Bearer"})
    role = settings.api_keys.get(credentials.credentials)
    if role is None:
        raise HTTPException(401, "the API key is not known", {"WWW-Authenticate": "Bearer"})
    return Caller(credentials.credentials, role)


def require_admin(caller: Annotated[Caller, Depends(current_caller)]) -> Caller:
    if caller.role != Role.ADMIN:
        raise HTTPException(403, "this needs an admin API key")
    return caller


ClientCaller = Annotated[Caller, Depends(current_caller)]
AdminCaller = Annotated[Caller, Depends(require_admin)]
