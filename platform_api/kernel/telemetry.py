"""Per-request telemetry: request id, W3C trace context, access log and Prometheus metrics."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog
from opentelemetry import propagate, trace
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_log = structlog.get_logger("access")


def configure_tracing(service: str) -> trace.Tracer:
    """Install an SDK tracer provider once per process (exporters come from OTEL_* variables)."""
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        trace.set_tracer_provider(TracerProvider())
    return trace.get_tracer(service)


def outgoing_headers(headers: Mapping[str, str] | None = None) -> dict[str, str]:
    """Headers for a call to another service, carrying the current trace context."""
    carrier = dict(headers or {})
    propagate.inject(carrier)
    return carrier


class HttpMetrics:
    """The RED metrics of one service, in a registry of its own (one per app instance)."""

    def __init__(self, service: str) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "http_requests_total",
            "HTTP requests handled",
            ["service", "method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "HTTP request latency",
            ["service", "method", "route"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.service = service


class RequestContextMiddleware:
    """Pure ASGI middleware: binds request/trace ids to logs, times and counts each request."""

    def __init__(self, app: ASGIApp, *, metrics: HttpMetrics, tracer: trace.Tracer) -> None:
        self.app = app
        self.metrics = metrics
        self.tracer = tracer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        request_id = headers.get("x-request-id") or uuid.uuid4().hex
        if len(request_id) > 128 or not request_id.isprintable():
            request_id = uuid.uuid4().hex
        ctx = propagate.extract(headers)
        status = 500
        started = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        method = scope["method"]
        with self.tracer.start_as_current_span(
            f"{method} {scope['path']}", context=ctx, kind=trace.SpanKind.SERVER
        ) as span:
            span_ctx = span.get_span_context()
            structlog.contextvars.bind_contextvars(
                request_id=request_id, trace_id=format(span_ctx.trace_id, "032x")
            )
            try:
                await self.app(scope, receive, send_wrapper)
            finally:
                elapsed = time.perf_counter() - started
                route = _route_template(scope)
                self.metrics.requests.labels(self.metrics.service, method, route, status).inc()
                self.metrics.latency.labels(self.metrics.service, method, route).observe(elapsed)
                if route not in ("/metrics", "/healthz", "/readyz"):
                    _log.info(
                        "request",
                        method=method,
                        path=scope["path"],
                        status=status,
                        duration_ms=round(elapsed * 1000, 2),
                    )
                structlog.contextvars.unbind_contextvars("request_id", "trace_id", "tenant_id")


def _route_template(scope: MutableMapping[str, Any]) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"
