"""A streamed response that closes its body however the response ends."""

from __future__ import annotations

import structlog
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

_log = structlog.get_logger("http")


class ClosingStreamingResponse(StreamingResponse):
    """Starlette's ``StreamingResponse``, closing its body's generator when it ends.

    When the client goes away (or sending fails) Starlette stops iterating and leaves the
    generator suspended at its ``yield``: its ``finally`` blocks (a place among the exports
    given back, a progress listener removed) would run only once the garbage collector
    finds it, which the failure's traceback can put off for a long time. This closes it at
    once: finished, failed or cut short.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            aclose = getattr(self.body_iterator, "aclose", None)
            if aclose is not None:
                try:
                    await aclose()
                except Exception as exc:  # not in place of the response's own error
                    _log.warning("stream_close_failed", error=repr(exc))
