"""The dojo worker: rotates due turns, takes periodic snapshots, pushes pending room state,
relays the outbox, and erases what identity deletes (``platform_api.kernel.erasure``). Runs
inside each API process (``DOJOS_RUN_WORKER``, the default) or alone
(``python -m platform_api.dojos.worker``); any number may run at once.

Finding work needs every tenant's due dojos, so it reads them (ids only) on the owner's
connection (policy ``scheduler``); each dojo is then handled in its own tenant transaction
as the application role, with its row locked ``FOR UPDATE SKIP LOCKED``: a dojo another
worker is handling is skipped, and conditions are re-checked under the lock, so a turn
rotates exactly once.
"""

from __future__ import annotations

import asyncio
import signal
import uuid
from contextlib import AsyncExitStack
from datetime import timedelta

import asyncpg
import structlog

from platform_api.kernel import create_pool, tenant_transaction
from platform_api.kernel.erasure import run_erasure
from platform_api.kernel.events import InMemoryBus, Publisher, create_publisher
from platform_api.kernel.outbox import OutboxRelay
from platform_api.kernel.tasks import stop

from . import store
from .erasure import DojosEraser
from .room import push_room, room_state
from .service import Dojos, now
from .settings import DojosSettings
from .snapshots import periodic
from .timer import rotate

_log = structlog.get_logger("dojos.worker")


def bus_settings(settings: DojosSettings) -> DojosSettings:
    """``settings`` with the bus in memory when Redis is asked for without a URL (tests,
    single-process development): events then stay in this process."""
    if settings.event_bus == "redis" and not settings.redis_url:
        return settings.model_copy(update={"event_bus": "memory"})
    return settings


async def publisher_for(settings: DojosSettings) -> Publisher:
    """The configured bus (Redis Streams, SNS, in memory; see :func:`bus_settings`)."""
    return await create_publisher(bus_settings(settings).bus_config())


async def tick(ctx: Dojos, tenant_id: uuid.UUID, dojo_id: uuid.UUID) -> None:
    """Do whatever is due for one dojo."""
    async with tenant_transaction(ctx.pool, tenant_id) as conn:
        dojo = await store.lock_dojo_if_free(conn, tenant_id, dojo_id)
        if dojo is None:
            return
        at = now()
        if (
            dojo["format"] == "randori"  # (see ``store.due_dojos``)
            and dojo["timer_state"] == "running"
            and dojo["turn_due_at"] <= at
        ):
            dojo = await rotate(ctx, conn, dojo)
        due = dojo["next_snapshot_at"]
        if dojo["status"] == "active" and due is not None and due <= at:
            await periodic(ctx, conn, dojo, await room_state(ctx, dojo))
            every = timedelta(seconds=ctx.settings.snapshot_every_seconds)
            await conn.execute(
                "UPDATE dojos SET next_snapshot_at = $3 WHERE tenant_id = $1 AND dojo_id = $2",
                tenant_id,
                dojo_id,
                at + every,
            )
        sync = dojo["room_sync_due"]
    if sync:
        await push_room(ctx, tenant_id, dojo_id)


async def schedule_once(ctx: Dojos, owner_pool: asyncpg.Pool) -> int:
    async with owner_pool.acquire() as conn:
        due = await store.due_dojos(conn)
    for row in due:
        try:
            await tick(ctx, row["tenant_id"], row["dojo_id"])
        except Exception:  # one dojo's failure must not stall the others
            _log.exception("dojo_tick_failed", dojo_id=str(row["dojo_id"]))
    return len(due)


async def schedule_forever(ctx: Dojos, owner_pool: asyncpg.Pool) -> None:
    interval = ctx.settings.scheduler_interval_seconds
    while True:
        try:
            await schedule_once(ctx, owner_pool)
        except Exception:  # the database is away: try again at the next tick
            _log.exception("scheduler_failed")
            await asyncio.sleep(min(5.0, interval * 10))
        await asyncio.sleep(interval)


def report_end(task: asyncio.Task[None]) -> None:
    """Log a worker that ended by failing (it only ends otherwise when cancelled)."""
    if not task.cancelled() and (error := task.exception()) is not None:
        _log.error("dojo_worker_failed", error=repr(error))


async def run(
    ctx: Dojos,
    owner_pool: asyncpg.Pool,
    publisher: Publisher,
    *,
    erasures: InMemoryBus | None = None,
) -> None:
    """Scheduler, relay and erasure until cancelled (tests may hand the identity events in
    through ``erasures``)."""
    async with asyncio.TaskGroup() as group:
        group.create_task(schedule_forever(ctx, owner_pool))
        # Sent rows are kept (no pruning), as this service always has.
        group.create_task(OutboxRelay(owner_pool, publisher, keep_sent=None).run())
        group.create_task(
            run_erasure(
                DojosEraser(ctx),
                bus_settings(ctx.settings),
                group=ctx.settings.service_name,
                memory=erasures,
            )
        )


async def main() -> None:
    """Standalone worker, until SIGINT/SIGTERM."""
    from .app import build_context

    settings = DojosSettings()
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    try:
        # Closed in reverse order, also when a later one cannot be made.
        async with build_context(settings) as ctx, AsyncExitStack() as opened:
            owner = await create_pool(settings.migrations_database_url, min_size=1, max_size=3)
            opened.push_async_callback(owner.close)
            publisher = await publisher_for(settings)
            opened.push_async_callback(publisher.aclose)
            task = asyncio.create_task(run(ctx, owner, publisher), name="dojos-worker")
            task.add_done_callback(report_end)
            task.add_done_callback(lambda _: stopping.set())  # a worker that failed exits
            try:
                await stopping.wait()
            finally:
                if not task.done():  # (one that failed is logged)
                    await stop(task)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    if task.done() and not task.cancelled() and task.exception() is not None:
        raise SystemExit(1)  # failed: a supervisor restarts it


if __name__ == "__main__":
    asyncio.run(main())
