"""The one way every service builds its FastAPI app: errors, telemetry, health, metrics."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp, Receive, Scope, Send

from .body_limit import BodySizeLimitMiddleware
from .db import bounded_connection_waits
from .errors import AnswerUnavailable, Problem, install_error_handlers, problem_response
from .logging import configure_logging
from .settings import ServiceSettings
from .telemetry import HttpMetrics, RequestContextMiddleware, configure_tracing

ReadinessCheck = Callable[[FastAPI], Awaitable[None]]
LivenessCheck = Callable[[FastAPI], None]  # raises when only a restart can help
Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]

_PROBLEM_DESCRIPTIONS = {
    400: "Malformed request",
    401: "Missing or invalid access token",
    403: "Not allowed",
    404: "Not found (also another tenant's or user's id)",
    409: "Conflicts with the resource's current state",
    413: "Request body too large",
    422: "Validation error",
    429: "Too many requests",
    502: "An upstream service answered unexpectedly",
    503: "An upstream service is unavailable",
}


_NOT_ALIVE = "Not alive: only a restart helps (e.g. a background worker of it has died)"


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries for problem+json errors an operation may answer."""
    return {
        status: {
            "description": _PROBLEM_DESCRIPTIONS[status],
            "content": {
                "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
            },
        }
        for status in statuses
    }


_ERROR_RESPONSES = problem_responses(400, 413, 422)


def create_service_app(
    settings: ServiceSettings,
    *,
    title: str,
    description: str,
    lifespan: Lifespan,
    readiness: ReadinessCheck | None = None,
    liveness: LivenessCheck | None = None,
) -> FastAPI:
    """Build a service app wired with the shared kernel; routes are added by the caller."""
    configure_logging(settings.service_name, settings.log_level)
    tracer = configure_tracing(settings.service_name)
    metrics = HttpMetrics(settings.service_name)
    app = FastAPI(
        title=title,
        description=description,
        version="1.0.0",
        lifespan=lifespan,
        responses=_ERROR_RESPONSES,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    install_error_handlers(app)
    app.add_middleware(AnswerUnavailable)
    app.add_middleware(BoundedDatabaseWaits)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestContextMiddleware, metrics=metrics, tracer=tracer)
    _add_operational_routes(app, metrics, readiness, liveness)
    _add_problem_schema(app)
    return app


class BoundedDatabaseWaits:
    """Pure ASGI middleware: within a request, waiting for a pooled database connection is
    bounded (then 503); background work of the same process keeps waiting."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        with bounded_connection_waits():
            await self.app(scope, receive, send)


def _add_operational_routes(
    app: FastAPI,
    metrics: HttpMetrics,
    readiness: ReadinessCheck | None,
    liveness: LivenessCheck | None,
) -> None:
    @app.get(
        "/healthz",
        tags=["operations"],
        summary="Liveness: the process is serving",
        responses={503: {**problem_responses(503)[503], "description": _NOT_ALIVE}}
        if liveness is not None
        else None,
    )
    async def healthz(request: Request) -> dict[str, str]:
        if liveness is not None:
            try:
                liveness(request.app)
            except Exception as exc:  # the process cannot mend itself: restart it
                raise Problem(503, "Not alive: {error}", params={"error": str(exc)}) from exc
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"], summary="Readiness: dependencies reachable")
    async def readyz(request: Request) -> JSONResponse:
        try:
            if readiness is not None:
                await readiness(request.app)
        except Exception as exc:  # any dependency failure means "not ready"
            return problem_response(503, "Not ready: {error}", params={"error": type(exc).__name__})
        return JSONResponse({"status": "ready"})

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics", include_in_schema=False)
    async def prometheus_metrics() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)


def _add_problem_schema(app: FastAPI) -> None:
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = original()
        schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = {
            "type": "object",
            "description": "RFC 9457 problem details",
            "properties": {
                "type": {"type": "string"},
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "detail": {"type": "string"},
                "instance": {"type": "string"},
            },
            "required": ["type", "title", "status"],
        }
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
