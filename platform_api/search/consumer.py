"""The index's event consumer: receive a batch, apply it, acknowledge it; forever.

It consumes the ``poc`` and ``dojo`` topics, and ``identity`` for erasures (an organization
deleted: its documents leave the index, and its late events are ignored). It runs inside the search API process by
default (tantivy has one writer per index). With OpenSearch it may run as its own
processes, any number of them: ``python -m platform_api.search.consumer`` (versions make
concurrent consumers safe).

Poison events: when a batch fails, its events are applied one by one, and those that work
are acknowledged. One that fails alone stays unacknowledged (the bus brings it back) until
its delivery count reaches ``SEARCH_CONSUMER_MAX_ATTEMPTS``; then, if the index and the
database answer (so the failure is the event's, not an outage), it is parked as a dead
letter (``dead_letters``) and acknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import time

import structlog

from platform_api.kernel.erasure import TENANT_DELETED
from platform_api.kernel.events import Consumer, Delivery, InMemoryBus, create_consumer
from platform_api.kernel.tasks import stop

from .dead_letters import park
from .service import Search, apply_events
from .settings import SearchSettings

_log = structlog.get_logger("search.consumer")
TOPICS = ("poc", "dojo", "identity")
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
        self,
        search: Search,
        consumer: Consumer,
        *,
        batch: int = 100,
        wait_seconds: float = 1.0,
        max_attempts: int = 5,
    ) -> None:
        self.search = search
        self.consumer = consumer
        self.batch = batch
        self.wait_seconds = wait_seconds
        self.max_attempts = max_attempts
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
            try:
                await apply_events(self.search, [d.event for d in deliveries])
            except Exception:
                _log.warning("batch_failed_trying_one_by_one", size=len(deliveries))
                await self._one_by_one(deliveries)
            else:
                await self.consumer.ack(deliveries)
        if time.monotonic() - self._backlog_at > BACKLOG_EVERY_SECONDS:
            self._backlog_at = time.monotonic()
            self.search.metrics.backlog.set(await self.consumer.lag())
        return len(deliveries)

    async def _one_by_one(self, deliveries: list[Delivery]) -> None:
        """Apply and acknowledge each event alone; park those failing too often."""
        failed: list[tuple[Delivery, Exception]] = []
        for delivery in deliveries:
            try:
                await apply_events(self.search, [delivery.event])
            except Exception as exc:  # judged below: the event's fault, or an outage
                failed.append((delivery, exc))
            else:
                await self.consumer.ack([delivery])
        if not failed:
            return
        if len(failed) == len(deliveries):
            await self._healthy()  # raises during an outage: nothing is parked
        for delivery, error in failed:
            if delivery.attempts < self.max_attempts or delivery.event.type == TENANT_DELETED:
                # (an erasure is never parked: it is tried until it works)
                _log.warning(
                    "event_failed",
                    event_id=str(delivery.event.id),
                    attempts=delivery.attempts,
                    error=repr(error),
                )
                continue
            reason = f"failed {delivery.attempts} times: {error!r}"
            await park(self.search, delivery.event, reason, attempts=delivery.attempts)
            self.search.metrics.events.labels("dead_lettered").inc()
            await self.consumer.ack([delivery])

    async def _healthy(self) -> None:
        """Raise unless the index and the database answer."""
        await self.search.index.ping()
        await self.search.dojo_index.ping()
        async with self.search.pool.acquire() as conn:
            await conn.fetchval("SELECT 1")

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
                    async with asyncio.timeout(backoff):
                        await self._stopping.wait()
                backoff = min(backoff * 2, 30.0)

    async def stop_and_wait(self, task: asyncio.Task[None]) -> None:
        """Stop gracefully (no read cut in half); cancel only if that takes too long."""
        self.stop()
        try:
            async with asyncio.timeout(self.wait_seconds + 5):
                await asyncio.shield(task)
        except TimeoutError:
            await stop(task)


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
        worker = IndexConsumer(
            search,
            consumer,
            batch=settings.consumer_batch,
            max_attempts=settings.consumer_max_attempts,
        )
        task = asyncio.create_task(worker.run())
        await stop.wait()
        await worker.stop_and_wait(task)
        await consumer.aclose()


if __name__ == "__main__":
    asyncio.run(main())
