"""A WebSocket peer whose sends never wait: each message is framed and handed to the
socket's transport at once, so a broadcast costs one write per peer and no task switch.

The transport's buffer is the send queue. A peer whose unsent bytes grow past its budget is
evicted (close 1013) instead of holding memory for everyone. Frames are whole and written in
one call, as aiohttp writes its own (pings, pongs, the close frame), so they never interleave;
the connection never negotiates compression, so every frame is a plain binary one.
"""

from __future__ import annotations

import asyncio
import struct
from typing import cast

from aiohttp import web

from rooms import RoomMetrics

from .codes import TICKET_INVALID, TRY_AGAIN_LATER
from .deadlines import Deadline, Deadlines

_SHORT = struct.Struct(">BB")
_MEDIUM = struct.Struct(">BBH")
_LONG = struct.Struct(">BBQ")
_BINARY_FINAL = 0x82  # FIN + opcode 2; server frames are never masked (RFC 6455 §5.1)
_COPY_LIMIT = 64 * 1024  # smaller payloads are copied behind their header: one buffer to send


class _LastFrame:
    """The frame of the last payload sent: a broadcast hands the same bytes object to every
    peer of a room, so it is framed once, not once per peer."""

    payload: bytes | None = None
    frame = b""


def framed(payload: bytes) -> bytes:
    if payload is not _LastFrame.payload:
        _LastFrame.frame = binary_frame(payload)
        _LastFrame.payload = payload  # held here, so its id cannot be reused meanwhile
    return _LastFrame.frame


def binary_frame(payload: bytes) -> bytes:
    """One unmasked, final, binary WebSocket frame carrying ``payload``."""
    return frame_header(len(payload)) + payload


def frame_header(size: int) -> bytes:
    """The header of an unmasked, final, binary WebSocket frame of ``size`` bytes."""
    if size < 126:
        return _SHORT.pack(_BINARY_FINAL, size)
    if size < 65536:
        return _MEDIUM.pack(_BINARY_FINAL, 126, size)
    return _LONG.pack(_BINARY_FINAL, 127, size)


class WsPeer:
    __slots__ = (
        "_closing",
        "_deadlines",
        "_expiry",
        "_max",
        "_metrics",
        "_transport",
        "_ws",
        "access_changes",
        "can_write",
        "close_request",
        "issued_at",
        "user_id",
    )

    def __init__(
        self,
        ws: web.WebSocketResponse,
        transport: asyncio.BaseTransport | None,
        *,
        user_id: str,
        issued_at: float,
        can_write: bool,
        max_queue_bytes: int,
        metrics: RoomMetrics,
        deadlines: Deadlines,
    ) -> None:
        self.user_id = user_id
        self.issued_at = issued_at
        self.can_write = can_write
        self.access_changes = 0
        self._ws = ws
        # Duck-typed: uvloop's transports do not derive from asyncio.WriteTransport.
        self._transport = cast(asyncio.WriteTransport, transport) if transport else None
        self._max = max_queue_bytes
        self._metrics = metrics
        self.close_request: tuple[int, str] | None = None
        self._closing: asyncio.Future[bool] | None = None  # no task per peer until it is kicked
        self._deadlines = deadlines
        self._expiry: Deadline | None = None

    def send(self, message: bytes) -> None:
        if self.close_request is not None:
            return
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        if transport.get_write_buffer_size() + len(message) > self._max:
            self._metrics.evictions.labels("slow_consumer").inc()
            self.kick(TRY_AGAIN_LATER, "slow consumer: reconnect to resync")
            return
        if len(message) < _COPY_LIMIT:
            transport.write(framed(message))
        else:  # a whole document, say: the header and the payload go out without a copy
            transport.writelines((frame_header(len(message)), message))
        self._metrics.bytes_out.inc(len(message))

    def expire_at(self, when: float) -> None:
        """Close with 4401 at ``when`` (epoch seconds), replacing any earlier deadline: one
        deadline per connection instead of a timeout around every receive on the hot path."""
        self._forget_expiry()
        self._expiry = self._deadlines.add(when, self)

    def expire(self) -> None:
        self.kick(TICKET_INVALID, "ticket expired: reconnect with a new ticket")

    def _forget_expiry(self) -> None:
        if self._expiry is not None:
            self._deadlines.cancel(self._expiry)
            self._expiry = None

    def kick(self, code: int, reason: str) -> None:
        """Close with ``code`` after the frames already written; the first request wins."""
        self._forget_expiry()
        if self.close_request is None:
            self.close_request = (code, reason)
            self._closing = asyncio.ensure_future(
                self._ws.close(code=code, message=reason.encode())
            )

    async def wait_closed(self, within: float) -> None:
        """Give a requested close ``within`` seconds to complete; then drop the connection
        and whatever it still had buffered (a stalled client would hold it for minutes)."""
        self._forget_expiry()
        if self._closing is None:
            return
        done, _ = await asyncio.wait({self._closing}, timeout=within)
        if not done:
            self._closing.cancel()
            if self._transport is not None:
                self._transport.abort()
        await asyncio.gather(self._closing, return_exceptions=True)
