"""OpenTelemetry traces, off unless BOOKING_TRACING says where they go.

One booking is one trace: the API's request span (api/main.py instruments FastAPI) is the
parent of the Temporal client's StartWorkflow span, whose context travels in the workflow's
headers to the worker, where the SDK's TracingInterceptor opens RunWorkflow and RunActivity
spans under it, and each Stripe request is a span under its activity's. The standard OTEL_*
variables apply (OTEL_SERVICE_NAME, OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_TRACES_SAMPLER...). The
OpenTelemetry SDK is the optional `tracing` extra, imported only when tracing is on.
"""

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import stripe
from temporalio.client import Interceptor

from core.enums import TracingExporter
from core.settings import Settings

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import Tracer

TRACER = "booking-engine"


def tracer_provider(settings: Settings, service: str) -> "TracerProvider | None":
    """The process's tracer provider (`service` names it unless OTEL_SERVICE_NAME does), or
    None when tracing is off. Shut it down at exit, so the last spans are exported."""
    if settings.tracing == TracingExporter.OFF:
        return None
    return exporting_provider(service, span_exporter(settings.tracing))


def exporting_provider(service: str, exporter: "SpanExporter") -> "TracerProvider":
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    name = os.environ.get("OTEL_SERVICE_NAME", service)
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: name}))
    # Batched, off the request's path; a full queue drops spans rather than slow bookings.
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def span_exporter(kind: TracingExporter) -> "SpanExporter":
    if kind == TracingExporter.CONSOLE:
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()  # OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT, _HEADERS, _TIMEOUT


def temporal_interceptors(provider: "TracerProvider | None") -> list[Interceptor]:
    """For `core.temporal.connect`: a worker built on the client traces with it too."""
    if provider is None:
        return []
    from temporalio.contrib.opentelemetry import TracingInterceptor

    return [TracingInterceptor(provider.get_tracer(TRACER))]


def stripe_http(provider: "TracerProvider | None") -> stripe.AIOHTTPClient:
    """The worker's HTTP client for Stripe; with tracing, each request is a span of its own
    under the activity's."""
    if provider is None:
        return stripe.AIOHTTPClient()
    return _TracedStripeHTTP(provider.get_tracer(TRACER))


class _TracedStripeHTTP(stripe.AIOHTTPClient):
    def __init__(self, tracer: "Tracer") -> None:
        super().__init__()
        self._tracer = tracer

    async def request_async(
        self, method: str, url: str, headers: Mapping[str, str], post_data: Any = None
    ) -> tuple[bytes, int, Mapping[str, str]]:
        from opentelemetry.trace import SpanKind

        path = urlsplit(url).path
        # /v1/payment_intents/pi_123/cancel is named /v1/payment_intents/{id}/cancel.
        parts = path.split("/")
        named = "/".join([*parts[:3], "{id}", *parts[4:]]) if len(parts) > 3 else path
        with self._tracer.start_as_current_span(
            f"Stripe {method.upper()} {named}",
            kind=SpanKind.CLIENT,
            attributes={"http.request.method": method.upper(), "url.path": path},
        ) as span:
            body, status, answered = await super().request_async(method, url, headers, post_data)
            span.set_attribute("http.response.status_code", status)
            return body, status, answered
