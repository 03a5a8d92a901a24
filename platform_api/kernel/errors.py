"""RFC 9457 problem details: every failure of every service leaves as ``application/problem+json``,
in the language the request asks for (``Accept-Language``, see :mod:`.i18n`)."""

from __future__ import annotations

import socket
from collections.abc import Mapping
from typing import Any

import asyncpg
import redis.exceptions
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .db import DatabaseBusy
from .i18n import N_, VALIDATION, Invalid, negotiate, translate

PROBLEM_JSON = "application/problem+json"
_log = structlog.get_logger("errors")

_TITLES = {
    400: N_("Bad Request"),
    401: N_("Unauthorized"),
    403: N_("Forbidden"),
    404: N_("Not Found"),
    405: N_("Method Not Allowed"),
    409: N_("Conflict"),
    410: N_("Gone"),
    412: N_("Precondition Failed"),
    413: N_("Content Too Large"),
    415: N_("Unsupported Media Type"),
    422: N_("Unprocessable Content"),
    428: N_("Precondition Required"),
    429: N_("Too Many Requests"),
    500: N_("Internal Server Error"),
    503: N_("Service Unavailable"),
}


class Problem(Exception):
    """A domain failure that maps to one HTTP problem response."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        title: str | None = None,
        type_: str = "about:blank",
        headers: dict[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        **extra: Any,
    ) -> None:
        """``detail`` is English; ``{name}`` fields in it are filled from ``params`` after
        it is translated (the fields are not members of the problem: ``extra`` are)."""
        self.template = detail
        self.params = dict(params or {})
        self.detail = translate(detail, "en", self.params)
        super().__init__(self.detail)
        self.status = status
        self.title = title or _TITLES.get(status, "Error")
        self.type = type_
        self.headers = headers or {}
        self.extra = extra


def not_found(what: str = "Resource") -> Problem:
    """A 404 saying ``"<what> not found"`` (its translation is the whole sentence's)."""
    return Problem(404, what + " not found")


def unauthorized(
    detail: str = N_("Missing or invalid access token"), *, type_: str = "about:blank", **extra: Any
) -> Problem:
    """A 401 that tells the client how to authenticate (``extra``: members of the problem)."""
    return Problem(
        401, detail, type_=type_, headers={"WWW-Authenticate": 'Bearer realm="mrbill"'}, **extra
    )


def forbidden(detail: str = N_("You are not allowed to do this")) -> Problem:
    return Problem(403, detail)


def problem_response(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    type_: str = "about:blank",
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    locale: str = "en",
    params: Mapping[str, Any] | None = None,
    **extra: Any,
) -> JSONResponse:
    """A problem response in ``locale``: ``detail`` and ``title`` are English, translated
    here (``{name}`` fields in ``detail`` filled from ``params``)."""
    body: dict[str, Any] = {
        "type": type_,
        "title": translate(title or _TITLES.get(status, "Error"), locale),
        "status": status,
        "detail": translate(detail, locale, params),
    }
    if instance:
        body["instance"] = instance
    body.update(extra)
    sent = {k: v for k, v in (headers or {}).items() if k.lower() != "vary"}
    varies = [v for k, v in (headers or {}).items() if k.lower() == "vary"]
    sent["Vary"] = ", ".join([*varies, "Accept-Language"])
    sent["Content-Language"] = locale
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=sent)


def request_locale(request: Request) -> str:
    return negotiate(request.headers.get("accept-language"))


def _validation_errors(exc: RequestValidationError, locale: str) -> list[dict[str, Any]]:
    return [
        {
            "loc": list(err.get("loc", ())),
            "msg": validation_message(err, locale),
            "type": err.get("type", ""),
        }
        for err in exc.errors()
    ]


_NOT_AN_EMAIL = "value is not a valid email address"
_LIMITS = ("min_length", "max_length")
_OR = {"pt-BR": "' ou '"}


def validation_message(error: Mapping[str, Any], locale: str) -> str:
    """One validation error's message in ``locale``: by its type, with the details of its
    context; a ``ValueError`` of our validators by its own text. English is pydantic's."""
    message = str(error.get("msg", ""))
    if locale == "en":
        return message
    kind = str(error.get("type", ""))
    context = dict(error.get("ctx") or {})
    if kind == "value_error" and "error" in context:
        error = context["error"]
        if isinstance(error, Invalid):
            return translate(error.template, locale, error.params)
        reason = str(error)
        said = translate(reason, locale)
        if said != reason:
            return said
    keys = [kind]
    if any(context.get(limit) == 1 for limit in _LIMITS):  # in the singular where there is one
        keys.insert(0, f"{kind}.one")
    # pydantic lists what it expected in English ("'a' or 'b'"): the one word of it.
    for name in ("expected", "expected_schemes"):
        if isinstance(context.get(name), str):
            context[name] = context[name].replace("' or '", _OR.get(locale, "' or '"))
    if kind == "value_error" and message.startswith(_NOT_AN_EMAIL):  # (pydantic's EmailStr)
        keys.insert(0, "value_error.email")
    for key in keys:
        said = translate(key, locale, context, context=VALIDATION)
        if said != key:
            return said
    return message


