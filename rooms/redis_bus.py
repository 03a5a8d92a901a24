"""Fan-out between nodes over Redis pub/sub, one channel per room.

Channel names carry the room's hash tag (``collab:{<tenant>:<room>}``) so the same scheme
works with sharded pub/sub (SPUBLISH/SSUBSCRIBE) on Redis Cluster. Pub/sub is at-most-once:
after a reconnect the node re-applies the recent update log of every loaded room
(``on_gap``), and every update was committed to the log before it was published.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

import redis.asyncio as redis
import structlog

from .ids import RoomId
from .ports import BusHandler

_log = structlog.get_logger("rooms.bus")


def channel(room: RoomId) -> str:
    return f"collab:{room.hash_tag}"


class RedisBus:
    def __init__(self, url: str, *, on_gap: Callable[[], Awaitable[None]] | None = None) -> None:
        self._client = redis.Redis.from_url(url)
        self._pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        self._handlers: dict[str, BusHandler] = {}
        self._on_gap = on_gap
        self._reader: asyncio.Task[None] | None = None

    async def __aenter__(self) -> RedisBus:
        await self._client.ping()
        self._reader = asyncio.create_task(self._read_forever(), name="redis-bus-reader")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._reader:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
        await self._pubsub.aclose()
        await self._client.aclose()

    async def publish(self, room: RoomId, message: bytes) -> None:
        await self._client.publish(channel(room), message)

    async def subscribe(self, room: RoomId, handler: BusHandler) -> None:
        name = channel(room)
        self._handlers[name] = handler
        await self._pubsub.subscribe(name)

    async def unsubscribe(self, room: RoomId) -> None:
        name = channel(room)
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
        state, at = json.loads(raw)
        return str(state), float(at)
