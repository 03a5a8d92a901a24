"""``python -m media_jobs.worker``: consume content jobs until SIGTERM/SIGINT.

Each process renders one job at a time (rendering is CPU-bound); run several processes to
scale out: they share the queue. On SIGTERM the current job is finished first; a process
killed outright loses nothing, since its job reappears after the visibility timeout.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket

import structlog

from platform_api.content.settings import ContentSettings
from platform_api.content.wiring import build_blob_store, build_queue
from platform_api.kernel import create_pool
from platform_api.kernel.db import close_pool
from platform_api.kernel.logging import configure_logging

from .jobs import Deps, handle

_log = structlog.get_logger("media_jobs.worker")


async def run(deps: Deps, stop: asyncio.Event) -> int:
    """Process jobs until ``stop`` is set; return how many deliveries were handled."""
    handled, pause = 0, 0.0
    while not stop.is_set():
        try:
            delivery = await deps.queue.receive(wait_seconds=1.0)
            pause = 0.0
        except Exception:
            # The queue is unreachable for a moment: wait (growing, capped) and try again.
            pause = min(30.0, pause * 2 or 0.5)
            _log.exception("receive_failed", retry_in=pause)
            await asyncio.sleep(pause)
            continue
        if delivery is None:
            continue
        try:
            outcome = await handle(deps, delivery)
        except Exception:
            # E.g. the database is briefly unreachable: the job reappears after the
            # visibility timeout and is retried then; this worker carries on.
            _log.exception("delivery_crashed", request_id=delivery.body.get("request_id"))
            outcome = "crashed"
        handled += 1
        _log.info("delivery_handled", outcome=outcome, request_id=delivery.body.get("request_id"))
    return handled


async def main(settings: ContentSettings | None = None) -> None:
    settings = settings or ContentSettings()
    configure_logging("media-jobs", settings.log_level)
    consumer = f"{socket.gethostname()}-{os.getpid()}"
    pool = await create_pool(settings.database_url, min_size=1, max_size=4)
    queue = build_queue(settings, consumer=consumer)
    blobs = build_blob_store(settings)
    deps = Deps(settings=settings, pool=pool, blobs=blobs, queue=queue)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    _log.info("worker_started", consumer=consumer, queue=settings.queue_backend)
    try:
        await run(deps, stop)
    finally:
        await queue.aclose()
        await blobs.aclose()
        await close_pool(pool)
        _log.info("worker_stopped", consumer=consumer)


if __name__ == "__main__":
    asyncio.run(main())
