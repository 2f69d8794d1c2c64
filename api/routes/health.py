"""Liveness, readiness and Prometheus metrics."""

import asyncio

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from api.deps import DbDep, TemporalDep
from api.problems import problem

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", response_model=None)
async def readyz(db: DbDep, temporal: TemporalDep) -> dict[str, str] | Response:
    checks: dict[str, str] = {}
    try:
        await asyncio.wait_for(db.execute(text("SELECT 1")), timeout=2)
        checks["database"] = "ok"
    except Exception as err:  # any failure means not ready; say which
        checks["database"] = f"unavailable: {type(err).__name__}"
    try:
        await asyncio.wait_for(temporal.service_client.check_health(), timeout=2)
        checks["temporal"] = "ok"
    except Exception as err:
        checks["temporal"] = f"unavailable: {type(err).__name__}"
    if all(value == "ok" for value in checks.values()):
        return {"status": "ready", **checks}
    return problem(503, "not-ready", "A dependency is unavailable", str(checks), checks=checks)


@router.get("/metrics", include_in_schema=False)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
