"""The POC service's background process: relays the outbox to the bus, purges the trash, and
erases what identity deletes (``platform_api.kernel.erasure``).

Run as ``python -m platform_api.pocs.worker``. It connects as the database owner
(``POCS_MIGRATIONS_DATABASE_URL``), the one role whose policies let it read every tenant's
outbox rows and the trash past retention; see ``platform_api.kernel.outbox``.
Several workers may run at once (rows are taken with SKIP LOCKED).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from datetime import timedelta

import structlog

from platform_api.kernel import create_pool
from platform_api.kernel.db import close_pool
from platform_api.kernel.erasure import run_erasure
from platform_api.kernel.events import InMemoryBus, create_publisher
from platform_api.kernel.logging import configure_logging
from platform_api.kernel.outbox import OutboxRelay
from platform_api.kernel.tasks import stop

from .service import PocsEraser, expire_idempotency_keys, purge_expired
from .settings import PocsSettings

_log = structlog.get_logger("pocs.worker")
PURGE_EVERY_SECONDS = 3600


async def purge_forever(pool: object, retention: timedelta) -> None:
    while True:
        try:
            purged = await purge_expired(pool, retention)  # type: ignore[arg-type]
            if purged:
                _log.info("trash_purged", count=purged)
            expired = await expire_idempotency_keys(pool)  # type: ignore[arg-type]
            if expired:
                _log.info("idempotency_keys_expired", count=expired)
        except Exception:  # the database is away: try again at the next round
            _log.exception("trash_purge_failed")
        await asyncio.sleep(PURGE_EVERY_SECONDS)


async def main(
    settings: PocsSettings | None = None, *, erasures: InMemoryBus | None = None
) -> None:
    """Relay, purge and erase until SIGINT/SIGTERM (tests may hand the identity events in
    through ``erasures``)."""
    settings = settings or PocsSettings()
    configure_logging(f"{settings.service_name}-worker", settings.log_level)
    dsn = settings.migrations_database_url or settings.database_url
    pool = await create_pool(dsn, min_size=1, max_size=3)
    publisher = await create_publisher(settings.bus_config())
    relay = OutboxRelay(pool, publisher, batch_size=settings.relay_batch_size)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    _log.info("worker_started", bus=settings.event_bus)
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [
                group.create_task(relay.run()),
                group.create_task(
                    purge_forever(pool, timedelta(days=settings.trash_retention_days))
                ),
                group.create_task(
                    run_erasure(
                        PocsEraser(pool), settings, group=settings.service_name, memory=erasures
                    )
                ),
            ]
            await stopping.wait()
            for task in tasks:
                await stop(task)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        with contextlib.suppress(Exception):
            await publisher.aclose()
        await close_pool(pool)


if __name__ == "__main__":
    asyncio.run(main())
