"""Transactional outbox of this service, behind two names: :func:`enqueue` and :class:`Relay`.

Events are inserted in the transaction of the change and leave only if it commits; the relay
publishes them afterwards (at least once) and marks them sent. The table and the envelope are
those of the shared ``platform_api.kernel.outbox`` being written on branch ``pocs``; once it
is merged, this module shrinks to re-exporting it (same table, same stream names).

Publishers: Redis Streams (``XADD <prefix>:<topic> event <json>``, what the search service
consumes) or memory (tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Sequence
from typing import Any, Protocol

import asyncpg
import redis.asyncio as aioredis
import structlog

from .events import Event

_log = structlog.get_logger("dojos.outbox")
CHANNEL = "outbox"


async def enqueue(conn: asyncpg.Connection, events: Sequence[Event]) -> None:
    """Write ``events`` on ``conn``'s (tenant) transaction."""
    if not events:
        return
    await conn.executemany(
        "INSERT INTO outbox (event_id, tenant_id, type, body) VALUES ($1, $2, $3, $4)",
        [(e.id, e.tenant_id, e.type, e.to_dict()) for e in events],
    )
    await conn.execute("SELECT pg_notify($1, '')", CHANNEL)


class Publisher(Protocol):
    async def publish(self, bodies: Sequence[dict[str, Any]]) -> None: ...

    async def aclose(self) -> None: ...


class MemoryPublisher:
    """Keeps what was published (tests, single-process development)."""

    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []

    async def publish(self, bodies: Sequence[dict[str, Any]]) -> None:
        self.published.extend(bodies)

    async def aclose(self) -> None:
        return None


class RedisStreamsPublisher:
    def __init__(self, url: str, *, prefix: str, maxlen: int = 1_000_000) -> None:
        self._client = aioredis.Redis.from_url(url)
        self._prefix = prefix
        self._maxlen = maxlen

    async def publish(self, bodies: Sequence[dict[str, Any]]) -> None:
        async with self._client.pipeline(transaction=False) as pipe:
            for body in bodies:
                topic = str(body["type"]).split(".", 1)[0]
                event = json.dumps(body, separators=(",", ":"), default=str)
                pipe.xadd(
                    f"{self._prefix}:{topic}",
                    {"event": event},
                    maxlen=self._maxlen,
                    approximate=True,
                )
            await pipe.execute()

    async def aclose(self) -> None:
        await self._client.aclose()


class Relay:
    """Publish unsent rows: lock a batch (SKIP LOCKED), publish, mark sent, commit.

    ``pool`` is the owner's (the ``outbox_relay`` policy lets it see every tenant's rows).
    """

    def __init__(self, pool: asyncpg.Pool, publisher: Publisher, *, batch: int = 100) -> None:
        self.pool = pool
        self.publisher = publisher
        self.batch = batch
        self._wake = asyncio.Event()

    async def relay_once(self) -> int:
        async with self.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                """SELECT id, body FROM outbox WHERE sent_at IS NULL
                   ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED""",
                self.batch,
            )
            if not rows:
                return 0
            await self.publisher.publish([r["body"] for r in rows])
            await conn.execute(
                "UPDATE outbox SET sent_at = now() WHERE id = ANY($1::bigint[])",
                [r["id"] for r in rows],
            )
        return len(rows)

    async def drain(self) -> int:
        total = 0
        while sent := await self.relay_once():
            total += sent
        return total

    async def run(self, poll_seconds: float = 1.0) -> None:
        """Relay forever: on every NOTIFY, and every ``poll_seconds`` in case one was missed."""
        listener = await self.pool.acquire()
        try:
            await listener.add_listener(CHANNEL, self._notified)
            backoff = poll_seconds
            while True:
                try:
                    await self.drain()
                    backoff = poll_seconds
                except Exception:  # bus or database away: nothing was marked sent; retry
                    _log.exception("outbox_relay_failed", retry_in=backoff)
                    backoff = min(backoff * 2, 30.0)
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=backoff)
        finally:
            with contextlib.suppress(Exception):
                await listener.remove_listener(CHANNEL, self._notified)
            await self.pool.release(listener)

    def _notified(self, *_: object) -> None:
        self._wake.set()
