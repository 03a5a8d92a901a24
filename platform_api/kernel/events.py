"""Integration events: the envelope, the publisher and consumer ports, and the in-memory adapter.

Every event a service emits travels in the same envelope (id, type, tenant, aggregate id and
version, time, payload, W3C trace context), serialised as one JSON object. Delivery is at least
once, in no guaranteed order: consumers deduplicate and reorder with ``aggregate_id`` +
``version``. Adapters: in memory (tests, single process; this module), Redis Streams
(``events_redis``) and SNS/SQS (``events_aws``). :func:`create_publisher` and
:func:`create_consumer` pick one from settings.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal, Protocol

import structlog
from opentelemetry import propagate
from pydantic import Field, model_validator

from .settings import ServiceSettings

_log = structlog.get_logger("events")

# SQS (and SNS delivering to it) takes #x9 #xA #xD, #x20-#xD7FF, #xE000-#xFFFD and
# #x10000-#x10FFFF in a message; json.dumps already escapes what is below #x20.
_REFUSED_BY_SQS = re.compile("[\ud800-\udfff\ufffe\uffff]")


def _escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


BusKind = Literal["memory", "redis", "aws"]


class MalformedEvent(ValueError):
    """A message on the bus that is not a valid event envelope."""


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Event:
    """One integration event. ``type`` is ``<topic>.<what happened>``, e.g. ``poc.updated``."""

    type: str
    tenant_id: uuid.UUID
    aggregate_id: uuid.UUID
    version: int
    payload: dict[str, Any]
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    occurred_at: datetime = field(default_factory=_now)
    trace: dict[str, str] = field(default_factory=dict)

    @property
    def topic(self) -> str:
        return self.type.split(".", 1)[0]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "type": self.type,
            "tenant_id": str(self.tenant_id),
            "aggregate_id": str(self.aggregate_id),
            "version": self.version,
            "occurred_at": self.occurred_at.isoformat(),
            "payload": self.payload,
            "trace": self.trace,
        }

    def to_json(self) -> str:
        """Compact UTF-8 JSON. Text stays as it is (an escaped "ç" would take 6 bytes instead
        of 2, and SNS counts bytes), except the characters SNS and SQS refuse in a message:
        those are escaped, so every event can travel on every bus."""
        text = json.dumps(self.to_dict(), separators=(",", ":"), default=str, ensure_ascii=False)
        return _REFUSED_BY_SQS.sub(_escape, text)

    @classmethod
    def from_dict(cls, data: Any) -> Event:
        """Validate and build an event; anything else raises :class:`MalformedEvent`."""
        try:
            if not isinstance(data, dict):
                raise TypeError("not an object")
            kind, version, payload = data["type"], data["version"], data["payload"]
            trace = data.get("trace") or {}
            if not isinstance(kind, str) or "." not in kind or len(kind) > 100:
                raise ValueError("bad type")
            if not isinstance(version, int) or isinstance(version, bool) or version < 0:
                raise ValueError("bad version")
            if not isinstance(payload, dict) or not isinstance(trace, dict):
                raise ValueError("bad payload or trace")
            occurred_at = datetime.fromisoformat(data["occurred_at"])
            if occurred_at.tzinfo is None:
                raise ValueError("naive occurred_at")
            return cls(
                type=kind,
                tenant_id=uuid.UUID(str(data["tenant_id"])),
                aggregate_id=uuid.UUID(str(data["aggregate_id"])),
                version=version,
                payload=payload,
                id=uuid.UUID(str(data["id"])),
                occurred_at=occurred_at,
                trace={str(k): str(v) for k, v in trace.items()},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise MalformedEvent(f"not an event envelope: {exc}") from exc

    @classmethod
    def from_json(cls, raw: str | bytes) -> Event:
        try:
            return cls.from_dict(json.loads(raw))
        except (ValueError, UnicodeDecodeError) as exc:
            if isinstance(exc, MalformedEvent):
                raise
            raise MalformedEvent("not JSON") from exc


def new_event(
    type_: str, *, tenant_id: uuid.UUID, aggregate_id: uuid.UUID, version: int, payload: dict
) -> Event:
    """An event stamped with the current time and trace context (for the consumer's spans)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return Event(
        type=type_,
        tenant_id=tenant_id,
        aggregate_id=aggregate_id,
        version=version,
        payload=payload,
        trace=carrier,
    )


@dataclass(frozen=True, slots=True)
class Delivery:
    """An event as received; ``receipt`` is the adapter's handle for :meth:`Consumer.ack`.

    ``attempts`` counts deliveries of this message to the consumer group, this one included
    (1 the first time), so a consumer can give up on a poison event after a few tries.
    """

    event: Event
    receipt: Any
    attempts: int = 1


class Publisher(Protocol):
    async def publish(self, events: Sequence[Event]) -> None:
        """Publish every event or raise (then the caller retries them all)."""

    async def aclose(self) -> None: ...


class Consumer(Protocol):
    async def receive(self, *, max_messages: int = 10, wait_seconds: float = 1.0) -> list[Delivery]:
        """Wait up to ``wait_seconds`` for deliveries; unacked ones come back later."""

    async def ack(self, deliveries: Sequence[Delivery]) -> None: ...

    async def lag(self) -> int:
        """Messages published but not yet acknowledged by this consumer (approximate)."""

    async def aclose(self) -> None: ...


