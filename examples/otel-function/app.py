"""A function traced with the OpenTelemetry SDK, exporting over OTLP/HTTP, as its
users write it without a Lambda-specific wrapper (handler ``app.handler``).

The SDK's ``BatchSpanProcessor`` queues finished spans and exports them from a
worker thread every ``OTEL_BSP_SCHEDULE_DELAY`` (5,000 ms by default) or once
512 are queued, and when the provider is flushed or shut down; the exporter
reads its endpoint from ``OTEL_EXPORTER_OTLP_ENDPOINT`` (the lab points it at
the cell's collector). The SIGTERM cleanup records one more span and shuts the
provider down, which exports everything still queued.

``LAB_STRATEGY`` (``signal``, ``wakeup-fd`` or ``none``) says how the cleanup is
installed (``graceful_shutdown.py``, linked from function/); ``LAB_EXTENSION``
``internal`` (the default) registers the internal extension that makes Lambda
send SIGTERM at all. An event with ``"lab_trigger": "timeout"`` sleeps past the
function's timeout, ``"crash"`` ends the process, after the span is made.
"""

from __future__ import annotations

import os
import time
from typing import Any, Dict

import graceful_shutdown
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

provider = TracerProvider(resource=Resource.create({"service.name": "lab-otel-function"}))
provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
trace.set_tracer_provider(provider)
tracer = trace.get_tracer("lab.otel-function")


def cleanup() -> None:
    print("[otel] SIGTERM received: flushing spans", flush=True)
    with tracer.start_as_current_span("lab.cleanup"):
        pass
    print("[otel] produced lab.cleanup", flush=True)
    provider.shutdown()  # exports every queued span, then stops the worker
    print("[otel] flushed", flush=True)


graceful_shutdown.install(
    cleanup,
    strategy=os.environ.get("LAB_STRATEGY", "wakeup-fd"),
    extension=os.environ.get("LAB_EXTENSION", "internal") == "internal",
)


def handler(event: Any, context: Any) -> Dict[str, Any]:
    with tracer.start_as_current_span("lab.invocation") as span:
        span.set_attribute("faas.invocation_id", context.aws_request_id)
    print(f"[otel] produced lab.invocation {context.aws_request_id}", flush=True)
    trigger = event.get("lab_trigger") if isinstance(event, dict) else None
    if trigger == "timeout":
        time.sleep(60)
    elif trigger == "crash":
        os._exit(1)
    return {"traced": context.aws_request_id}
