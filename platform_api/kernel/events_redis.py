"""Events on Redis Streams: one stream per topic, one consumer group per consuming service.

A new group starts at the beginning of the retained stream, so a fresh index can catch up.
Messages stay pending until acknowledged; those pending longer than ``claim_idle_seconds``
(their consumer died, or it did not acknowledge them) are claimed by the next ``receive``
(XAUTOCLAIM): at-least-once. A delivery's ``attempts`` is the stream's delivery counter.
Keys are ``<prefix>:<topic>``, one key per command, so they work on Redis Cluster too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis
import structlog
from redis.exceptions import ResponseError

from .events import Delivery, Event, MalformedEvent
from .redis_client import redis_from_url

_log = structlog.get_logger("events.redis")


def _stream(prefix: str, topic: str) -> str:
    return f"{prefix}:{topic}"


class RedisStreamsPublisher:
    """XADD each event to its topic's stream, capped (approximately) at ``maxlen`` entries."""

    def __init__(self, client: aioredis.Redis, *, prefix: str, maxlen: int = 1_000_000) -> None:
        self._client = client
        self._prefix = prefix
        self._maxlen = maxlen

    @classmethod
    def from_url(cls, url: str, *, prefix: str = "mrbill:events") -> RedisStreamsPublisher:
        return cls(redis_from_url(url), prefix=prefix)

    async def publish(self, events: Sequence[Event]) -> None:
        async with self._client.pipeline(transaction=False) as pipe:
            for event in events:
                pipe.xadd(
                    _stream(self._prefix, event.topic),
                    {"event": event.to_json()},
                    maxlen=self._maxlen,
                    approximate=True,
                )
            await pipe.execute()

    async def aclose(self) -> None:
        await self._client.aclose()


class RedisStreamsConsumer:
    """XREADGROUP over the topics' streams as member ``name`` of consumer group ``group``."""

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        topics: Sequence[str],
        group: str,
        name: str,
        prefix: str,
        claim_idle_seconds: float = 30.0,
    ) -> None:
        self._client = client
        self._streams = [_stream(prefix, t) for t in topics]
        self._group = group
        self._name = name
        self._claim_idle_ms = int(claim_idle_seconds * 1000)

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        topics: Sequence[str],
        group: str,
        name: str,
        prefix: str = "mrbill:events",
        claim_idle_seconds: float = 30.0,
    ) -> RedisStreamsConsumer:
        """Connect and create the consumer group on every stream (idempotent)."""
        consumer = cls(
            redis_from_url(url),
            topics=topics,
            group=group,
            name=name,
            prefix=prefix,
            claim_idle_seconds=claim_idle_seconds,
        )
        try:
            await consumer._create_groups()
        except BaseException:
            await consumer.aclose()  # Redis away: a caller that tries again leaks nothing
            raise
        return consumer

    async def _create_groups(self) -> None:
        for stream in self._streams:
            try:
                await self._client.xgroup_create(stream, self._group, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    async def receive(self, *, max_messages: int = 10, wait_seconds: float = 1.0) -> list[Delivery]:
        try:
            return await self._receive(max_messages, wait_seconds)
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
        # Redis lost its data (restarted without persistence, or a node was replaced): the
        # streams and the group are gone, and every read would fail from now on.
        _log.warning("consumer_group_recreated", group=self._group)
        await self._create_groups()
        return []

    async def _receive(self, max_messages: int, wait_seconds: float) -> list[Delivery]:
        deliveries: list[Delivery] = []
        for stream in self._streams:  # first, what a dead consumer left behind
            claimed = await self._client.xautoclaim(
                stream, self._group, self._name, self._claim_idle_ms, "0-0", count=max_messages
            )
            messages = list(claimed[1])
            deliveries += await self._parse(stream, messages, await self._counts(stream, messages))
        if deliveries:
            return deliveries
        response: Any = await self._client.xreadgroup(
            self._group,
            self._name,
            dict.fromkeys(self._streams, ">"),
            count=max_messages,
            block=max(1, int(wait_seconds * 1000)),
        )
        for stream, messages in response or []:
            name = stream.decode() if isinstance(stream, bytes) else stream
            deliveries += await self._parse(name, messages)
        return deliveries

    async def _counts(self, stream: str, messages: list) -> dict[Any, int]:
        """How often each claimed message has been delivered (XPENDING's counter)."""
        if not messages:
            return {}
        async with self._client.pipeline(transaction=False) as pipe:
            for message_id, _ in messages:
                pipe.xpending_range(stream, self._group, min=message_id, max=message_id, count=1)
            answers = await pipe.execute()
        return {
            entry["message_id"]: int(entry["times_delivered"])
            for answer in answers
            for entry in answer
        }

    async def _parse(
        self, stream: str, messages: list, counts: dict[Any, int] | None = None
    ) -> list[Delivery]:
        parsed = []
        for message_id, fields in messages:
            if not fields:  # trimmed away while pending
                await self._client.xack(stream, self._group, message_id)
                continue
            try:
                event = Event.from_json(fields[b"event"])
                attempts = (counts or {}).get(message_id, 1)
                parsed.append(Delivery(event, (stream, message_id), attempts))
            except (MalformedEvent, KeyError) as exc:
                # A poison message would otherwise come back forever; log it and drop it.
                _log.error(
                    "malformed_event_dropped", stream=stream, id=str(message_id), error=str(exc)
                )
                await self._client.xack(stream, self._group, message_id)
        return parsed

    async def ack(self, deliveries: Sequence[Delivery]) -> None:
        by_stream: dict[str, list] = {}
        for delivery in deliveries:
            stream, message_id = delivery.receipt
            by_stream.setdefault(stream, []).append(message_id)
        for stream, ids in by_stream.items():
            await self._client.xack(stream, self._group, *ids)

    async def lag(self) -> int:
        """Entries not yet delivered to this group, summed over its streams (Redis 7+)."""
        total = 0
        for stream in self._streams:
            for group in await self._client.xinfo_groups(stream):
                if group["name"] in (self._group, self._group.encode()):
                    total += int(group.get("lag") or 0) + int(group.get("pending") or 0)
        return total

    async def aclose(self) -> None:
        await self._client.aclose()
