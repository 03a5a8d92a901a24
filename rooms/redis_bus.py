"""Fan-out between nodes over Redis pub/sub, one channel per room.

Channel names carry the room's hash tag (``collab:{<tenant>:<room>}``), so the same scheme
works with sharded pub/sub (SPUBLISH/SSUBSCRIBE) on Redis Cluster: ``ShardedRedisBus``,
where a room's messages stay on the shard that owns its slot. Pub/sub is at-most-once,
and every update was committed to the log before it was published, so a gap is mended by
catching up from the log, whichever side it is on:

- this node missed messages (its link dropped): after resubscribing the bus calls ``on_gap``
  with the rooms that may have missed some (None: every room), and they catch up;
- the other nodes missed this node's messages (the queue below was full, or Redis refused
  them with an error reply, so they were dropped): the bus remembers those rooms and, once
  it has sent what was queued ahead of the drop, calls ``on_dropped`` with them, and the rooms ask
  the other nodes to catch up. A room Redis keeps refusing is handed over at most every
  ``REFUSED_REPORT_SECONDS``, but no refused update goes unreported (a refused hello,
  such as the catch-up question itself, is only counted).

Both callbacks run on the bus's own tasks (``on_gap`` on the reader): they must only start
work, never wait for it, or every room's fan-out waits with them.

Every link gives up on a Redis that stops answering without resetting it (a failed-over
host, a partition): commands and connects time out after ``timeout`` seconds, and a
subscription link that said nothing for that long is pinged, and taken for lost (a gap) when
not even the ping is answered within that time again. Otherwise such a link would hold every
outgoing message, or hear nothing, until the kernel gave up on it, many minutes later.

Publishing never waits on Redis: messages queue (bounded in bytes) and one task sends what
is queued so far in pipelines of up to 512 messages and 1 MiB — one connection and one round
trip per batch, however many rooms are busy — and resends a batch that failed once Redis is
back. On a cluster each shard has a queue, a task and a client of its own (a lane), so a
shard that is away holds up only its own rooms' messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as redis
import structlog
from redis.asyncio.client import Pipeline, PubSub
from redis.asyncio.cluster import ClusterNode, ClusterPipeline, ClusterPubSub, RedisCluster
from redis.crc import key_slot
from redis.exceptions import (
    AskError,
    ClusterDownError,
    MovedError,
    RedisClusterException,
    RedisError,
    SlotNotCoveredError,
    TryAgainError,
)

from platform_api.kernel.tasks import stop

from .frames import Kind
from .ids import RoomId
from .metrics import RoomMetrics
from .ports import BusHandler

_log = structlog.get_logger("rooms.bus")


def channel(room: RoomId) -> str:
    return f"collab:{room.hash_tag}"


class RedisBus:
    """The bus on one Redis server (or a primary and its replicas): PUBLISH/SUBSCRIBE."""

    MAX_BATCH = 512  # messages per pipeline
    # Bytes per pipeline (a message larger than it goes alone): a pipeline is written within
    # one ``timeout``, so a batch must fit in it on a slow link, or it would fail forever.
    MAX_BATCH_BYTES = 1_048_576
    RETRY_SECONDS = 0.5
    REFUSED_REPORT_SECONDS = 10.0
    # Failures that say nothing about the messages: the link, not Redis's answer to them.
    LINK_ERRORS: tuple[type[Exception], ...] = (redis.ConnectionError, redis.TimeoutError, OSError)

    def __init__(
        self,
        url: str,
        *,
        on_gap: Callable[[set[RoomId] | None], Awaitable[None]] | None = None,
        on_dropped: Callable[[set[RoomId]], Awaitable[None]] | None = None,
        max_pending_bytes: int = 64 * 1_048_576,
        metrics: RoomMetrics | None = None,
        timeout: float = 5.0,
    ) -> None:
        self._url = url
        self._timeout = timeout
        self._client = self._connect(url)
        self._pubsub = self._subscriber(url)
        self._handlers: dict[str, BusHandler] = {}
        self._rooms: dict[str, RoomId] = {}  # by channel, while subscribed
        self._on_gap = on_gap
        self._on_dropped = on_dropped
        self._metrics = metrics
        self._reader: asyncio.Task[None] | None = None
        self._reporter: asyncio.Task[None] | None = None
        self._running = False
        self._lanes: dict[str, _Lane] = {}
        self._retiring: set[_Lane] = set()  # lanes taken out, their clients not closed yet
        # Rooms with messages queued: the lane they are on, and how many. A room's messages
        # stay on one lane until they are sent, so they go out in order.
        self._queued: dict[RoomId, tuple[_Lane, int]] = {}
        self._max_pending_bytes = max_pending_bytes  # per lane
        self._wake = asyncio.Event()  # the reporter's: a room was dropped, a lane drained
        self.dropped = 0  # messages dropped: the queue was full, or Redis refused them
        # Rooms dropped since they were last reported, with the lane their messages take and
        # how many it will have sent once everything queued ahead of the drop has gone out:
        # they are reported then.
        self._dropped_rooms: dict[RoomId, tuple[_Lane, int]] = {}
        self._refused_reported: dict[RoomId, float] = {}  # room -> when its refusal was reported
        self._refused_owed: dict[RoomId, Exception] = {}  # refused since, with the last error
        self._refused_owed_due = math.inf  # when the first owed report is due

    def _connect(self, url: str) -> redis.Redis | RedisCluster:
        return redis.Redis.from_url(url, **link_options(self._timeout))

    def _subscriber(self, url: str) -> PubSub:
        return self._client.pubsub(ignore_subscribe_messages=True)

    def _queue_publish(self, pipe: Pipeline | ClusterPipeline, name: str, message: bytes) -> None:
        pipe.publish(name, message)

    async def __aenter__(self) -> RedisBus:
        await self._client.ping()
        self._reader = asyncio.create_task(self._read_forever(), name="redis-bus-reader")
        self._reporter = asyncio.create_task(self._report_forever(), name="redis-bus-reporter")
        self._running = True
        for lane in self._lanes.values():
            self._start(lane)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.flush(within=2.0)
        self._running = False  # no lane starts from now on
        for task in self._tasks():
            if task:
                await stop(task)
        await self._pubsub.aclose()
        await _close(self._client)
        await self._close_lanes()

    async def _close_lanes(self) -> None:
        for lane in [*self._lanes.values(), *self._retiring]:
            await self._close_lane(lane)

    async def _close_lane(self, lane: _Lane) -> None:
        if lane.client is not None:
            try:
                await _close(lane.client)
            except Exception as exc:  # its links are dropped all the same
                _log.warning("redis_bus_lane_close_failed", lane=lane.name, error=repr(exc))
        self._retiring.discard(lane)  # (not if cancelled: shutdown closes it then)

    def _tasks(self) -> list[asyncio.Task[None] | None]:
        return [self._reader, self._reporter, *(lane.task for lane in self._lanes.values())]

    async def publish(self, room: RoomId, message: bytes) -> None:
        """Queue ``message`` for the room's channel; it goes out with its lane's next
        pipeline."""
        lane, count = self._queued.get(room) or (self._lane(self._lane_name(room)), 0)
        if lane.bytes + len(message) > self._max_pending_bytes:
            self._drop(room, lane)
            return
        self._queued[room] = (lane, count + 1)
        lane.queue.append((room, message))
        lane.bytes += len(message)
        lane.wake.set()

    def _lane_name(self, room: RoomId) -> str:
        """The lane a room's messages take when none is queued (one for a single server)."""
        return ""

    def _lane(self, name: str) -> _Lane:
        lane = self._lanes.get(name)
        if lane is None:
            lane = self._lanes[name] = _Lane(name)
            if self._running:
                self._start(lane)
        return lane

    def _lane_client(self, lane: _Lane) -> redis.Redis | RedisCluster:
        return self._client

    def _start(self, lane: _Lane) -> None:
        lane.task = asyncio.create_task(
            self._send_forever(lane), name=f"redis-bus-publisher-{lane.name or 'all'}"
        )

    def _drop(self, room: RoomId, lane: _Lane) -> None:
        if self.dropped == 0 or self.dropped % 1000 == 0:
            _log.error("redis_bus_queue_full", lane=lane.name, pending_bytes=lane.bytes)
        self._count_dropped(room, lane)

    def _count_refused(self, room: RoomId, lane: _Lane, error: Exception) -> None:
        """A refusal is likely to come again, the other nodes' catch-up question included:
        report (and log) a refused room at most every ``REFUSED_REPORT_SECONDS``, or the
        question and its refusal would chase each other, and every update of the room
        would write an error line. A room refused again meanwhile is owed a report, made
        once that time has passed (the publisher wakes for it): its message is lost to the
        other nodes until they catch up, whether or not the room publishes again."""
        now = time.monotonic()
        due = self._refused_reported.get(room, -math.inf) + self.REFUSED_REPORT_SECONDS
        if now < due:
            self._tally_dropped()
            self._refused_owed[room] = error
            self._refused_owed_due = min(self._refused_owed_due, due)
            self._wake.set()  # the reporter wakes for it when it falls due
            return
        self._refused_owed.pop(room, None)
        self._report_refused(room, error, now)
        self._count_dropped(room, lane)

    def _report_refused(self, room: RoomId, error: Exception, now: float) -> None:
        if len(self._refused_reported) > 10_000:  # rooms that stopped being refused
            self._refused_reported.clear()
        self._refused_reported[room] = now
        _log.error("redis_bus_publish_refused", room=room.key, error=repr(error))

    def _settle_refused(self) -> float | None:
        """Hand the owed rooms whose quiet time has passed to the next report; return the
        seconds until the next one is due (None: none is owed)."""
        if not self._refused_owed:
            return None
        now = time.monotonic()
        if now < self._refused_owed_due:
            return self._refused_owed_due - now
        self._refused_owed_due = math.inf
        for room, error in list(self._refused_owed.items()):
            due = self._refused_reported.get(room, -math.inf) + self.REFUSED_REPORT_SECONDS
            if now < due:
                self._refused_owed_due = min(self._refused_owed_due, due)
                continue
            del self._refused_owed[room]
            self._report_refused(room, error, now)
            self._mark_dropped(room, self._lane(self._lane_name(room)))
        return self._refused_owed_due - now if self._refused_owed else None

    def _tally_dropped(self) -> None:
        self.dropped += 1
        if self._metrics is not None:
            self._metrics.bus_dropped.inc()

    def _count_dropped(self, room: RoomId, lane: _Lane) -> None:
        self._tally_dropped()
        self._mark_dropped(room, lane)
        self._wake.set()  # the reporter reports it once its lane has caught up (may be now)

    def _mark_dropped(self, room: RoomId, lane: _Lane) -> None:
        self._dropped_rooms[room] = (lane, lane.sent + len(lane.queue))

    async def flush(self, within: float) -> bool:
        """Wait until every queued message was sent (True) or ``within`` seconds passed (False)."""
        deadline = asyncio.get_running_loop().time() + within
        while self._queued and asyncio.get_running_loop().time() < deadline:
            if not self._running or any(lane.task is None or lane.task.done()
                                        for lane in self._lanes.values()):  # fmt: skip
                return False
            await asyncio.sleep(0.005)
        return not self._queued

    async def _report_forever(self) -> None:
        """Report the rooms whose messages were dropped once their lane has sent everything
        queued ahead of the drop (it has room again, so the question will not be dropped)."""
        while True:
            owed_in = self._settle_refused()
            if ready := {room for room, (lane, mark) in self._dropped_rooms.items()
                         if lane.sent >= mark}:  # fmt: skip
                await self._report_dropped(ready)
                continue
            with contextlib.suppress(TimeoutError):  # woken too when an owed report falls due
                async with asyncio.timeout(owed_in):
                    await self._wake.wait()
            self._wake.clear()

    async def _send_forever(self, lane: _Lane) -> None:
        while True:
            await lane.wake.wait()
            lane.wake.clear()
            while lane.queue:
                await self._send_batch(lane)
                if self._dropped_rooms:
                    self._wake.set()  # the reporter may be waiting for this lane

    async def _send_batch(self, lane: _Lane) -> None:
        queue = lane.queue
        batch, size = [queue[0]], len(queue[0][1])
        for i in range(1, min(len(queue), self.MAX_BATCH)):
            size += len(queue[i][1])
            if size > self.MAX_BATCH_BYTES:
                break
            batch.append(queue[i])
        try:
            async with self._lane_client(lane).pipeline(transaction=False) as pipe:
                for room, message in batch:
                    self._queue_publish(pipe, channel(room), message)
                replies = await pipe.execute(raise_on_error=False)
            # A cluster pipeline takes a link to each shard, and gives the error of one that
            # dropped back as its commands' replies: those messages were not refused.
            if unsent := [reply for reply in replies if isinstance(reply, self.LINK_ERRORS)]:
                raise unsent[0]
        except self.LINK_ERRORS as exc:
            # Keep the batch (the queue is bounded) and try again: every message was
            # committed to the log, so resending one that did go out is harmless.
            _log.warning(
                "redis_bus_publish_failed", lane=lane.name, error=repr(exc), batch=len(batch)
            )
            await asyncio.sleep(self.RETRY_SECONDS)
            return
        except Exception as exc:  # anything else would repeat: drop the batch, go on publishing
            _log.error(
                "redis_bus_publish_rejected", lane=lane.name, error=repr(exc), batch=len(batch)
            )
            replies = [exc] * len(batch)
            await asyncio.sleep(self.RETRY_SECONDS)  # nothing went out: no busy loop
        for _ in batch:
            room, message = queue.popleft()
            lane.bytes -= len(message)
            lane.sent += 1
            held, count = self._queued[room]
            if count > 1:
                self._queued[room] = (held, count - 1)
            else:
                del self._queued[room]
        # An error reply (a channel the ACL refuses, say) would come again on a resend: the
        # message is dropped, and its room reported like one the full queue refused.
        refused = [(room, message, reply)
                   for (room, message), reply in zip(batch, replies, strict=True)
                   if isinstance(reply, Exception)]  # fmt: skip
        for room, message, reply in refused:
            if message[:1] == Kind.HELLO.value:
                # A hello carries no update, and the catch-up question a report sends is
                # one: reporting its refusal would ask again, and be refused again, forever.
                # Presence mends a lost hello (a node not heard from is answered FRESH).
                self._tally_dropped()
            else:
                self._count_refused(room, lane, reply)

    async def _report_dropped(self, rooms: set[RoomId]) -> None:
        """Everything queued on their lane went out, so Redis is back for them: hand over
        these rooms whose messages were dropped, for the other nodes to be asked to catch
        up. (Asked while the lane was full, they would not hear it: the question would be
        dropped too.)"""
        for room in rooms:
            del self._dropped_rooms[room]
        if self._on_dropped is None:
            return
        try:
            await self._on_dropped(rooms)
        except Exception as exc:  # the publisher must outlive any room's failure
            _log.error("redis_bus_on_dropped_failed", error=repr(exc), rooms=len(rooms))

    async def subscribe(self, room: RoomId, handler: BusHandler) -> None:
        name = channel(room)
        self._handlers[name] = handler
        self._rooms[name] = room
        await self._subscribe(name)

    async def unsubscribe(self, room: RoomId, handler: BusHandler | None = None) -> None:
        name = channel(room)
        if handler is not None and self._handlers.get(name) != handler:
            return  # the room was loaded again and subscribed with its new handler
        self._handlers.pop(name, None)
        self._rooms.pop(name, None)
        await self._unsubscribe(name)

    async def _subscribe(self, name: str) -> None:
        await self._pubsub.subscribe(name)

    async def _unsubscribe(self, name: str) -> None:
        await self._pubsub.unsubscribe(name)

    async def ping(self) -> bool:
        return bool(await self._client.ping())

    async def _read_forever(self) -> None:
        alive = _Liveness(self._timeout)
        gap = False  # the link dropped, and the rooms were not told yet
        while True:
            try:
                if gap:
                    # Until this succeeds: a read would connect the link again (and
                    # subscribe its channels) without anyone learning of the gap.
                    await self._resubscribe()
                    gap = False
                    alive.heard()
                if not self._pubsub.subscribed:
                    await asyncio.sleep(0.01)
                    alive.heard()  # nothing to hear yet
                    continue
                message = await self._pubsub.get_message(timeout=alive.poll_seconds)
                if message is None:
                    message = await alive.after_empty_read(
                        lambda wait: self._pubsub.get_message(timeout=wait), self._pubsub.ping
                    )
                    if message is None:
                        continue
                alive.heard()
                if message["type"] != "message":
                    continue
                await self._dispatch(message["channel"], message["data"])
            except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
                _log.warning(
                    "redis_bus_resubscribe_failed" if gap else "redis_bus_disconnected",
                    error=repr(exc),
                )
                await _drop_link(self._pubsub)  # subscribing again connects anew
                await asyncio.sleep(0.5)
                gap = True
            except redis.RedisError as exc:  # an error reply (an ACL refusing a channel)
                alive.heard()
                _log.error("redis_bus_read_failed", error=repr(exc))
                if gap:  # subscribing again was refused: try again, not at once
                    await asyncio.sleep(0.5)

    async def _dispatch(self, name: bytes, data: bytes) -> None:
        """Hand a message to its channel's room, if it is still subscribed here."""
        handler = self._handlers.get(name.decode())
        if handler is None:
            return
        try:
            await handler(data)
        except Exception as exc:  # one room's failure must not stop the bus
            _log.error("bus_handler_failed", error=repr(exc))

    async def _resubscribe(self) -> None:
        if self._handlers:
            await self._pubsub.subscribe(*self._handlers)
        if self._on_gap is not None:
            try:
                await self._on_gap(None)  # one link carries every room
            except Exception as exc:  # the reader must outlive any room's failure
                _log.error("redis_bus_on_gap_failed", error=repr(exc))


