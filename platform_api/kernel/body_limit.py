"""Request body size cap, answered as problem+json (413).

A body that *declares* too large a Content-Length is refused before the app runs; one that
grows too large while streaming makes ``receive`` raise an HTTPException, which FastAPI's
body parsing passes on to our error handlers. (FastAPI's own ``max_body_size`` answers
declared oversize bodies in plain text, hence this middleware.)
"""

from __future__ import annotations

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import problem_response
from .i18n import N_, negotiate

_TOO_LARGE = N_("The request body exceeds {max_bytes} bytes")


class BodyTooLarge(HTTPException):
    """413 for a body that grew too large; its detail is translated when it is rendered."""

    def __init__(self, max_bytes: int) -> None:
        self.params = {"max_bytes": max_bytes}
        super().__init__(413, _TOO_LARGE)


class BodySizeLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        await self.app(scope, limited_receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The same problem the error handlers answer, sent before the app runs."""
        language = dict(scope["headers"]).get(b"accept-language", b"").decode("latin-1")
        response = problem_response(
            413,
            _TOO_LARGE,
            instance=scope["path"],
            locale=negotiate(language),
            params={"max_bytes": self.max_bytes},
        )
        await response(scope, receive, send)
