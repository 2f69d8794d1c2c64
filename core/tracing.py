"""OpenTelemetry traces, off unless BOOKING_TRACING says where they go.

One booking is one trace: the API's request span (api/main.py instruments FastAPI) is the
parent of the Temporal client's StartWorkflow span, whose context travels in the workflow's
headers to the worker, where the SDK's TracingInterceptor opens RunWorkflow and RunActivity
spans under it. The standard OTEL_* variables apply (OTEL_SERVICE_NAME,
OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_TRACES_SAMPLER...). The OpenTelemetry SDK is the optional
`tracing` extra, imported only when tracing is on.
"""

import os
from typing import TYPE_CHECKING

from temporalio.client import Interceptor

from core.enums import TracingExporter
from core.settings import Settings

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter


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

    return [TracingInterceptor(provider.get_tracer("booking-engine"))]
