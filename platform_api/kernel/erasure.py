"""Erasure on request (LGPD, art. 18, VI): when an organization or an account is deleted,
every service erases what it holds of it.

Identity writes ``identity.tenant.deleted`` or ``identity.user.deleted`` to its outbox in the
transaction that deletes the tenant or the user, and its relay publishes them on the
``identity`` topic. Each service that holds tenant data runs an :class:`ErasureConsumer` in a
consumer group of its own, with an :class:`Eraser` that knows its tables and files.

Erasing is idempotent (an event may arrive twice, and a failed one comes back), and an event
that fails is never dropped: erasure is an obligation, so it is retried until it works, and
logged each time it does not. What a service keeps about a departed member (as opposed to a
deleted organization) is its own decision, documented on its eraser.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from typing import Protocol

import structlog

from .events import (
    BusConfig,
    Consumer,
    Delivery,
    Event,
    EventBusSettings,
    InMemoryBus,
    create_consumer,
    new_event,
)

_log = structlog.get_logger("erasure")
TOPIC = "identity"
TENANT_DELETED = "identity.tenant.deleted"
USER_DELETED = "identity.user.deleted"
# Terminal facts: nothing follows them to be ordered against. Identity sends each twice
# (at once, and once older access tokens have expired), as two events of this version.
VERSION = 1


def tenant_deleted(tenant_id: uuid.UUID) -> Event:
    """The organization ``tenant_id`` and everything in it are to be erased."""
    return new_event(
        TENANT_DELETED,
        tenant_id=tenant_id,
        aggregate_id=tenant_id,
        version=VERSION,
        payload={"tenant_id": str(tenant_id)},
    )


def user_deleted(tenant_id: uuid.UUID, user_id: uuid.UUID) -> Event:
    """The account ``user_id`` left the organization ``tenant_id`` for good."""
    return new_event(
        USER_DELETED,
        tenant_id=tenant_id,
        aggregate_id=user_id,
        version=VERSION,
        payload={"user_id": str(user_id)},
    )


class Eraser(Protocol):
    """A service's erasure; both calls must be idempotent."""

    async def erase_tenant(self, tenant_id: uuid.UUID) -> None: ...

    async def erase_user(self, tenant_id: uuid.UUID, user_id: uuid.UUID) -> None: ...


async def open_consumer(
    bus: EventBusSettings | BusConfig, *, group: str, memory: InMemoryBus | None = None
) -> Consumer:
    """This process's member of ``group`` on the ``identity`` topic (on AWS: the service's
    queue, which the identity topic must be subscribed to)."""
    return await create_consumer(
        bus.bus_config() if isinstance(bus, EventBusSettings) else bus,
        topics=(TOPIC,),
        group=group,
        name=f"{socket.gethostname()}-{os.getpid()}",
        memory=memory,
    )


class ErasureConsumer:
    """Receives identity events and hands deletions to an :class:`Eraser`; forever.

    Each event is acknowledged once its erasure is done; one that fails stays
    unacknowledged and comes back (Redis: claimed again after 30 s; SQS: after its
    visibility timeout). Other event types on the topic are acknowledged and ignored.
    """

    def __init__(
        self,
        eraser: Eraser,
        consumer: Consumer,
        *,
        service: str,
        batch: int = 10,
        wait_seconds: float = 1.0,
    ) -> None:
        self.eraser = eraser
        self.consumer = consumer
        self.service = service
        self.batch = batch
        self.wait_seconds = wait_seconds

    async def handle(self, event: Event) -> None:
        """Erase what ``event`` asks for (other identity events ask for nothing)."""
        if event.type == TENANT_DELETED:
            await self.eraser.erase_tenant(event.tenant_id)
        elif event.type == USER_DELETED:
            await self.eraser.erase_user(event.tenant_id, event.aggregate_id)
        else:
            return
        _log.info(
            "erased",
            service=self.service,
            event_type=event.type,
            tenant_id=str(event.tenant_id),
            subject=str(event.aggregate_id),
        )

    async def run_once(self) -> int:
        """Handle one batch; return how many events were done (acknowledged)."""
        deliveries = await self.consumer.receive(
            max_messages=self.batch, wait_seconds=self.wait_seconds
        )
        done: list[Delivery] = []
        for delivery in deliveries:
            try:
                await self.handle(delivery.event)
            except Exception as exc:  # comes back; an erasure is never given up
                _log.error(
                    "erasure_failed",
                    service=self.service,
                    event_id=str(delivery.event.id),
                    event_type=delivery.event.type,
                    attempts=delivery.attempts,
                    error=repr(exc),
                )
            else:
                done.append(delivery)
        if done:
            await self.consumer.ack(done)
        return len(done)

    async def run(self) -> None:
        """Consume until cancelled; a bus that is away is retried with backoff."""
        backoff = 0.5
        while True:
            try:
                await self.run_once()
                backoff = 0.5
            except Exception:
                _log.exception("erasure_consume_failed", service=self.service, retry_in=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)


async def run_erasure(
    eraser: Eraser,
    bus: EventBusSettings | BusConfig,
    *,
    group: str,
    memory: InMemoryBus | None = None,
    retry_seconds: float = 5.0,
) -> None:
    """Erase until cancelled (a service's background task, stopped with
    :func:`~platform_api.kernel.tasks.stop`).

    A bus that cannot be reached when the consumer opens is tried again every
    ``retry_seconds``: the service's other work goes on meanwhile, and deletions wait on
    the bus. An erasure cut short by the cancellation rolls back and comes back (it was not
    acknowledged). The consumer is closed however often the task is cancelled.
    """
    while True:
        try:
            consumer = await open_consumer(bus, group=group, memory=memory)
            break
        except Exception as exc:
            _log.error("erasure_consumer_unavailable", service=group, error=repr(exc))
            await asyncio.sleep(retry_seconds)
    try:
        await ErasureConsumer(eraser, consumer, service=group).run()
    finally:
        await _close(consumer)


async def _close(consumer: Consumer) -> None:
    """Close ``consumer`` to the end, however often the task is cancelled meanwhile (the
    canceller bounds how long it waits); then let the cancellation through."""
    closing = asyncio.ensure_future(consumer.aclose())
    cancelled = False
    while not closing.done():
        try:
            await asyncio.shield(closing)
        except asyncio.CancelledError:
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError
