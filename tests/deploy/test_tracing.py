"""With tracing on, one booking is one trace: the API's request, the Temporal client's start,
the workflow's run and its activities share a trace id (spans exported to memory)."""

import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from api.main import create_app
from core.enums import TracingExporter
from core.settings import Settings
from core.temporal import connect
from core.tracing import exporting_provider, temporal_interceptors, tracer_provider
from tests.conftest import CLIENT_KEY, SessionFactory
from tests.helpers.api_bookings import booking_body
from worker import booking_activities
from workflows.registry import build_worker


@dataclass(frozen=True)
class Traced:
    api: httpx.AsyncClient
    exporter: InMemorySpanExporter
    provider: TracerProvider

    def spans(self) -> dict[str, ReadableSpan]:
        """The spans ended so far, by name."""
        self.provider.force_flush()
        return {span.name: span for span in self.exporter.get_finished_spans()}


@pytest.fixture
async def traced(settings: Settings) -> AsyncIterator[Traced]:
    """The API and a worker of their own task queue, both tracing into one memory exporter."""
    exporter = InMemorySpanExporter()
    provider = exporting_provider("booking-test", exporter)
    own = settings.model_copy(update={"task_queue": f"tracing-{uuid.uuid4()}"})
    async with AsyncExitStack() as stack:
        client = await connect(own, interceptors=temporal_interceptors(provider))
        await stack.enter_async_context(
            build_worker(client, own, booking_activities(own, stack, client, provider))
        )
        # No client given: the app connects its own, with the tracing interceptor.
        app = create_app(own, tracing=provider)
        await stack.enter_async_context(app.router.lifespan_context(app))
        api = await stack.enter_async_context(
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://booking.test",
                headers={"Authorization": f"Bearer {CLIENT_KEY}"},
                timeout=30,
            )
        )
        yield Traced(api, exporter, provider)


async def test_a_booking_request_its_workflow_and_activities_are_one_trace(
    traced: Traced, new_session: SessionFactory
) -> None:
    created = await traced.api.post("/v1/bookings", json=booking_body(await new_session()))
    assert created.status_code == 201, created.text
    spans = traced.spans()
    trace = spans["POST /v1/bookings"].context.trace_id
    ours = {name for name, span in spans.items() if span.context.trace_id == trace}
    assert {"StartUpdateWithStartWorkflow:BookingWorkflow", "RunWorkflow:BookingWorkflow"} <= ours
    assert {"RunActivity:reserve_places", "RunActivity:open_payment"} <= ours, sorted(spans)
    stripe_call = spans["Stripe POST /v1/payment_intents"]
    assert stripe_call.parent is not None
    assert stripe_call.parent.span_id == spans["RunActivity:open_payment"].context.span_id


def test_tracing_is_off_unless_asked_for(settings: Settings) -> None:
    assert settings.tracing == TracingExporter.OFF
    assert tracer_provider(settings, "booking-test") is None
    assert temporal_interceptors(None) == []
    console = settings.model_copy(update={"tracing": TracingExporter.CONSOLE})
    provider = tracer_provider(console, "booking-test")
    assert provider is not None and provider.resource.attributes["service.name"] == "booking-test"
    provider.shutdown()
