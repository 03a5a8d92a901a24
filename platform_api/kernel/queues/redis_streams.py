"""Job queue on Redis Streams: one stream, one consumer group, a delay set and a dead-letter stream.

- new jobs: ``XADD`` to ``{name}:jobs``; consumers read with ``XREADGROUP`` (group ``workers``);
- visibility timeout: an entry pending longer than it is taken over with ``XAUTOCLAIM`` by any
  consumer (which is how a killed worker's job is picked up); ``extend`` re-claims it with
  ``JUSTID`` to reset its idle time;
- retries with backoff: the entry is acked and parked in the sorted set ``{name}:delayed``
  (score = when it is due); due entries move back to the stream atomically (a Lua script);
- dead letters: ``XADD`` to ``{name}:dead`` with the reason.

All keys share the ``{name}`` hash tag, so they live in one Redis Cluster slot.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import TYPE_CHECKING, Any, cast

import structlog
from redis.exceptions import ResponseError

from ..redis_client import redis_from_url

_log = structlog.get_logger("queues.redis_streams")

if TYPE_CHECKING:
    from . import Delivery

GROUP = "workers"

# Move due entries from the delay set back onto the stream (atomic: no double promotion).
_PROMOTE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 50)
for _, member in ipairs(due) do
  if redis.call('ZREM', KEYS[1], member) == 1 then
    local job = cjson.decode(member)
    redis.call('XADD', KEYS[2], '*', 'body', job['body'], 'prior', tostring(job['prior']))
  end
end
return #due
"""


# Replies as this client gets them (RESP2, decode_responses=True); redis-py annotates its
# commands with a union of every protocol's and decoding's shapes.
Entry = tuple[str, dict[str, str]]  # (entry id, fields)
# [next start id, [(entry id, fields or None if deleted meanwhile), ...], [deleted ids]]
AutoclaimReply = tuple[str, list[tuple[str, dict[str, str] | None]], list[str]]
XReadReply = list[tuple[str, list[Entry]]]


class RedisStreamsQueue:
    def __init__(
        self,
        redis_url: str,
        name: str,
        *,
        visibility_timeout: float = 60.0,
        consumer: str | None = None,
    ) -> None:
        self._redis = redis_from_url(redis_url, decode_responses=True)
        tag = "{" + name + "}"
        self.stream, self.delayed, self.dead = f"{tag}:jobs", f"{tag}:delayed", f"{tag}:dead"
        self.visibility_ms = int(visibility_timeout * 1000)
        self.consumer = consumer or f"consumer-{uuid.uuid4().hex[:12]}"
        self._promote = self._redis.register_script(_PROMOTE)
        self._group_ready = False

    async def _ensure_group(self) -> None:
        if self._group_ready:
            return
        try:
            await self._redis.xgroup_create(self.stream, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    async def send(self, body: dict[str, Any]) -> None:
        await self._ensure_group()
        await self._redis.xadd(self.stream, {"body": json.dumps(body), "prior": "0"})

    async def receive(self, *, wait_seconds: float = 1.0) -> Delivery | None:
        try:
            return await self._receive(wait_seconds)
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
        # Redis lost its data (restarted without persistence, or a node was replaced): the
        # stream and the group are gone, and every read would fail from now on.
        _log.warning("queue_group_recreated", queue=self.stream)
        self._group_ready = False
        await self._ensure_group()
        return None

    async def _receive(self, wait_seconds: float) -> Delivery | None:
        await self._ensure_group()
        await self._promote(keys=[self.delayed, self.stream], args=[time.time()])
        # First, jobs whose consumer went quiet for longer than the visibility timeout.
        _, claimed, *_ = cast(
            AutoclaimReply,
            await self._redis.xautoclaim(
                self.stream, GROUP, self.consumer, self.visibility_ms, "0-0", count=1
            ),
        )
        for entry_id, fields in claimed:
            if fields:  # None when the entry was deleted meanwhile
                return await self._delivery(entry_id, fields)
        block = max(1, int(wait_seconds * 1000))
        response = cast(
            XReadReply | None,
            await self._redis.xreadgroup(
                GROUP, self.consumer, {self.stream: ">"}, count=1, block=block
            ),
        )
        for _, entries in response or []:
            for entry_id, fields in entries:
                return await self._delivery(entry_id, fields)
        return None

    async def _delivery(self, entry_id: str, fields: dict[str, str]) -> Delivery:
        from . import Delivery

        pending = await self._redis.xpending_range(
            self.stream, GROUP, min=entry_id, max=entry_id, count=1
        )
        delivered = int(pending[0]["times_delivered"]) if pending else 1
        return Delivery(
            handle=entry_id,
            body=json.loads(fields["body"]),
            attempt=int(fields.get("prior", "0")) + delivered,
        )

    async def ack(self, delivery: Delivery) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.xack(self.stream, GROUP, delivery.handle)
            pipe.xdel(self.stream, delivery.handle)
            await pipe.execute()

    async def retry(self, delivery: Delivery, *, delay_seconds: float) -> None:
        member = json.dumps(
            {"body": json.dumps(delivery.body), "prior": delivery.attempt, "n": uuid.uuid4().hex}
        )
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.xack(self.stream, GROUP, delivery.handle)
            pipe.xdel(self.stream, delivery.handle)
            pipe.zadd(self.delayed, {member: time.time() + delay_seconds})
            await pipe.execute()

    async def dead_letter(self, delivery: Delivery, *, reason: str) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.xadd(
                self.dead,
                {
                    "body": json.dumps(delivery.body),
                    "reason": reason[:2000],
                    "attempts": str(delivery.attempt),
                },
            )
            pipe.xack(self.stream, GROUP, delivery.handle)
            pipe.xdel(self.stream, delivery.handle)
            await pipe.execute()

    async def extend(self, delivery: Delivery) -> None:
        await self._redis.xclaim(
            self.stream, GROUP, self.consumer, 0, [delivery.handle], justid=True
        )

    async def dead_letters(self, *, limit: int = 100) -> list[dict[str, Any]]:
        entries = cast(list[Entry], await self._redis.xrange(self.dead, count=limit))
        return [
            {**json.loads(f["body"]), "reason": f["reason"], "attempts": int(f["attempts"])}
            for _, f in entries
        ]

    async def depth(self) -> int:
        """Jobs not yet done: waiting, in flight or delayed (a gauge for autoscaling)."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.xlen(self.stream)
            pipe.zcard(self.delayed)
            waiting, delayed = await pipe.execute()
        return int(waiting) + int(delayed)

    async def purge(self) -> None:
        """Delete every key of this queue (tests)."""
        await self._redis.delete(self.stream, self.delayed, self.dead)
        self._group_ready = False

    async def aclose(self) -> None:
        await self._redis.aclose()
