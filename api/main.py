"""The FastAPI application: clients made once in the lifespan, routers, problem handlers."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import metadata
from typing import TYPE_CHECKING

from fastapi import Depends, FastAPI
from temporalio.client import Client

from api import openapi, problems
from api.body_limit import BodySizeLimit
from api.deps import storable_parameters
from api.metrics import install_metrics
from api.query_params import single_query_values
from api.rate_limit import KeyRateLimiter
from api.routes import (
    attendance,
    bookings,
    check_ins,
    codec,
    customers,
    health,
    organisation,
    questions,
    session_exports,
    sessions,
    waiting_list,
    webhook_endpoints,
    webhooks,
)
from core.db import make_engine, make_sessionmaker
from core.settings import Settings, get_settings
from core.temporal import connect
from core.tracing import temporal_interceptors, tracer_provider
from store.api_keys import store_bootstrap_keys

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider


def create_app(
    settings: Settings | None = None,
    temporal: Client | None = None,
    tracing: "TracerProvider | None" = None,
) -> FastAPI:
    """`temporal` lets tests share their client; otherwise one is connected at start-up.
    `tracing` stands for BOOKING_TRACING's tracer provider (tests export to memory)."""
    settings = settings or get_settings()
    tracing = tracing or tracer_provider(settings, "booking-api")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings)
        app.state.settings = settings
        app.state.sessionmaker = make_sessionmaker(engine)
        app.state.temporal = temporal or await connect(
            settings, interceptors=temporal_interceptors(tracing)
        )
        app.state.rate_limiter = KeyRateLimiter(settings)
        await store_bootstrap_keys(app.state.sessionmaker, settings)
        yield
        await engine.dispose()
        if tracing is not None:
            tracing.shutdown()

    app = FastAPI(
        title="Booking engine",
        version=metadata.version("booking-engine"),  # pyproject.toml's, the one version source
        description="Sessions, seat holds, Stripe payments and receipts, orchestrated by Temporal.",
        lifespan=lifespan,
        dependencies=[Depends(storable_parameters), Depends(single_query_values)],
    )
    problems.install(app)
    install_metrics(app)
    # Added last, so it runs first: nothing reads a body before the limit applies.
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_body_bytes)
    app.add_middleware(codec.CodecCors, origins=settings.codec_cors_origins)  # even on a 413
    routers = [
        module.router
        for module in (
            health,
            sessions,
            questions,
            session_exports,
            check_ins,
            bookings,
            attendance,
            waiting_list,
            customers,
            organisation,
            webhooks,
            webhook_endpoints,
            codec,
        )
    ]
    for router in routers:
        app.include_router(router)
    openapi.install(app, routers)
    if tracing is not None:
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        # Probes and scrapes would be most of the traces, and tell nothing.
        FastAPIInstrumentor.instrument_app(
            app, tracer_provider=tracing, excluded_urls="healthz,readyz,metrics"
        )
    return app
