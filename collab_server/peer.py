"""A WebSocket peer whose sends never wait: each message is framed at once and queued on
the peer, and the node's :class:`Outbox` hands every peer's queue to its socket in one write
when the event loop's current pass ends (or at once, past 64 KiB). A broadcast costs no task switch, and a peer that
gets several messages in one pass (updates committed in one group, a greeting's state vector
and awareness) costs one system call for all of them, not one each: on a busy node, system
calls are most of the cost of fan-out.

The send queue is what the peer holds for the end of the pass plus the transport's buffer. A
peer whose unsent bytes grow past its budget is evicted (close 1013) instead of holding memory
for everyone. The budget is for a backlog, not for one message: a message larger than it (a
whole document for a newcomer: documents may be twice the default budget) does not count
against it while it is on its way (only what is left of it is set aside), so a peer holds
at most the budget plus one such message. A backlog behind it evicts, and so does a second
one sent before the first has wholly left, however little of the first is left: one at a
time, decided when it is sent, never later by a small update once the first has gone.
Frames are whole and written in one call, as aiohttp writes its own (pings, pongs, the close
frame), so they never interleave; the connection never negotiates compression, so every
frame is a plain binary one.
"""

from __future__ import annotations

import asyncio
import struct
from typing import cast

import structlog
from aiohttp import web

from crdt import encode_awareness
from rooms import RoomMetrics

from .codes import INTERNAL_ERROR, TICKET_INVALID, TRY_AGAIN_LATER
from .deadlines import Deadline, Deadlines

_log = structlog.get_logger("collab")

_SHORT = struct.Struct(">BB")
_MEDIUM = struct.Struct(">BBH")
_LONG = struct.Struct(">BBQ")
_BINARY_FINAL = 0x82  # FIN + opcode 2; server frames are never masked (RFC 6455 §5.1)
_COPY_LIMIT = 64 * 1024  # smaller payloads are copied behind their header: one buffer to send
_FLUSH_BYTES = 64 * 1024  # a peer's queue goes out at once when it holds this much
NOTHING = encode_awareness([])  # an awareness update of no client: changes nothing


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


def _frame_size(size: int) -> int:
    """The bytes of a frame carrying ``size`` bytes, header included."""
    return size + (2 if size < 126 else 4 if size < 65536 else 10)


def frame_header(size: int) -> bytes:
    """The header of an unmasked, final, binary WebSocket frame of ``size`` bytes."""
    if size < 126:
        return _SHORT.pack(_BINARY_FINAL, size)
    if size < 65536:
        return _MEDIUM.pack(_BINARY_FINAL, 126, size)
    return _LONG.pack(_BINARY_FINAL, 127, size)


class Outbox:
    """The peers with frames queued during this pass of the event loop, written out by one
    callback at its end (the close frame of a peer kicked meanwhile is written later still:
    its closing task starts after the callback)."""

    def __init__(self) -> None:
        self._peers: list[WsPeer] = []

    def add(self, peer: WsPeer) -> None:
        if not self._peers:
            asyncio.get_running_loop().call_soon(self.flush)
        self._peers.append(peer)

    def flush(self) -> None:
        peers, self._peers = self._peers, []
        for peer in peers:
            peer.flush()  # never raises: one broken socket must not keep the rest waiting


class WsPeer:
    __slots__ = (
        "_behind",
        "_closing",
        "_deadlines",
        "_excess",
        "_expiry",
        "_max",
        "_metrics",
        "_outbox",
        "_queued",
        "_queued_bytes",
        "_sent",
        "_transport",
        "_ws",
        "access_changes",
        "can_write",
        "close_request",
        "issued_at",
        "refused_edits",
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
        outbox: Outbox,
        deadlines: Deadlines,
    ) -> None:
        self.user_id = user_id
        self.issued_at = issued_at
        self.can_write = can_write
        self.refused_edits = False
        self.access_changes = 0
        self._ws = ws
        # Duck-typed: uvloop's transports do not derive from asyncio.WriteTransport.
        self._transport = cast(asyncio.WriteTransport, transport) if transport else None
        self._max = max_queue_bytes
        self._metrics = metrics
        self._outbox = outbox
        self._queued: list[bytes] | None = None  # frames waiting for the end of this pass
        self._queued_bytes = 0
        self._excess = 0  # the frame of a message larger than the budget, while on its way
        self._behind = 0  # bytes of the frames sent after it
        self.close_request: tuple[int, str] | None = None
        self._closing: asyncio.Future[bool] | None = None  # no task per peer until it is kicked
        self._deadlines = deadlines
        self._expiry: Deadline | None = None
        self._sent = False  # since the last nudge

    def send(self, message: bytes) -> None:
        if self.close_request is not None:
            return
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        size = len(message)
        unsent = transport.get_write_buffer_size() + self._queued_bytes
        if self._excess:
            # What is left of the large message: the bytes ahead of those sent after it
            # (all of it while a backlog from before it is still ahead of it).
            left = min(max(unsent - self._behind, 0), self._excess)
            if not left:
                self._excess = 0  # it has left: what waits was sent after it
            unsent -= left
        if size > self._max and not self._excess:
            self._excess, self._behind = _frame_size(size), 0
        elif unsent + size > self._max:
            self.kick(TRY_AGAIN_LATER, "slow consumer: reconnect to resync")
            return
        elif self._excess:
            self._behind += _frame_size(size)
        queued = self._queued
        if queued is None:
            queued = self._queued = []
            self._outbox.add(self)
        if size < _COPY_LIMIT:
            queued.append(framed(message))
        else:  # a whole document, say: the header and the payload go out without a copy
            queued += (frame_header(size), message)
        self._queued_bytes += _frame_size(size)  # as the transport will count it
        self._sent = True
        self._metrics.bytes_out.inc(size)
        if self._queued_bytes >= _FLUSH_BYTES:
            # Out at once: one call carries enough, and a burst (large updates committed
            # in one group) must meet the socket's pace, not the send queue's budget.
            self.flush()

    def nudge(self) -> None:
        if not self._sent:
            self.send(NOTHING)
        self._sent = False

    def flush(self) -> None:
        """Write what was queued since the last flush, in one call. A write that fails
        concerns this peer alone (a broadcast goes on to the next peer, a committed update
        on to the other nodes): the peer missed frames, so it is told to resync."""
        queued, self._queued, self._queued_bytes = self._queued, None, 0
        transport = self._transport
        if queued is None or transport is None or transport.is_closing():
            return
        try:
            if len(queued) == 1:
                transport.write(queued[0])
            else:
                transport.writelines(queued)
        except Exception as exc:
            _log.warning("peer_write_failed", error=repr(exc))
            self.kick(INTERNAL_ERROR, "send failed: reconnect to resync")

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
        """Close with ``code`` after the frames already written; the first request wins, and
        is counted as an eviction unless the client had closed the connection already."""
        self._forget_expiry()
        if self.close_request is None:
            self.close_request = (code, reason)
            if not self._ws.closed:
                self._metrics.evicted(code)
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
