"""Fan-out between nodes over Redis pub/sub, one channel per room.

Channel names carry the room's hash tag (``collab:{<tenant>:<room>}``) so the same scheme
works with sharded pub/sub (SPUBLISH/SSUBSCRIBE) on Redis Cluster. Pub/sub is at-most-once,
and every update was committed to the log before it was published, so a gap is mended by
catching up from the log, whichever side it is on:

- this node missed messages (its link dropped): after resubscribing the bus calls ``on_gap``,
  and the rooms catch up;
- the other nodes missed this node's messages (the queue below was full, or Redis refused
  them with an error reply, so they were dropped): the bus remembers those rooms and, once
  it has sent everything queued since, calls ``on_dropped`` with them, and the rooms ask
  the other nodes to catch up. A room Redis keeps refusing is handed over at most every
  ``REFUSED_REPORT_SECONDS``, but no refused update goes unreported (a refused hello,
  such as the catch-up question itself, is only counted).

Both callbacks run on the bus's own tasks (``on_gap`` on the reader): they must only start
work, never wait for it, or every room's fan-out waits with them.

Publishing never waits on Redis: messages queue (bounded in bytes) and one task sends
everything queued so far as a single pipeline — one connection and one round trip per
batch, however many rooms are busy — and resends a batch that failed once Redis is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable

import redis.asyncio as redis
import structlog

from .frames import Kind
from .ids import RoomId
from .metrics import RoomMetrics
from .ports import BusHandler

_log = structlog.get_logger("rooms.bus")


def channel(room: RoomId) -> str:
    return f"collab:{room.hash_tag}"


class RedisBus:
    MAX_BATCH = 512  # messages per pipeline
    RETRY_SECONDS = 0.5
    REFUSED_REPORT_SECONDS = 10.0

    def __init__(
        self,
        url: str,
        *,
        on_gap: Callable[[], Awaitable[None]] | None = None,
        on_dropped: Callable[[set[RoomId]], Awaitable[None]] | None = None,
        max_pending_bytes: int = 64 * 1_048_576,
        metrics: RoomMetrics | None = None,
    ) -> None:
        self._client = redis.Redis.from_url(url)
        self._pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        self._handlers: dict[str, BusHandler] = {}
        self._on_gap = on_gap
        self._on_dropped = on_dropped
        self._metrics = metrics
        self._reader: asyncio.Task[None] | None = None
        self._publisher: asyncio.Task[None] | None = None
        self._pending: deque[tuple[RoomId, bytes]] = deque()
        self._pending_bytes = 0
        self._max_pending_bytes = max_pending_bytes
        self._wake = asyncio.Event()
        self.dropped = 0  # messages dropped: the queue was full, or Redis refused them
        self._dropped_rooms: set[RoomId] = set()  # dropped since the last ``on_dropped``
        self._refused_reported: dict[RoomId, float] = {}  # room -> when its refusal was reported
        self._refused_owed: dict[RoomId, Exception] = {}  # refused since, with the last error
        self._refused_owed_due = math.inf  # when the first owed report is due

    async def __aenter__(self) -> RedisBus:
        await self._client.ping()
        self._reader = asyncio.create_task(self._read_forever(), name="redis-bus-reader")
        self._publisher = asyncio.create_task(self._publish_forever(), name="redis-bus-publisher")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.flush(within=2.0)
        for task in (self._reader, self._publisher):
            if task:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        await self._pubsub.aclose()
        await self._client.aclose()

    async def publish(self, room: RoomId, message: bytes) -> None:
        """Queue ``message`` for the room's channel; it goes out with the next pipeline."""
        if self._pending_bytes + len(message) > self._max_pending_bytes:
            self._drop(room)
            return
        self._pending.append((room, message))
        self._pending_bytes += len(message)
        self._wake.set()

    def _drop(self, room: RoomId) -> None:
        if self.dropped == 0 or self.dropped % 1000 == 0:
            _log.error("redis_bus_queue_full", pending_bytes=self._pending_bytes)
        self._count_dropped(room)

    def _count_refused(self, room: RoomId, error: Exception) -> None:
        """A refusal is likely to come again, the other nodes' catch-up question included:
        report (and log) a refused room at most every ``REFUSED_REPORT_SECONDS``, or the
        question and its refusal would chase each other, and every update of the room
        would write an error line. A room refused again meanwhile is owed a report, made
        once that time has passed (the publisher wakes for it): its message is lost to the
        other nodes until they catch up, whether or not the room publishes again."""
        now = time.monotonic()
        due = self._refused_reported.get(room, -math.inf) + self.REFUSED_REPORT_SECONDS
        if now < due:
            self._tally_dropped()
            self._refused_owed[room] = error
            self._refused_owed_due = min(self._refused_owed_due, due)
            return
        self._refused_owed.pop(room, None)
        self._report_refused(room, error, now)
        self._count_dropped(room)

    def _report_refused(self, room: RoomId, error: Exception, now: float) -> None:
        if len(self._refused_reported) > 10_000:  # rooms that stopped being refused
            self._refused_reported.clear()
        self._refused_reported[room] = now
        _log.error("redis_bus_publish_refused", room=room.key, error=repr(error))

    def _settle_refused(self) -> float | None:
        """Hand the owed rooms whose quiet time has passed to the next report; return the
        seconds until the next one is due (None: none is owed)."""
        if not self._refused_owed:
            return None
        now = time.monotonic()
        if now < self._refused_owed_due:
            return self._refused_owed_due - now
        self._refused_owed_due = math.inf
        for room, error in list(self._refused_owed.items()):
            due = self._refused_reported.get(room, -math.inf) + self.REFUSED_REPORT_SECONDS
            if now < due:
                self._refused_owed_due = min(self._refused_owed_due, due)
                continue
            del self._refused_owed[room]
            self._report_refused(room, error, now)
            self._dropped_rooms.add(room)
        return self._refused_owed_due - now if self._refused_owed else None

    def _tally_dropped(self) -> None:
        self.dropped += 1
        if self._metrics is not None:
            self._metrics.bus_dropped.inc()

    def _count_dropped(self, room: RoomId) -> None:
        self._tally_dropped()
        self._dropped_rooms.add(room)
        self._wake.set()  # the publisher reports it once the queue is empty (it may be already)

    async def flush(self, within: float) -> bool:
        """Wait until every queued message was sent (True) or ``within`` seconds passed (False)."""
        deadline = asyncio.get_running_loop().time() + within
        while self._pending and asyncio.get_running_loop().time() < deadline:
            if self._publisher is None or self._publisher.done():
                return False
            await asyncio.sleep(0.005)
        return not self._pending

    async def _publish_forever(self) -> None:
        while True:
            owed_in = self._settle_refused()
            if self._dropped_rooms and not self._pending:
                await self._report_dropped()
                continue  # send what the report queued (the catch-up questions) first
            with contextlib.suppress(TimeoutError):  # woken too when an owed report falls due
                await asyncio.wait_for(self._wake.wait(), owed_in)
            self._wake.clear()
            while self._pending:
                await self._send_batch()

    async def _send_batch(self) -> None:
        batch = [self._pending[i] for i in range(min(len(self._pending), self.MAX_BATCH))]
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                for room, message in batch:
                    pipe.publish(channel(room), message)
                replies = await pipe.execute(raise_on_error=False)
        except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
            # Keep the batch (the queue is bounded) and try again: every message was
            # committed to the log, so resending one that did go out is harmless.
            _log.warning("redis_bus_publish_failed", error=repr(exc), batch=len(batch))
            await asyncio.sleep(self.RETRY_SECONDS)
            return
        except Exception as exc:  # anything else would repeat: drop the batch, go on publishing
            _log.error("redis_bus_publish_rejected", error=repr(exc), batch=len(batch))
            replies = [exc] * len(batch)
            await asyncio.sleep(self.RETRY_SECONDS)  # nothing went out: no busy loop
        for _ in batch:
            _, message = self._pending.popleft()
            self._pending_bytes -= len(message)
        # An error reply (a channel the ACL refuses, say) would come again on a resend: the
        # message is dropped, and its room reported like one the full queue refused.
        refused = [(room, message, reply)
                   for (room, message), reply in zip(batch, replies, strict=True)
                   if isinstance(reply, Exception)]  # fmt: skip
        for room, message, reply in refused:
            if message[:1] == Kind.HELLO.value:
                # A hello carries no update, and the catch-up question a report sends is
                # one: reporting its refusal would ask again, and be refused again, forever.
                # Presence mends a lost hello (a node not heard from is answered FRESH).
                self._tally_dropped()
            else:
                self._count_refused(room, reply)

    async def _report_dropped(self) -> None:
        """Everything queued went out, so Redis is back: hand over the rooms whose messages
        were dropped, for the other nodes to be asked to catch up. (Asked while the queue
        was full, they would not hear it: the question would be dropped too.)"""
        rooms, self._dropped_rooms = self._dropped_rooms, set()
        if self._on_dropped is None:
            return
        try:
            await self._on_dropped(rooms)
        except Exception as exc:  # the publisher must outlive any room's failure
            _log.error("redis_bus_on_dropped_failed", error=repr(exc), rooms=len(rooms))

    async def subscribe(self, room: RoomId, handler: BusHandler) -> None:
        name = channel(room)
        self._handlers[name] = handler
        await self._pubsub.subscribe(name)

    async def unsubscribe(self, room: RoomId, handler: BusHandler | None = None) -> None:
        name = channel(room)
        if handler is not None and self._handlers.get(name) != handler:
            return  # the room was loaded again and subscribed with its new handler
        self._handlers.pop(name, None)
        await self._pubsub.unsubscribe(name)

    async def ping(self) -> bool:
        return bool(await self._client.ping())

    async def _read_forever(self) -> None:
        while True:
            try:
                if not self._pubsub.subscribed:
                    await asyncio.sleep(0.01)
                    continue
                message = await self._pubsub.get_message(timeout=1.0)
                if message is None or message["type"] != "message":
                    continue
                handler = self._handlers.get(message["channel"].decode())
                if handler is not None:
                    await self._dispatch(handler, message["data"])
            except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
                _log.warning("redis_bus_disconnected", error=repr(exc))
                await asyncio.sleep(0.5)
                await self._resubscribe()

    async def _dispatch(self, handler: BusHandler, data: bytes) -> None:
        try:
            await handler(data)
        except Exception as exc:  # one room's failure must not stop the bus
            _log.error("bus_handler_failed", error=repr(exc))

    async def _resubscribe(self) -> None:
        try:
            if self._handlers:
                await self._pubsub.subscribe(*self._handlers)
            if self._on_gap is not None:
                await self._on_gap()
        except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
            _log.warning("redis_bus_resubscribe_failed", error=repr(exc))


class RedisAccessLedger:
    """Access changes in a hash per room (``collab:{<room>}:access``), kept a day: longer
    than any room ticket lives."""

    TTL_SECONDS = 86_400

    def __init__(self, url: str) -> None:
        self._client = redis.Redis.from_url(url)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def record(self, room: RoomId, user: str, state: str, at: float) -> None:
        key = f"collab:{room.hash_tag}:access"
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.hset(key, user, json.dumps([state, at]))
            pipe.expire(key, self.TTL_SECONDS)
            await pipe.execute()

    async def latest(self, room: RoomId, user: str) -> tuple[str, float] | None:
        raw = await self._client.hget(f"collab:{room.hash_tag}:access", user)
        if raw is None:
            return None
        return _change(raw)

    async def entries(self, room: RoomId) -> dict[str, tuple[str, float]]:
        raw = await self._client.hgetall(f"collab:{room.hash_tag}:access")
        return {_text(user): _change(value) for user, value in raw.items()}


def _text(raw: bytes | str) -> str:
    return raw if isinstance(raw, str) else raw.decode()


def _change(raw: bytes | str) -> tuple[str, float]:
    state, at = json.loads(raw)
    return str(state), float(at)