class ShardedRedisBus(RedisBus):
    """The bus on Redis Cluster (ElastiCache in cluster mode): SPUBLISH/SSUBSCRIBE, so a
    room's messages stay on the shard that owns its channel's slot, and a node reads only
    the shards of the rooms it holds.

    Subscriptions go through a client of their own: the publishing client closes every
    link it has when a shard fails a pipeline, and the links to the healthy shards must
    not go with them. That client keeps one link per shard, each read on a task of its
    own, so a busy, silent or lost shard never holds up another's messages.

    A link that drops (or refuses a subscription for now: the cluster is down, or the slot
    moved) is a gap on that shard. Its reader stops and marks it; the gap keeper (the
    bus's reader) subscribes that shard's rooms again, each on the shard that owns its
    slot now (after a failover, the promoted replica), lets the reader go on, and calls
    ``on_gap``. A shard that cannot be reached stays marked, and tried again, however long
    it is away; the other shards' rooms are not held up meanwhile (they were told
    ``on_gap`` already, or never had a gap).

    Publishing goes by shard: a room's messages join the lane of the shard that owns its
    slot (as the subscriptions' slot map says: it is read again when the bus mends a gap),
    with its own queue, task and client (a failing pipeline closes every link of its
    client, as above), so a shard that is away holds up only its own rooms' messages.
    A room's messages stay on one lane until they are sent, so they go out in order; if
    its slot moved meanwhile, the lane's client follows a MOVED reply to the new owner (a
    master demoted by a failover takes them itself, as a replica of the slot's owner, and
    passes them on over the cluster bus).
    Each lane has the whole byte budget, and the rooms a lane dropped are reported once
    that lane has sent what was queued ahead of the drop, whatever the other lanes hold.
    A lane whose node the slot map no longer has as a primary (a demoted master, a node
    replaced) is retired by the gap keeper once it has sent what it held; one is made
    again if that node is promoted again.

    Known limit: a lane made later (for a primary promoted after the start) asks the
    primary owning slot 0 for the command table when its client starts, so it cannot
    start while that one is away as well (two faults at once).
    """

    # RedisClusterException: the client could not read the slots (the whole cluster away).
    LINK_ERRORS = (
        *RedisBus.LINK_ERRORS,
        ClusterDownError,
        TryAgainError,
        SlotNotCoveredError,
        RedisClusterException,
    )
    # An error reply on a subscription link that a later try may not get: the subscription
    # did not take, for now.
    REFUSED_FOR_NOW = (ClusterDownError, TryAgainError, AskError)
    POLL_SECONDS = 0.5  # how often the gap keeper looks for shards the client subscribed on

    def __init__(self, url: str, **options: Any) -> None:
        super().__init__(url, **options)
        self._shard_readers: dict[str, asyncio.Task[None]] = {}
        self._gap = asyncio.Event()  # a shard is marked and not mended yet
        self._broken: set[str] = set()  # shards (node names) with a gap not mended yet
        self._stale_slots = False  # a shard says a slot moved: read the slots again first
        self._refusals = 0  # subscriptions refused since one last took
        self._mended = asyncio.Condition()  # notified when shards leave ``_broken``
        self._missed: set[str] = set()  # channels subscribed again, not reported yet

    def _connect(self, url: str) -> RedisCluster:
        return RedisCluster.from_url(url, **link_options(self._timeout))

    def _subscriber(self, url: str) -> ClusterPubSub:
        self._subscriptions = RedisCluster.from_url(url, **link_options(self._timeout))
        return self._subscriptions.pubsub(ignore_subscribe_messages=False)

    @property
    def _cluster(self) -> RedisCluster:
        assert isinstance(self._client, RedisCluster)
        return self._client

    @property
    def _shards(self) -> ClusterPubSub:
        assert isinstance(self._pubsub, ClusterPubSub)
        return self._pubsub

    def _queue_publish(self, pipe: Pipeline | ClusterPipeline, name: str, message: bytes) -> None:
        pipe.spublish(name, message)

    def _lane_name(self, room: RoomId) -> str:
        """The shard that owns the room's slot, as the subscriptions' slot map (which the
        gap keeper keeps fresh) says; "" while there is none to go by."""
        try:
            node = self._subscriptions.get_node_from_key(channel(room))
        except Exception:  # no slot map yet, or the slot not covered
            return ""
        return node.name if node is not None else ""

    def _lane_client(self, lane: _Lane) -> RedisCluster:
        """The lane's own client, which learns the slots from any node the subscriptions'
        client knows (the URL's may be the shard that is away)."""
        if lane.client is None:
            known = [ClusterNode(node.host, node.port) for node in self._subscriptions.get_nodes()]
            lane.client = RedisCluster.from_url(
                self._url, startup_nodes=known, **link_options(self._timeout)
            )
        return lane.client

    async def __aenter__(self) -> ShardedRedisBus:
        await self._subscriptions.initialize()  # the slots, for the subscriptions to go by
        # Each shard's lane and client now, while every shard answers: a cluster client
        # made later asks a primary it picks for the command table, which fails for as long
        # as that primary is away.
        try:
            for node in self._subscriptions.get_primaries():
                await self._lane_client(self._lane(node.name)).initialize()
            await super().__aenter__()
        except BaseException:
            await self._close_lanes()
            await _close(self._subscriptions)
            await _close(self._client)
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await super().__aexit__(*exc)
        await _close(self._subscriptions)

    def _tasks(self) -> list[asyncio.Task[None] | None]:
        return [*super()._tasks(), *self._shard_readers.values()]

    async def _subscribe(self, name: str) -> None:
        await self._shards.ssubscribe(name)
        self._read_new_shards()

    async def _unsubscribe(self, name: str) -> None:
        await self._shards.sunsubscribe(name)

    async def ping(self) -> bool:
        """Every shard answers (a room on one that does not would miss its fan-out)."""
        return bool(await self._cluster.ping(target_nodes=RedisCluster.PRIMARIES))

    async def _read_forever(self) -> None:
        """The gap keeper: starts a reader for each shard the client subscribed on, and
        mends the gaps the readers mark."""
        while True:
            try:
                self._read_new_shards()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.POLL_SECONDS):
                        await self._gap.wait()
                if self._gap.is_set():
                    await asyncio.sleep(self.RETRY_SECONDS * 2 ** min(self._refusals, 3))
                    await self._mend()
                await self._retire_lanes()
            except Exception as exc:  # the gap keeper must outlive any failure: try again
                _log.error("redis_bus_mend_failed", error=repr(exc))
                self._gap.set()
                await asyncio.sleep(self.RETRY_SECONDS)

    def _read_new_shards(self) -> None:
        for name in list(self._shards.node_pubsub_mapping):
            task = self._shard_readers.get(name)
            if task is not None and task.done() and not task.cancelled() and task.exception():
                _log.error(
                    "redis_bus_shard_reader_failed", shard=name, error=repr(task.exception())
                )
            if (task is None or task.done()) and self._subscriptions.get_node(node_name=name):
                self._shard_readers[name] = asyncio.create_task(
                    self._read_shard(name), name=f"redis-bus-reader-{name}"
                )

    async def _read_shard(self, name: str) -> None:
        """Read one shard's link until the client lets it go (no room of this node is on
        that shard any more, or it left the cluster)."""
        alive = _Liveness(self._timeout)
        while (pubsub := self._shards.node_pubsub_mapping.get(name)) is not None:
            node = self._subscriptions.get_node(node_name=name)
            try:
                if node is None:  # not in the slot map (gone, or a demoted master not
                    if self._unsettled():  # listed yet): a gap if its rooms are not
                        self._mark(name)  # subscribed on their slots' owners already
                    return
                if not pubsub.subscribed:  # just made: its first subscription is on the way
                    await asyncio.sleep(0.01)
                    alive.heard()
                    continue
                message = await self._read_shard_once(node, alive.poll_seconds)
                if message is None:
                    message = await alive.after_empty_read(
                        functools.partial(self._read_shard_once, node), pubsub.ping
                    )
                    if message is None:
                        continue
                alive.heard()
                if message["type"] == "sunsubscribe" and message["channel"] in (
                    pubsub.shard_channels
                ):  # unasked (the client forgets one it asked for): the slot moved away
                    _log.warning("redis_bus_slot_moved", shard=name)
                    self._stale_slots = True
                    await self._until_mended(self._mark(name))
                    continue
                if message["type"] == "ssubscribe":
                    self._refusals = 0  # a subscription took
                if message["type"] != "smessage":
                    continue
                await self._dispatch(message["channel"], message["data"])
            except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
                # What was published meanwhile is lost. The link is not read again before
                # the gap keeper has connected it anew (a read would connect it too, and
                # two connects of one link at once would mix up its replies).
                _log.warning("redis_bus_disconnected", shard=name, error=repr(exc))
                await _drop_link(pubsub)
                await self._until_mended(self._mark(name))
                alive.heard()
            except MovedError as exc:
                alive.heard()  # an error reply is an answer
                if self._moved_already(exc):  # answers the unsubscription the client
                    continue  # sends the shard that gave the slot away, once it is moved
                await self._refused(name, exc)
            except self.REFUSED_FOR_NOW as exc:
                alive.heard()
                await self._refused(name, exc)
            except RedisError as exc:  # an error reply that would come again (an ACL's)
                alive.heard()
                _log.error("redis_bus_read_failed", shard=name, error=repr(exc))
                await asyncio.sleep(self.RETRY_SECONDS)

    async def _read_shard_once(self, node: ClusterNode, wait: float) -> dict[str, Any] | None:
        return await self._shards.get_sharded_message(
            ignore_subscribe_messages=False, timeout=wait, target_node=node
        )

    def _moved_already(self, moved: MovedError) -> bool:
        """Whether every room of the slot a shard says has moved is subscribed on its new
        owner already (a reply to an unsubscription, not to a subscription)."""
        owner = self._shards.node_pubsub_mapping.get(f"{moved.host}:{moved.port}")
        return all(
            owner is not None and name.encode() in owner.shard_channels
            for name in list(self._handlers)
            if key_slot(name.encode()) == moved.slot_id
        )

    async def _refused(self, name: str, exc: Exception) -> None:
        """A subscription did not take: read the slots again and subscribe again, waiting
        longer each time it is refused again, up to 4 s (a cluster that is down would have
        every room catch up twice a second)."""
        _log.warning("redis_bus_subscribe_refused", shard=name, error=repr(exc))
        self._refusals += 1
        self._stale_slots = True
        await self._until_mended(self._mark(name))

    def _unsettled(self) -> bool:
        try:
            return bool(self._strays(set()))
        except Exception:  # no slot map to go by
            return True

    def _mark(self, name: str) -> str:
        self._broken.add(name)
        self._gap.set()
        return name

    async def _until_mended(self, name: str) -> None:
        async with self._mended:
            await self._mended.wait_for(lambda: name not in self._broken)

    async def _mend(self) -> None:
        """Subscribe again the rooms of the marked shards, and the rooms not subscribed on
        their slot's owner (the client moves a room from a shard that lost its slot), one
        shard at a time; let the readers of the shards that took them go on, then let the
        rooms catch up. The shards that could not be reached stay marked."""
        self._gap.clear()
        broken = set(self._broken)
        failed: set[str] = set()
        try:
            if self._stale_slots:
                await self._subscriptions.nodes_manager.initialize()
                self._stale_slots = False
            await self._subscriptions.initialize()  # if a failure left it to be done again
            by_shard = self._strays(broken)
        except Exception as exc:  # no slot map to go by: every marked shard waits
            by_shard, failed = {}, broken
            _log.warning("redis_bus_resubscribe_failed", error=repr(exc))
        for shard, names in by_shard.items():
            self._missed.update(names)  # named once subscribed on a shard that answers
            try:
                await self._shards.ssubscribe(*names)
            except Exception as exc:
                failed.add(shard)
                _log.warning("redis_bus_resubscribe_failed", shard=shard, error=repr(exc))
        if gone := [name for names in by_shard.values() for name in names
                    if name not in self._handlers]:  # fmt: skip
            with contextlib.suppress(Exception):
                await self._shards.sunsubscribe(*gone)  # rooms that left meanwhile
        mended = broken - failed
        if failed:
            self._gap.set()
            # A shard that does not answer a command makes the client read the slots again
            # (a failover may have given them to a replica) and move the subscriptions of
            # the slots that changed hands; the next round goes by the new owners.
            # Best effort: with the whole cluster away it raises RedisClusterException.
            with contextlib.suppress(Exception):
                await self._subscriptions.ping(target_nodes=RedisCluster.PRIMARIES)
        if mended:
            async with self._mended:
                self._broken -= mended
                self._mended.notify_all()
        self._read_new_shards()
        # Named now: the rooms subscribed again on their slot's owner, if it answered this
        # round (a shard that failed part-way has taken some of its rooms, or none).
        ready = {name for name in self._missed if self._taken(name, failed)}
        self._missed -= ready
        rooms = {room for name in ready if (room := self._rooms.get(name)) is not None}
        if self._on_gap is not None and rooms:
            try:
                await self._on_gap(rooms)
            except Exception as exc:  # the gap keeper must outlive any room's failure
                _log.error("redis_bus_on_gap_failed", error=repr(exc))

    async def _retire_lanes(self) -> None:
        """Stop and close the lanes of nodes the slot map no longer has as primaries, once
        they have nothing left to send (their task then waits for a wake-up; messages for
        their rooms now go to the lane of the slot's owner). A map that cannot be read
        retires nothing."""
        try:
            primaries = {node.name for node in self._subscriptions.get_primaries()}
        except Exception:
            return
        if not primaries:
            return
        for name, lane in list(self._lanes.items()):
            if name in primaries or not name or lane.queue:
                continue
            # Out of the lanes at once (nothing can queue on it between the check and
            # here); closed at shutdown if this is cancelled before it is closed.
            del self._lanes[name]
            self._retiring.add(lane)
            if lane.task is not None:
                await stop(lane.task)
            await self._close_lane(lane)
            _log.info("redis_bus_lane_retired", lane=name)

    def _taken(self, name: str, failed: set[str]) -> bool:
        """Whether a room's channel is subscribed on its slot's owner, which answered."""
        if name not in self._handlers:
            return True  # the room left: nothing to name, nothing to keep
        try:
            node = self._subscriptions.get_node_from_key(name)
        except Exception:  # no slot map to go by
            return False
        if node is None or node.name in failed:
            return False
        pubsub = self._shards.node_pubsub_mapping.get(node.name)
        return pubsub is not None and name.encode() in pubsub.shard_channels

    def _strays(self, broken: set[str]) -> dict[str, list[str]]:
        """The rooms to subscribe again, by the shard that owns their slot: those on a
        marked shard, and those not subscribed on their slot's owner."""
        by_shard: dict[str, list[str]] = {}
        for name in list(self._handlers):
            node = self._subscriptions.get_node_from_key(name)
            if node is None:
                raise SlotNotCoveredError(f"no shard owns the slot of {name}")
            owner = node.name
            pubsub = self._shards.node_pubsub_mapping.get(owner)
            if owner in broken or pubsub is None or name.encode() not in pubsub.shard_channels:
                by_shard.setdefault(owner, []).append(name)
        for shard in broken:
            by_shard.setdefault(shard, [])  # a marked shard with no rooms left is mended
        return by_shard