# What a request meets when a dependency is out of reach rather than wrong: answered 503.
UNAVAILABLE: tuple[type[Exception], ...] = (
    ConnectionError,  # refused or reset: PostgreSQL or Redis down, restarting, failing over
    socket.gaierror,  # its name does not resolve (yet), as during a DNS flip
    asyncpg.PostgresConnectionError,  # the connection was lost in the middle of a request
    asyncpg.OperatorInterventionError,  # shutting down, starting up, or the query cancelled
    asyncpg.InsufficientResourcesError,  # too many connections, disk or memory full
    redis.exceptions.ConnectionError,  # still lost after the client's retries
    redis.exceptions.TimeoutError,
)
UNAVAILABLE_RETRY_SECONDS = 5
# Kinds of those that a wait does not mend (a wrong password, a refused command, a bug in a
# driver) or that leave unknown whether the work was stored: unexpected, with a traceback.
NOT_UNAVAILABLE: tuple[type[Exception], ...] = (
    redis.exceptions.AuthenticationError,
    redis.exceptions.AuthorizationError,
    asyncpg.exceptions.ProtocolViolationError,
    asyncpg.exceptions.TransactionResolutionUnknownError,
)


def install_error_handlers(app: FastAPI) -> None:
    """Map every exception that can leave a handler to problem+json, in one place."""

    def answer(request: Request, status: int, detail: str, **rest: Any) -> JSONResponse:
        """The problem for this request: its path, and the language it asks for."""
        return problem_response(
            status, detail, instance=request.url.path, locale=request_locale(request), **rest
        )

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return answer(
            request,
            exc.status,
            exc.template,
            title=exc.title,
            type_=exc.type,
            headers=exc.headers,
            params=exc.params,
            **exc.extra,
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _validation_errors(exc, request_locale(request))
        if any(e["type"] == "json_invalid" for e in errors):
            return answer(request, 400, N_("The request body is not valid JSON"))
        return answer(
            request, 422, N_("The request does not match the expected schema"), errors=errors
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else _TITLES.get(exc.status_code, "")
        return answer(
            request,
            exc.status_code,
            detail,
            headers=dict(exc.headers or {}),
            params=getattr(exc, "params", None),
        )

    @app.exception_handler(asyncpg.DataError)
    async def _data(request: Request, exc: asyncpg.DataError) -> JSONResponse:
        # Input the schema let through but PostgreSQL refuses (a safety net, logged).
        _log.warning("data_error", path=request.url.path, error=type(exc).__name__)
        return answer(request, 422, N_("A value in the request cannot be stored"))

    def retry_soon(request: Request, detail: str) -> JSONResponse:
        return answer(request, 503, detail, headers={"Retry-After": "1"})

    @app.exception_handler(DatabaseBusy)
    async def _busy(request: Request, exc: DatabaseBusy) -> JSONResponse:
        _log.warning("database_busy", path=request.url.path)
        return retry_soon(request, N_("The service is busy; try again in a moment"))

    @app.exception_handler(asyncpg.DeadlockDetectedError)
    @app.exception_handler(asyncpg.SerializationError)
    async def _collided(request: Request, exc: asyncpg.PostgresError) -> JSONResponse:
        # PostgreSQL broke a tie between two transactions and rolled this one back whole:
        # nothing of it was stored, and the same request again normally succeeds.
        _log.warning("transaction_collided", path=request.url.path, error=type(exc).__name__)
        return retry_soon(
            request, N_("The request collided with another one and changed nothing; try again")
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        _log.exception("unhandled_error", path=request.url.path)
        return answer(request, 500, N_("An unexpected error occurred; it has been logged"))


class AnswerUnavailable:
    """Pure ASGI middleware: a request that meets a dependency out of reach (``UNAVAILABLE``)
    before its answer has started gets a 503 problem with ``Retry-After``, in its reader's
    language. Nothing of it is known to be stored (an Idempotency-Key makes its retry safe).
    One warning line each, no traceback: an outage would flood the logs. An answer already
    under way (a streamed export) can only be cut short: that failure goes on up, as any."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except UNAVAILABLE as exc:
            if started or isinstance(exc, NOT_UNAVAILABLE):
                raise
            request = Request(scope)
            _log.warning("dependency_unavailable", path=request.url.path, error=type(exc).__name__)
            response = problem_response(
                503,
                N_("The service is temporarily unavailable; try again in a moment"),
                instance=request.url.path,
                locale=request_locale(request),
                headers={"Retry-After": str(UNAVAILABLE_RETRY_SECONDS)},
            )
            await response(scope, receive, send)
