"""Dependencies injected into routes: settings, database sessions, the Temporal client, callers."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client

from core.settings import Settings

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


@dataclass(frozen=True)
class Caller:
    api_key: str
    role: Literal["client", "admin"]


def _caller(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    if credentials is None:
        raise HTTPException(401, "an API key is required", {"WWW-Authenticate": "Bearer"})
    role = settings.api_keys.get(credentials.credentials)
    if role is None:
        raise HTTPException(401, "the API key is not known", {"WWW-Authenticate": "Bearer"})
    return Caller(credentials.credentials, role)


def require_admin(caller: Annotated[Caller, Depends(_caller)]) -> Caller:
    if caller.role != "admin":
        raise HTTPException(403, "this needs an admin API key")
    return caller


ClientCaller = Annotated[Caller, Depends(_caller)]
AdminCaller = Annotated[Caller, Depends(require_admin)]