class _Lane:
    """Messages in the order they are to be sent, the task that sends them and, on a
    cluster, the client it sends them with."""

    __slots__ = ("bytes", "client", "name", "queue", "sent", "task", "wake")

    def __init__(self, name: str) -> None:
        self.name = name
        self.queue: deque[tuple[RoomId, bytes]] = deque()
        self.bytes = 0  # of the messages queued
        self.sent = 0  # messages taken off the queue, sent or dropped
        self.wake = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.client: RedisCluster | None = None  # a lane's own, on a cluster


class LinkSilent(redis.ConnectionError):
    """A subscription link answered nothing, not even a ping, for too long."""


class _Liveness:
    """When a subscription link was last heard from, and whether it is owed a ping or has
    failed to answer one in time."""

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self.poll_seconds = min(1.0, seconds / 2)  # how long one read waits for a message
        self._heard = time.monotonic()
        self._pinged: float | None = None

    def heard(self) -> None:
        self._heard = time.monotonic()
        self._pinged = None

    async def after_empty_read(
        self,
        read: Callable[[float], Awaitable[dict[str, Any] | None]],
        ping: Callable[[], Awaitable[object]],
    ) -> dict[str, Any] | None:
        """A read came back empty: ping a link quiet for too long. Once its ping is overdue,
        read once more, waiting (the answer may have come while this event loop was busy
        elsewhere, and not been read yet); if that is empty too, the link is lost."""
        now = time.monotonic()
        if self._pinged is None:
            if now - self._heard >= self._seconds:
                self._pinged = now
                await ping()
            return None
        if now - self._pinged <= self._seconds:
            return None
        message = await read(self.poll_seconds)
        if message is None:
            raise LinkSilent(
                f"no answer to a ping within {self._seconds} s, after "
                f"{self._pinged - self._heard:.1f} s of silence"
            )
        return message