class InMemoryBus:
    """Publisher and consumer in one process (tests and single-process development only).

    Like the real adapters it redelivers what is not acknowledged within ``redeliver_after``.
    """

    def __init__(self, *, topics: Sequence[str] | None = None, redeliver_after: float = 30.0):
        self._topics = set(topics) if topics else None
        self._queue: list[Event] = []
        self._in_flight: dict[uuid.UUID, tuple[float, Event]] = {}
        self._attempts: dict[uuid.UUID, int] = {}
        self._redeliver_after = redeliver_after
        self._arrived = asyncio.Event()
        self.published: list[Event] = []

    async def publish(self, events: Sequence[Event]) -> None:
        for event in events:
            self.published.append(event)
            if self._topics is None or event.topic in self._topics:
                self._queue.append(event)
        self._arrived.set()

    async def receive(self, *, max_messages: int = 10, wait_seconds: float = 1.0) -> list[Delivery]:
        deadline = time.monotonic() + wait_seconds
        while True:
            now = time.monotonic()
            for key, (since, event) in list(self._in_flight.items()):
                if now - since >= self._redeliver_after:
                    del self._in_flight[key]
                    self._queue.append(event)
            if self._queue:
                batch, self._queue = self._queue[:max_messages], self._queue[max_messages:]
                deliveries = []
                for event in batch:
                    self._in_flight[event.id] = (now, event)
                    self._attempts[event.id] = self._attempts.get(event.id, 0) + 1
                    deliveries.append(Delivery(event, event.id, self._attempts[event.id]))
                return deliveries
            remaining = deadline - now
            if remaining <= 0:
                return []
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(remaining, 0.05)):
                    await self._arrived.wait()

    async def ack(self, deliveries: Sequence[Delivery]) -> None:
        for delivery in deliveries:
            if self._in_flight.pop(delivery.receipt, None) is not None:
                self._attempts.pop(delivery.receipt, None)

    async def lag(self) -> int:
        return len(self._queue) + len(self._in_flight)

    async def aclose(self) -> None:
        return None


@dataclass(frozen=True)
class BusConfig:
    """Where events go. ``aws``: SNS topic ARNs by topic, one SQS queue per consumer."""

    kind: BusKind = "redis"
    redis_url: str = ""
    stream_prefix: str = "mrbill:events"
    topic_arns: dict[str, str] = field(default_factory=dict)
    queue_url: str = ""
    aws_endpoint_url: str | None = None
    aws_region: str = "sa-east-1"


async def create_publisher(config: BusConfig, *, memory: InMemoryBus | None = None) -> Publisher:
    """The publisher adapter named by ``config.kind``."""
    if config.kind == "memory":
        return memory or InMemoryBus()
    if config.kind == "redis":
        from .events_redis import RedisStreamsPublisher

        return RedisStreamsPublisher.from_url(config.redis_url, prefix=config.stream_prefix)
    from .events_aws import SnsPublisher

    return await SnsPublisher.open(
        config.topic_arns, endpoint_url=config.aws_endpoint_url, region=config.aws_region
    )


async def create_consumer(
    config: BusConfig,
    *,
    topics: Sequence[str],
    group: str,
    name: str,
    memory: InMemoryBus | None = None,
) -> Consumer:
    """The consumer adapter named by ``config.kind`` (a consumer group / queue per service)."""
    if config.kind == "memory":
        return memory or InMemoryBus(topics=topics)
    if config.kind == "redis":
        from .events_redis import RedisStreamsConsumer

        return await RedisStreamsConsumer.open(
            config.redis_url, topics=topics, group=group, name=name, prefix=config.stream_prefix
        )
    from .events_aws import SqsConsumer

    return await SqsConsumer.open(
        config.queue_url, endpoint_url=config.aws_endpoint_url, region=config.aws_region
    )


class EventBusSettings(ServiceSettings):
    """Settings of a service that publishes or consumes events (``<PREFIX>EVENT_BUS`` ...)."""

    event_bus: BusKind = "redis"
    event_stream_prefix: str = "mrbill:events"
    # aws: {"poc": "arn:aws:sns:...:mrbill-poc-events", ...} and this service's queue.
    event_topic_arns: dict[str, str] = Field(default_factory=dict)
    event_queue_url: str = ""
    aws_endpoint_url: str = ""  # moto or LocalStack in tests; empty in production
    aws_region: str = "sa-east-1"
    # Whether the service reads events (every one does, if only identity's erasures, but
    # identity itself): on AWS it then needs its queue.
    consumes_events: ClassVar[bool] = True

    @model_validator(mode="after")
    def _production_bus(self) -> EventBusSettings:
        """In production, events must leave the process, and a consumer must have its
        queue: otherwise they are lost, or erasures wait for ever, while the service looks
        healthy."""
        if self.environment != "production":
            return self
        prefix = (self.model_config.get("env_prefix") or "").upper()
        if self.event_bus == "memory":
            raise ValueError(f"production needs {prefix}EVENT_BUS=redis or aws, not memory")
        if self.event_bus == "aws" and self.consumes_events and not self.event_queue_url:
            raise ValueError(f"{prefix}EVENT_BUS=aws needs {prefix}EVENT_QUEUE_URL")
        return self

    def bus_config(self) -> BusConfig:
        return BusConfig(
            kind=self.event_bus,
            redis_url=self.redis_url,
            stream_prefix=self.event_stream_prefix,
            topic_arns=self.event_topic_arns,
            queue_url=self.event_queue_url,
            aws_endpoint_url=self.aws_endpoint_url or None,
            aws_region=self.aws_region,
        )
