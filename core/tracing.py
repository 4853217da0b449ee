"""OpenTelemetry traces: spans per CLI command, MCP tool call, wave milestone and batch.

Configured by the standard variables: ``OTEL_TRACES_EXPORTER`` (``none`` by default, ``console``
to stderr, ``otlp`` over gRPC with ``OTEL_EXPORTER_OTLP_*``), ``OTEL_SERVICE_NAME``. With no
exporter the spans are non-recording and cost next to nothing. The provider is this module's own
(not the process-global one) and is set up again in a forked child, where the parent's export
thread does not exist.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.propagate import extract
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)

from core.errors import ConfigError

_SERVER, _INTERNAL = trace.SpanKind.SERVER, trace.SpanKind.INTERNAL
_state: dict[str, Any] = {"provider": None, "pid": None, "service": "data-mash"}


def _exporter_from_env() -> SpanExporter | None:
    name = os.environ.get("OTEL_TRACES_EXPORTER", "none").strip().lower()
    if name in ("", "none"):
        return None
    if name == "console":
        return ConsoleSpanExporter(out=sys.stderr)  # stdout carries --json and stdio MCP
    if name == "otlp":
        try:
            # Imported here: grpc loads only with OTEL_TRACES_EXPORTER=otlp.
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter  # noqa: PLC0415
        except ImportError:
            raise ConfigError(
                "the OTLP exporter is not installed",
                where="OTEL_TRACES_EXPORTER=otlp",
                fix="pip install opentelemetry-exporter-otlp-proto-grpc, or use console/none",
            ) from None
        return OTLPSpanExporter()
    raise ConfigError(
        f"unknown trace exporter '{name}'",
        where="OTEL_TRACES_EXPORTER",
        fix="use none (default), console or otlp",
    )


def setup_tracing(service: str = "data-mash", *, exporter: SpanExporter | None = None) -> None:
    """(Re)build this process's tracer provider; ``exporter`` overrides the environment."""
    chosen = exporter if exporter is not None else _exporter_from_env()
    provider = None
    if chosen is not None:
        name = os.environ.get("OTEL_SERVICE_NAME", service)
        provider = TracerProvider(resource=Resource.create({"service.name": name}))
        # A batching exporter sends from a thread; in-memory and console ones report at once.
        batching = exporter is None and not isinstance(chosen, ConsoleSpanExporter)
        provider.add_span_processor(
            BatchSpanProcessor(chosen) if batching else SimpleSpanProcessor(chosen)
        )
    old = _state["provider"]
    _state.update(provider=provider, pid=os.getpid(), service=service)
    if old is not None:
        old.shutdown()


def shutdown_tracing() -> None:
    """Flush and stop the exporter (end of a command)."""
    provider = _state["provider"]
    if provider is not None and _state["pid"] == os.getpid():
        provider.force_flush()


def _tracer() -> trace.Tracer:
    if _state["pid"] is not None and _state["pid"] != os.getpid():
        setup_tracing(_state["service"])  # forked: the parent's processor thread is gone
    provider = _state["provider"]
    if provider is None:
        return trace.NoOpTracer()
    return provider.get_tracer("data-mash")


@contextmanager
def span(
    name: str, *, carrier: Mapping[str, str] | None = None, **attributes: Any
) -> Iterator[Any]:
    """A span around the block (a no-op without an exporter); errors are recorded on it.

    ``carrier``: incoming headers (``traceparent``) whose trace the span continues.
    """
    clean = {k: v for k, v in attributes.items() if isinstance(v, str | int | float | bool)}
    parent = extract(carrier) if carrier else None
    with _tracer().start_as_current_span(
        name, context=parent, attributes=clean, kind=_SERVER if carrier is not None else _INTERNAL
    ) as current:
        yield current


def trace_ids(_logger: Any, _method: str, event: Any) -> Any:
    """structlog processor: the current span's trace and span ids on every log line."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event["trace_id"] = format(context.trace_id, "032x")
        event["span_id"] = format(context.span_id, "016x")
    return event
