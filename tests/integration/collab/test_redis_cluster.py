"""The bus and the access ledger on Redis Cluster: sharded pub/sub between buses, rooms
spread over the shards, a shard's link dropping, the shard restarting or giving a slot away,
refusals and a full queue. A throwaway three-master cluster of this machine's redis-server."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable

from rooms import RedisAccessLedger, RoomId, ShardedRedisBus
from rooms.redis_bus import channel
from tests.harness.ywire import eventually

from .conftest import ThrowawayCluster


def _rooms_on_every_shard(cluster: ThrowawayCluster, per_shard: int = 1) -> list[RoomId]:
    """Rooms of one tenant, ``per_shard`` on each master (by their channel's slot)."""
    tenant = uuid.uuid4()
    found: dict[int, list[RoomId]] = defaultdict(list)
    for i in range(1000):
        room = RoomId.parse(f"{tenant}:shard-{i}")
        on = found[cluster.shard_of(channel(room)).port]
        if len(on) < per_shard:
            on.append(room)
        if len(found) == len(cluster.shards) and all(len(r) == per_shard for r in found.values()):
            return [room for rooms in found.values() for room in rooms]
    raise AssertionError("the rooms' slots missed a shard")


Received = dict[RoomId, list[bytes]]


@contextlib.asynccontextmanager
async def _listener(
    cluster: ThrowawayCluster, rooms: list[RoomId], on_gap: Callable[[], Awaitable[None]] | None
) -> AsyncIterator[tuple[ShardedRedisBus, Received]]:
    got: Received = defaultdict(list)
    async with ShardedRedisBus(cluster.url, on_gap=on_gap) as bus:
        for room in rooms:

            async def handler(data: bytes, room: RoomId = room) -> None:
                got[room].append(data)

            await bus.subscribe(room, handler)
        yield bus, got


def _gaps() -> tuple[list[float], Callable[[], Awaitable[None]]]:
    gaps: list[float] = []

    async def on_gap() -> None:
        gaps.append(asyncio.get_running_loop().time())

    return gaps, on_gap


async def test_rooms_on_every_shard_reach_the_other_bus_in_order(
    redis_cluster: ThrowawayCluster,
) -> None:
    """Each room's messages go through the shard that owns its slot (a shard channel there,
    nothing on the cluster-wide pub/sub), in order, however the batches are split."""
    rooms = _rooms_on_every_shard(redis_cluster, per_shard=3)
    per_room = 40
    async with (
        _listener(redis_cluster, rooms, None) as (_, got),
        ShardedRedisBus(redis_cluster.url) as sender,
    ):
        for room in rooms:
            owner = redis_cluster.shard_of(channel(room))
            for shard in redis_cluster.shards:
                subscribed = shard.cli("PUBSUB", "SHARDNUMSUB", channel(room)).split()[-1]
                assert subscribed == ("1" if shard is owner else "0")
                assert shard.cli("PUBSUB", "NUMSUB", channel(room)).split()[-1] == "0"
        for i in range(per_room):
            for room in rooms:
                await sender.publish(room, f"{room.name}:{i}".encode())
        assert await sender.flush(within=10)
        await eventually(
            lambda: sum(len(v) for v in got.values()) == len(rooms) * per_room,
            timeout=10, what="every message",
        )  # fmt: skip
    for room in rooms:
        assert got[room] == [f"{room.name}:{i}".encode() for i in range(per_room)]
    assert sender.dropped == 0


async def test_a_room_that_leaves_lets_its_shard_channel_go(
    redis_cluster: ThrowawayCluster,
) -> None:
    rooms = _rooms_on_every_shard(redis_cluster)
    async with _listener(redis_cluster, rooms, None) as (bus, got):
        await bus.unsubscribe(rooms[0])
        owner = redis_cluster.shard_of(channel(rooms[0]))

        async def released() -> bool:
            return owner.cli("PUBSUB", "SHARDNUMSUB", channel(rooms[0])).split()[-1] == "0"

        await eventually(released, what="the shard channel is released")
        async with ShardedRedisBus(redis_cluster.url) as sender:
            for room in rooms:
                await sender.publish(room, b"after")
            await eventually(lambda: all(got[r] == [b"after"] for r in rooms[1:]), what="others")
        assert got[rooms[0]] == []


async def test_a_dropped_link_to_one_shard_is_a_gap_the_bus_reports_once_subscribed_again(
    redis_cluster: ThrowawayCluster,
) -> None:
    """The shard closes this node's subscription link (as on a network fault or a client
    eviction): the bus subscribes again, calls ``on_gap``, and the rooms on that shard hear
    new messages again; the other shards' rooms never stopped."""
    rooms = _rooms_on_every_shard(redis_cluster)
    cut = redis_cluster.shard_of(channel(rooms[0]))
    gaps, on_gap = _gaps()
    async with (
        _listener(redis_cluster, rooms, on_gap) as (_, got),
        ShardedRedisBus(redis_cluster.url) as sender,
    ):
        for room in rooms:
            await sender.publish(room, b"before")
        await eventually(lambda: all(got[r] == [b"before"] for r in rooms), what="before")

        assert int(cut.cli("CLIENT", "KILL", "TYPE", "pubsub")) == 1
        await eventually(lambda: len(gaps) == 1, timeout=5, what="the gap is reported")
        for room in rooms:
            await sender.publish(room, b"after")
        await eventually(lambda: all(got[r] == [b"before", b"after"] for r in rooms), what="after")
        await asyncio.sleep(0.5)
        assert len(gaps) == 1  # one gap, reported once


async def test_a_shard_restarted_is_a_gap_reported_once_it_is_back(
    redis_cluster: ThrowawayCluster,
) -> None:
    """A shard goes away and comes back (empty, as after a crash): however long it is away,
    the gap is reported once the rooms are subscribed on it again, not before; messages
    published meanwhile are held, none dropped, and go out when it is back."""
    rooms = _rooms_on_every_shard(redis_cluster)
    down = redis_cluster.shard_of(channel(rooms[0]))
    gaps, on_gap = _gaps()
    async with (
        _listener(redis_cluster, rooms, on_gap) as (_, got),
        ShardedRedisBus(redis_cluster.url) as sender,
    ):
        down.kill()
        for room in rooms:
            await sender.publish(room, b"while away")
        await asyncio.sleep(1.5)  # a few rounds of trying to subscribe again
        assert gaps == []
        assert not await sender.flush(within=0.1)  # held: the batch waits for the shard
        restarting = asyncio.get_running_loop().time()
        await asyncio.to_thread(redis_cluster.restart, down)
        await eventually(lambda: len(gaps) == 1, timeout=10, what="the gap is reported")
        assert gaps[0] >= restarting
        assert await sender.flush(within=10)
        assert sender.dropped == 0
        for room in rooms:
            await sender.publish(room, b"back")
        await eventually(lambda: all(got[r][-1:] == [b"back"] for r in rooms), what="back")
        # The other shards got the held messages (perhaps twice: the batch is sent again
        # whole); the restarted one only if the listener was back on it first: a gap.
        for room in rooms[1:]:
            assert b"while away" in got[room]


async def test_a_shard_away_holds_up_no_other_shards_messages_to_this_node(
    redis_cluster: ThrowawayCluster,
) -> None:
    """While a shard is away (and this node's own publishing to it fails, which resets the
    publishing client's links), the rooms on the other shards keep hearing the other
    nodes, with no gap: only the away shard's rooms have one, reported once it is back."""
    rooms = _rooms_on_every_shard(redis_cluster)
    away = redis_cluster.shard_of(channel(rooms[0]))
    gaps, on_gap = _gaps()
    async with (
        _listener(redis_cluster, rooms, on_gap) as (node, got),
        ShardedRedisBus(redis_cluster.url) as other,
    ):
        away.kill()
        await node.publish(rooms[0], b"from this node")  # fails, and is held
        for i in range(5):
            for room in rooms[1:]:
                await other.publish(room, f"{i}".encode())
            await eventually(
                lambda i=i: all(got[r][-1:] == [f"{i}".encode()] for r in rooms[1:]),
                timeout=2, what="the other shards' rooms hear on",
            )  # fmt: skip
            await asyncio.sleep(0.2)
        assert gaps == []
        await asyncio.to_thread(redis_cluster.restart, away)
        await eventually(lambda: len(gaps) == 1, timeout=10, what="the gap is reported")
        assert await node.flush(within=10)
        for room in rooms[1:]:
            assert got[room] == [f"{i}".encode() for i in range(5)]


async def test_a_resharded_room_is_subscribed_on_its_new_shard_with_a_gap(
    redis_cluster: ThrowawayCluster,
) -> None:
    """A room's slot moves to another master (an online resharding): the old one drops
    the room's subscription; the bus subscribes it on the new owner and reports a gap (what
    was published in between went to the new owner, unheard)."""
    rooms = _rooms_on_every_shard(redis_cluster)
    moving = channel(rooms[0])
    source = redis_cluster.shard_of(moving)
    target = next(shard for shard in redis_cluster.shards if shard is not source)
    gaps, on_gap = _gaps()
    try:
        async with (
            _listener(redis_cluster, rooms, on_gap) as (_, got),
            ShardedRedisBus(redis_cluster.url) as sender,
        ):
            await asyncio.to_thread(redis_cluster.move_slot, moving, target)
            await eventually(lambda: len(gaps) == 1, timeout=5, what="the gap is reported")

            async def moved() -> bool:
                return target.cli("PUBSUB", "SHARDNUMSUB", moving).split()[-1] == "1"

            await eventually(moved, what="the room is subscribed on its new shard")
            for room in rooms:
                await sender.publish(room, b"after")
            await eventually(lambda: all(got[r] == [b"after"] for r in rooms), what="after")
            assert source.cli("PUBSUB", "SHARDNUMSUB", moving).split()[-1] == "0"
            await asyncio.sleep(1.0)  # a gap keeper's round or two
            assert len(gaps) == 1
    finally:
        await asyncio.to_thread(redis_cluster.move_slot, moving, source)


async def test_messages_a_shard_refuses_are_dropped_and_their_rooms_reported(
    redis_cluster: ThrowawayCluster,
) -> None:
    """An ACL that lets the node publish to one room's channel only (on every master): the
    other rooms' messages are refused by their shards, dropped, counted and reported; the
    allowed room's, in the same pipelines, go out."""
    rooms = _rooms_on_every_shard(redis_cluster)
    allowed, refused = rooms[0], set(rooms[1:])
    user = f"bus-{uuid.uuid4().hex[:8]}"
    for shard in redis_cluster.shards:
        shard.cli("ACL", "SETUSER", user, "on", "nopass", "+@all", "~*", f"&{channel(allowed)}")
    reported: list[set[RoomId]] = []

    async def on_dropped(dropped: set[RoomId]) -> None:
        reported.append(dropped)

    bus = ShardedRedisBus(f"redis://{user}@{redis_cluster.shards[0].address}",
                          on_dropped=on_dropped)  # fmt: skip
    try:
        async with _listener(redis_cluster, rooms, None) as (_, got), bus:
            for room in [allowed, *refused, allowed]:
                await bus.publish(room, room.key.encode())
            await eventually(lambda: len(got[allowed]) == 2 and bool(reported), timeout=5,
                             what="the allowed room's messages and the report")  # fmt: skip
            assert set().union(*reported) == refused
            assert bus.dropped == len(refused)
            assert all(got[room] == [] for room in refused)
    finally:
        for shard in redis_cluster.shards:
            shard.cli("ACL", "DELUSER", user)


async def test_a_full_queue_while_a_shard_is_away_is_reported_once_it_is_back(
    redis_cluster: ThrowawayCluster,
) -> None:
    rooms = _rooms_on_every_shard(redis_cluster)
    away = redis_cluster.shard_of(channel(rooms[0]))
    reported: list[set[RoomId]] = []

    async def on_dropped(dropped: set[RoomId]) -> None:
        reported.append(dropped)

    bus = ShardedRedisBus(redis_cluster.url, max_pending_bytes=1000, on_dropped=on_dropped)
    async with bus:
        away.kill()
        for room in [rooms[0]] * 5 + [rooms[1]] * 5 + [rooms[2]] * 5:
            await bus.publish(room, b"x" * 100)  # the last five do not fit
        assert bus.dropped == 5
        assert not await bus.flush(within=0.3)
        assert reported == []
        await asyncio.to_thread(redis_cluster.restart, away)
        assert await bus.flush(within=10)
        await eventually(lambda: reported == [{rooms[2]}], timeout=5, what="the report")


async def test_access_changes_are_kept_in_the_rooms_slot_on_the_cluster(
    redis_cluster: ThrowawayCluster,
) -> None:
    """The ledger's hash carries the room's hash tag: same slot as the room's channel, on
    the shard that owns it; the write (a MULTI of HSET and EXPIRE) stays in that slot."""
    rooms = _rooms_on_every_shard(redis_cluster)
    ledger = RedisAccessLedger(redis_cluster.url, cluster=True)
    try:
        for i, room in enumerate(rooms):
            await ledger.record(room, "ada", "revoked", 100.0 + i)
            await ledger.record(room, "bob", "read", 200.0 + i)
            key = f"collab:{room.hash_tag}:access"
            owner = redis_cluster.shard_of(channel(room))
            assert owner.cli("CLUSTER", "KEYSLOT", key) == owner.cli(
                "CLUSTER", "KEYSLOT", channel(room)
            )
            assert owner.cli("EXISTS", key) == "1"
            assert 0 < int(owner.cli("TTL", key)) <= RedisAccessLedger.TTL_SECONDS
        for i, room in enumerate(rooms):
            assert await ledger.latest(room, "ada") == ("revoked", 100.0 + i)
            assert await ledger.latest(room, "eve") is None
            assert await ledger.entries(room) == {
                "ada": ("revoked", 100.0 + i),
                "bob": ("read", 200.0 + i),
            }
    finally:
        await ledger.aclose()