def link_options(timeout: float) -> dict[str, Any]:
    """Client options for links to Redis that give up on one that stops answering."""
    return {
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "socket_keepalive": True,
    }


async def _drop_link(pubsub: PubSub) -> None:
    """Disconnect a subscription link (redis-py may have already): the next command on it
    connects anew and subscribes its channels again, instead of talking into a dead link."""
    if pubsub.connection is not None:
        with contextlib.suppress(RedisError, OSError):
            await pubsub.connection.disconnect()


class RedisAccessLedger:
    """Access changes in a hash per room (``collab:{<room>}:access``), kept a day: longer
    than any room ticket lives. The key carries the room's hash tag: on Redis Cluster
    (``cluster=True``) the transaction that writes it stays within one slot."""

    TTL_SECONDS = 86_400

    def __init__(self, url: str, *, cluster: bool = False, timeout: float = 5.0) -> None:
        options = link_options(timeout)
        self._client: redis.Redis | RedisCluster = (
            RedisCluster.from_url(url, **options)
            if cluster
            else redis.Redis.from_url(url, **options)
        )

    async def aclose(self) -> None:
        await _close(self._client)

    async def record(self, room: RoomId, user: str, state: str, at: float) -> None:
        key = f"collab:{room.hash_tag}:access"
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.hset(key, user, json.dumps([state, at]))
            pipe.expire(key, self.TTL_SECONDS)
            await pipe.execute()

    async def latest(self, room: RoomId, user: str) -> tuple[str, float] | None:
        raw = await self._client.hget(f"collab:{room.hash_tag}:access", user)
        if raw is None:
            return None
        return _change(raw)

    async def entries(self, room: RoomId) -> dict[str, tuple[str, float]]:
        raw = await self._client.hgetall(f"collab:{room.hash_tag}:access")
        return {_text(user): _change(value) for user, value in raw.items()}


async def _close(client: redis.Redis | RedisCluster) -> None:
    await client.aclose()
    if isinstance(client, RedisCluster):
        # A cluster client that is to read the slots again (a link dropped since it last
        # did) closes nothing: close its links to every node all the same.
        for nodes in ("nodes_cache", "startup_nodes"):
            with contextlib.suppress(RedisError, OSError):
                await client.nodes_manager.aclose(nodes)


def _text(raw: bytes | str) -> str:
    return raw if isinstance(raw, str) else raw.decode()


def _change(raw: bytes | str) -> tuple[str, float]:
    state, at = json.loads(raw)
    return str(state), float(at)
