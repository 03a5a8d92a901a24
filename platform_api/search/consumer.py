"""The index's event consumer: receive a batch, apply it, acknowledge it; forever.

It runs inside the search API process by default (tantivy has one writer per index). With
OpenSearch it may run as its own processes, any number of them: ``python -m
platform_api.search.consumer`` (versions make concurrent consumers safe).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import time

import structlog

from platform_api.kernel.events import Consumer, InMemoryBus, create_consumer

from .service import Search, apply_events
from .settings import SearchSettings

_log = structlog.get_logger("search.consumer")
TOPICS = ("poc", "dojo")
BACKLOG_EVERY_SECONDS = 5.0


async def open_consumer(settings: SearchSettings, memory: InMemoryBus | None = None) -> Consumer:
    """This process's member of the search service's consumer group."""
    return await create_consumer(
        settings.bus_config(),
        topics=TOPICS,
        group=settings.consumer_group,
        name=f"{socket.gethostname()}-{os.getpid()}",
        memory=memory,
    )


class IndexConsumer:
    def __init__(
        self, search: Search, consumer: Consumer, *, batch: int = 100, wait_seconds: float = 1.0
    ) -> None:
        self.search = search
        self.consumer = consumer
        self.batch = batch
        self.wait_seconds = wait_seconds
        self._backlog_at = 0.0
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        """Finish the current batch and return from :meth:`run` (within ``wait_seconds``)."""
        self._stopping.set()

    async def run_once(self) -> int:
        """Handle one batch; return its size. Unacknowledged on failure: it comes back."""
        deliveries = await self.consumer.receive(
            max_messages=self.batch, wait_seconds=self.wait_seconds
        )
        if deliveries:
            await apply_events(self.search, [d.event for d in deliveries])
            await self.consumer.ack(deliveries)
        if time.monotonic() - self._backlog_at > BACKLOG_EVERY_SECONDS:
            self._backlog_at = time.monotonic()
            self.search.metrics.backlog.set(await self.consumer.lag())
        return len(deliveries)

    async def run(self) -> None:
        """Consume until :meth:`stop`; failures are logged and retried with backoff."""
        backoff = 0.5
        while not self._stopping.is_set():
            try:
                await self.run_once()
                backoff = 0.5
            except Exception:  # bus, database or index away: the batch will be redelivered
                _log.exception("consume_failed", retry_in=backoff)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), timeout=backoff)
                backoff = min(backoff * 2, 30.0)

    async def stop_and_wait(self, task: asyncio.Task[None]) -> None:
        """Stop gracefully (no read cut in half); cancel only if that takes too long."""
        self.stop()
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout=self.wait_seconds + 5)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def main() -> None:
    """Standalone consumer (OpenSearch deployments), until SIGINT/SIGTERM."""
    from .app import build_search

    settings = SearchSettings()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with build_search(settings) as search:
        consumer = await open_consumer(settings)
        worker = IndexConsumer(search, consumer, batch=settings.consumer_batch)
        task = asyncio.create_task(worker.run())
        await stop.wait()
        await worker.stop_and_wait(task)
        await consumer.aclose()


if __name__ == "__main__":
    asyncio.run(main())
