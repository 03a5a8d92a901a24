"""A WebSocket peer: a bounded send queue drained by its own writer task.

Broadcasting never waits on a slow client: ``send`` only queues. A peer whose queue grows
past its byte budget is evicted (close 1013) instead of holding memory for everyone.
"""

from __future__ import annotations

import asyncio
from collections import deque

from aiohttp import web

from rooms import RoomMetrics

from .codes import TRY_AGAIN_LATER


class WsPeer:
    def __init__(
        self,
        ws: web.WebSocketResponse,
        *,
        user_id: str,
        can_write: bool,
        max_queue_bytes: int,
        metrics: RoomMetrics,
    ) -> None:
        self.user_id = user_id
        self.can_write = can_write
        self.client_ids: set[int] = set()
        self._ws = ws
        self._queue: deque[bytes] = deque()
        self._queued = 0
        self._max = max_queue_bytes
        self._wake = asyncio.Event()
        self._metrics = metrics
        self.close_request: tuple[int, str] | None = None

    def send(self, message: bytes) -> None:
        if self.close_request is not None:
            return
        if self._queued + len(message) > self._max:
            self._metrics.evictions.labels("slow_consumer").inc()
            self.kick(TRY_AGAIN_LATER, "slow consumer: reconnect to resync")
            return
        self._queue.append(message)
        self._queued += len(message)
        self._wake.set()

    def kick(self, code: int, reason: str) -> None:
        if self.close_request is None:
            self.close_request = (code, reason)
            self._queue.clear()
            self._queued = 0
        self._wake.set()

    async def write_forever(self) -> None:
        """Drain the queue to the socket; close it when a close was requested."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue and self.close_request is None:
                message = self._queue.popleft()
                self._queued -= len(message)
                await self._ws.send_bytes(message)
                self._metrics.bytes_out.inc(len(message))
            if self.close_request is not None:
                code, reason = self.close_request
                await self._ws.close(code=code, message=reason.encode())
                return
