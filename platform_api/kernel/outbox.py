"""Transactional outbox: events are written with the change, in the same transaction, and a
relay publishes them afterwards (at least once).

Tenant safety. The ``outbox`` table is under forced row-level security like every tenant
table: the application role (which serves requests) may only insert and see rows of the
transaction's tenant. The relay must read every tenant's rows, so a second, narrow policy
(``outbox_relay``) lets exactly one role read and mark them: the role that ran the migration,
i.e. the database owner, whose DSN the stack passes as ``<PREFIX>MIGRATIONS_DATABASE_URL``.
That role already controls the schema, so this grants it nothing new, while the request-facing
role keeps no way to see other tenants' events. (A dedicated ``<service>_relay`` role with
SELECT/UPDATE on ``outbox`` only is the hardening step when the owner's credentials must stay
out of long-running processes: point the policy at it instead of ``CURRENT_USER``.)

The table and both policies are created by ``platform_api.kernel.migrations.create_outbox``,
called from the service's migration.

Delay. A row may be held back (``enqueue(..., delay=...)``): identity sends each erasure a
second time once every access token issued before it has expired.

Order. Rows are published in id order per batch, but several relays (SKIP LOCKED) or retries
can reorder them across batches; consumers order by the aggregate's version.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import timedelta

import asyncpg
import structlog
from asyncpg.pool import PoolConnectionProxy

from .db import usable
from .events import Event, Publisher

_log = structlog.get_logger("outbox")
CHANNEL = "outbox"


async def enqueue(
    conn: asyncpg.Connection, events: list[Event], *, delay: timedelta | None = None
) -> None:
    """Write ``events`` on ``conn``'s (tenant) transaction; they leave only if it commits,
    and not before ``delay`` has passed when one is given."""
    if not events:
        return
    await conn.executemany(
        """INSERT INTO outbox (event_id, tenant_id, type, body, deliver_after)
           VALUES ($1, $2, $3, $4, now() + $5::interval)""",
        [(e.id, e.tenant_id, e.type, e.to_dict(), delay) for e in events],
    )
    # Delivered at commit: wakes the relay at once instead of at its next poll.
    await conn.execute("SELECT pg_notify($1, '')", CHANNEL)


class OutboxRelay:
    """Publishes unsent outbox rows: lock a batch (SKIP LOCKED), publish, mark sent, commit.

    A crash after publishing and before the commit publishes the batch again: at-least-once.
    Several relays may run at once; each takes different rows. Sent rows older than
    ``keep_sent`` are deleted once an hour; ``keep_sent=None`` keeps them all.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        publisher: Publisher,
        *,
        batch_size: int = 100,
        poll_seconds: float = 1.0,
        keep_sent: timedelta | None = timedelta(days=7),
    ) -> None:
        self.pool = pool
        self.publisher = publisher
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.keep_sent = keep_sent
        self._wake = asyncio.Event()
        self._last_prune = 0.0

    async def relay_once(self) -> int:
        """Publish one batch; return how many events left."""
        async with self.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                """SELECT id, body FROM outbox
                   WHERE sent_at IS NULL AND (deliver_after IS NULL OR deliver_after <= now())
                   ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED""",
                self.batch_size,
            )
            if not rows:
                return 0
            await self.publisher.publish([Event.from_dict(r["body"]) for r in rows])
            await conn.execute(
                "UPDATE outbox SET sent_at = now() WHERE id = ANY($1::bigint[])",
                [r["id"] for r in rows],
            )
        return len(rows)

    async def drain(self) -> int:
        """Publish until nothing is left; return the total."""
        total = 0
        while sent := await self.relay_once():
            total += sent
        return total

    async def prune(self) -> int:
        """Delete rows sent longer than ``keep_sent`` ago (none when it is ``None``)."""
        if self.keep_sent is None:
            return 0
        async with self.pool.acquire() as conn:
            status = await conn.execute(
                "DELETE FROM outbox WHERE sent_at < now() - $1::interval", self.keep_sent
            )
        return int(status.split()[-1])

    async def pending(self) -> int:
        """Unsent rows due (every tenant's): the relay's backlog."""
        async with self.pool.acquire() as conn:
            return int(
                await conn.fetchval(
                    """SELECT count(*) FROM outbox WHERE sent_at IS NULL
                       AND (deliver_after IS NULL OR deliver_after <= now())"""
                )
            )

    async def run(self) -> None:
        """Relay forever: on every NOTIFY, and every ``poll_seconds`` in case one was missed.

        A database or bus away, at the start or later, is retried with back-off (the
        listening connection too: a relay that stopped would leave every event unsent)."""
        listener: PoolConnectionProxy | None = None
        backoff = self.poll_seconds
        try:
            while True:
                self._wake.clear()  # before the read: a NOTIFY during it wakes the next round
                try:
                    if listener is not None and not usable(listener):  # database restarted
                        await self._drop_listener(listener)
                        listener = None
                    if listener is None:
                        listener = await self._listen()
                    await self.drain()
                    backoff = self.poll_seconds
                    if self.keep_sent is not None and time.monotonic() - self._last_prune > 3600:
                        self._last_prune = time.monotonic()
                        await self.prune()
                except Exception:  # bus or database away: nothing was marked sent; retry
                    _log.exception("outbox_relay_failed", retry_in=backoff)
                    backoff = min(backoff * 2, 30.0)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(backoff):
                        await self._wake.wait()
        finally:
            await self._drop_listener(listener)

    async def _listen(self) -> PoolConnectionProxy:
        listener = await self.pool.acquire()
        try:
            await listener.add_listener(CHANNEL, self._notified)
        except BaseException:
            await self.pool.release(listener)
            raise
        return listener

    async def _drop_listener(self, listener: PoolConnectionProxy | None) -> None:
        if listener is not None:
            with contextlib.suppress(Exception):
                await listener.remove_listener(CHANNEL, self._notified)
            with contextlib.suppress(Exception):
                await self.pool.release(listener)

    def _notified(self, *_: object) -> None:
        self._wake.set()
