"""The collab node on Redis Cluster (COLLAB_REDIS_CLUSTER): sharded pub/sub between buses and
between nodes, rooms spread over the shards, a shard's link dropping or the shard restarting,
and the access ledger. A throwaway three-master cluster of this machine's redis-server."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from platform_api.kernel.provision import ServiceDatabase
from rooms import RedisAccessLedger, RoomId, ShardedRedisBus
from rooms.redis_bus import channel
from tests.harness.nodes import NodeProcess
from tests.harness.redis_cluster import Shard
from tests.harness.ywire import YClient, eventually

from .conftest import (
    Connect,
    Mint,
    SlowLoads,
    StartNode,
    ThrowawayCluster,
    control,
    fan_out_goes_on_during_a_catch_up,
    hold_room_on_two_nodes,
)


async def _heard_everywhere(
    sender: ShardedRedisBus, rooms: list[RoomId], got: Received, message: bytes
) -> None:
    """Publish ``message`` in every room and wait until each has heard it last."""
    for room in rooms:
        await sender.publish(room, message)
    await eventually(
        lambda: all(got[r][-1:] == [message] for r in rooms), what=f"{message!r} everywhere"
    )


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


def _room_key_on(cluster: ThrowawayCluster, shard: int) -> str:
    """A room key whose channel's slot is on ``cluster.shards[shard]``."""
    want = cluster.shards[shard].port
    tenant = uuid.uuid4()
    while True:
        room = RoomId.parse(f"{tenant}:dojo-{uuid.uuid4().hex[:8]}")
        if cluster.shard_of(channel(room)).port == want:
            return room.key


Received = dict[RoomId, list[bytes]]


@contextlib.asynccontextmanager
async def _listener(
    cluster: ThrowawayCluster,
    rooms: list[RoomId],
    on_gap: Callable[[set[RoomId] | None], Awaitable[None]] | None,
    timeout: float = 5.0,
) -> AsyncIterator[tuple[ShardedRedisBus, Received]]:
    got: Received = defaultdict(list)
    async with ShardedRedisBus(cluster.url, on_gap=on_gap, timeout=timeout) as bus:
        for room in rooms:

            async def handler(data: bytes, room: RoomId = room) -> None:
                got[room].append(data)

            await bus.subscribe(room, handler)
        yield bus, got


class _Gaps(list[float]):
    """When each gap was reported, and (``rooms``) the rooms each named."""

    def __init__(self) -> None:
        super().__init__()
        self.rooms: list[set[RoomId] | None] = []

    async def report(self, rooms: set[RoomId] | None) -> None:
        self.append(asyncio.get_running_loop().time())
        self.rooms.append(rooms)


def _gaps() -> tuple[_Gaps, Callable[[set[RoomId] | None], Awaitable[None]]]:
    gaps = _Gaps()
    return gaps, gaps.report


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
    eviction): the bus subscribes again, calls ``on_gap`` with that shard's rooms (only
    they catch up), and they hear new messages again; the other shards' rooms never
    stopped."""
    rooms = _rooms_on_every_shard(redis_cluster, per_shard=2)
    cut = redis_cluster.shard_of(channel(rooms[0]))
    gaps, on_gap = _gaps()
    async with (
        _listener(redis_cluster, rooms, on_gap) as (_, got),
        ShardedRedisBus(redis_cluster.url) as sender,
    ):
        await _heard_everywhere(sender, rooms, got, b"before")
        assert int(cut.cli("CLIENT", "KILL", "TYPE", "pubsub")) == 1
        await eventually(lambda: len(gaps) == 1, timeout=5, what="the gap is reported")
        assert gaps.rooms == [{r for r in rooms if redis_cluster.shard_of(channel(r)) is cut}]
        for room in rooms:
            await sender.publish(room, b"after")
        await eventually(lambda: all(got[r] == [b"before", b"after"] for r in rooms), what="after")
        await asyncio.sleep(0.5)
        assert len(gaps) == 1  # one gap, reported once


async def test_a_shard_link_that_answers_nothing_is_taken_for_lost_and_replaced(
    redis_cluster: ThrowawayCluster,
) -> None:
    """A shard that stops answering without closing the link (here paused; in production a
    failed-over host or a partition) sends nothing either, which looks like a quiet room:
    its link is pinged, taken for lost when even the ping goes unanswered, and connected
    again once the shard answers, with a gap. The other shards' links never stopped."""
    rooms = _rooms_on_every_shard(redis_cluster)
    silent = redis_cluster.shard_of(channel(rooms[0]))
    gaps, on_gap = _gaps()
    async with (
        _listener(redis_cluster, rooms, on_gap, timeout=0.5) as (_, got),
        ShardedRedisBus(redis_cluster.url) as sender,
    ):
        await asyncio.sleep(1.5)  # quiet, but every link answers its pings: no gap
        assert gaps == []
        silent.cli("CLIENT", "PAUSE", "2500", "ALL")
        for i in range(4):
            for room in rooms[1:]:
                await sender.publish(room, f"{i}".encode())
            await asyncio.sleep(0.5)
        assert gaps == []  # the link is being connected again: not mended before it answers
        await eventually(lambda: len(gaps) == 1, timeout=10, what="the gap is reported")
        for room in rooms:
            await sender.publish(room, b"after")
        await eventually(lambda: all(got[r][-1:] == [b"after"] for r in rooms), what="after")
        for room in rooms[1:]:
            assert got[room] == [f"{i}".encode() for i in range(4)] + [b"after"]
        await asyncio.sleep(1.5)
        assert len(gaps) == 1


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
        await _heard_everywhere(sender, rooms, got, b"back")
        # The other shards got the held messages (their lanes never waited); the restarted
        # one only if the listener was back on it first: a gap.
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
        assert gaps.rooms == [{rooms[0]}]
        assert await node.flush(within=10)
        for room in rooms[1:]:
            assert got[room] == [f"{i}".encode() for i in range(5)]


async def test_a_shard_away_holds_up_only_its_own_rooms_messages_from_this_node(
    redis_cluster: ThrowawayCluster,
) -> None:
    """Each shard has a publishing lane of its own: while one is away (and before the
    cluster gives up on it), this node's messages for the rooms on the other shards still go
    out, once each and in order; the away shard's room's messages wait for it."""
    rooms = _rooms_on_every_shard(redis_cluster)
    away = redis_cluster.shard_of(channel(rooms[0]))
    async with (
        _listener(redis_cluster, rooms, None) as (_, got),
        ShardedRedisBus(redis_cluster.url) as node,
    ):
        await _heard_everywhere(node, rooms, got, b"before")
        away.kill()
        for i in range(4):
            for room in rooms:
                await node.publish(room, f"{i}".encode())
            await eventually(
                lambda i=i: all(got[r][-1:] == [f"{i}".encode()] for r in rooms[1:]),
                timeout=2, what="the other shards' rooms hear this node",
            )  # fmt: skip
            await asyncio.sleep(0.2)
        assert not await node.flush(within=0.1)  # the away shard's messages wait for it
        await asyncio.to_thread(redis_cluster.restart, away)
        assert await node.flush(within=10)
        assert node.dropped == 0
    for room in rooms[1:]:
        assert got[room] == [b"before", b"0", b"1", b"2", b"3"]


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
            assert gaps.rooms == [{rooms[0]}]

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


async def test_a_failover_moves_the_rooms_to_the_promoted_replica_with_a_gap(
    redis_cluster_with_replicas: ThrowawayCluster,
) -> None:
    """A shard's replica is promoted (a manual failover, as for maintenance): the old
    master gives its rooms up, and the bus subscribes them on the new one and reports a
    gap, once; publishing follows the new master too. The bus that mended retires the
    demoted master's publishing lane and makes one for the new master when it publishes."""
    cluster = redis_cluster_with_replicas
    rooms = _rooms_on_every_shard(cluster)
    gaps, on_gap = _gaps()
    async with (
        _listener(cluster, rooms, on_gap) as (listener, got),
        ShardedRedisBus(cluster.url) as sender,
    ):
        demoted = cluster.shard_of(channel(rooms[0]))
        assert demoted.address in listener._lanes
        promoted = await asyncio.to_thread(cluster.fail_over, demoted)
        await eventually(lambda: len(gaps) == 1, timeout=5, what="the gap is reported")
        assert gaps.rooms == [{rooms[0]}]

        async def moved() -> bool:
            return promoted.cli("PUBSUB", "SHARDNUMSUB", channel(rooms[0])).split()[-1] == "1"

        await eventually(moved, what="the room is subscribed on the promoted replica")
        for room in rooms:
            await sender.publish(room, b"after")
        await eventually(lambda: all(got[r] == [b"after"] for r in rooms), what="after")
        await asyncio.sleep(1.0)  # a gap keeper's round or two
        assert len(gaps) == 1
        assert demoted.address not in listener._lanes
        assert {s.address for s in cluster.shards if s is not promoted} <= set(listener._lanes)
        await listener.publish(rooms[0], b"own")
        await eventually(lambda: got[rooms[0]][-1:] == [b"own"], what="through a new lane")
        assert promoted.address in listener._lanes


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
            # Each shard has a lane of its own, and each lane reports its rooms when it has
            # sent what was queued ahead of them: the reports may come one by one.
            await eventually(
                lambda: len(got[allowed]) == 2 and set().union(*reported) >= refused,
                timeout=5,
                what="the allowed room's messages and every refused room reported",
            )
            assert set().union(*reported) == refused
            assert bus.dropped == len(refused)
            assert all(got[room] == [] for room in refused)
    finally:
        for shard in redis_cluster.shards:
            shard.cli("ACL", "DELUSER", user)


async def test_a_full_lane_while_its_shard_is_away_is_reported_once_it_is_back(
    redis_cluster: ThrowawayCluster,
) -> None:
    """Each shard's lane has the whole byte budget: the away shard's lane fills up and drops
    its room's messages, reported once the shard is back; the other shards' rooms lose
    nothing meanwhile, and a room whose own lane drops a message (one larger than the
    budget) is reported as soon as that lane has drained, the away shard notwithstanding."""
    rooms = _rooms_on_every_shard(redis_cluster)
    away = redis_cluster.shard_of(channel(rooms[0]))
    reported: list[set[RoomId]] = []

    async def on_dropped(dropped: set[RoomId]) -> None:
        reported.append(dropped)

    bus = ShardedRedisBus(redis_cluster.url, max_pending_bytes=1000, on_dropped=on_dropped)
    async with bus:
        away.kill()
        for _ in range(15):
            await bus.publish(rooms[0], b"x" * 100)  # the last five do not fit
        for room in rooms[1:]:
            for _ in range(5):
                await bus.publish(room, b"x" * 100)
        assert bus.dropped == 5
        await bus.publish(rooms[1], b"y" * 1001)
        assert bus.dropped == 6
        await eventually(lambda: reported == [{rooms[1]}], timeout=2, what="its lane's report")
        assert not await bus.flush(within=0.3)  # the away shard's lane holds on
        await asyncio.to_thread(redis_cluster.restart, away)
        assert await bus.flush(within=10)
        await eventually(lambda: reported[1:] == [{rooms[0]}], timeout=5, what="the report")


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


def _cluster_settings(redis_cluster: ThrowawayCluster, **more: object) -> dict[str, object]:
    return {"redis_url": redis_cluster.url, "redis_cluster": True, **more}


async def test_a_revoke_through_one_node_closes_the_peer_on_the_other(
    redis_cluster: ThrowawayCluster,
    start_node: StartNode,
    connect: Connect,
    mint: Mint,
    collab_db: ServiceDatabase,
) -> None:
    """Both nodes on the cluster, for the bus and the access ledger alike."""
    room_key = _room_key_on(redis_cluster, 1)
    user = str(uuid.uuid4())
    a_node = await start_node(**_cluster_settings(redis_cluster, database_url=collab_db.app_dsn))
    b_node = await start_node(**_cluster_settings(redis_cluster, database_url=collab_db.app_dsn))
    a = await connect(a_node, room_key)
    b = await connect(b_node, room_key, user=user)
    await a.insert("a ")
    await eventually(lambda: str(b) == "a ", what="fan-out")
    await control(a_node, mint, room_key, {"type": "revoke", "user": user})
    assert await b.wait_closed(timeout=5) == 4403
    ledger = RedisAccessLedger(redis_cluster.url, cluster=True)
    try:
        assert (await ledger.latest(RoomId.parse(room_key), user) or ("",))[0] == "revoked"
    finally:
        await ledger.aclose()


async def test_a_dropped_shard_link_makes_the_node_catch_up_beside_the_bus_reader(
    redis_cluster: ThrowawayCluster,
    slow_log: SlowLoads,
    start_node: StartNode,
    connect: Connect,
    collab_db: ServiceDatabase,
) -> None:
    """The room's shard drops the nodes' subscription links: the node on the slow log
    catches the room up from it once subscribed again, and meanwhile updates from the
    other node still reach its peers (the catch-up runs beside the shard readers)."""
    room_key = _room_key_on(redis_cluster, 2)
    a, b = await hold_room_on_two_nodes(
        start_node,
        connect,
        room_key,
        slow_log,
        first=_cluster_settings(redis_cluster, database_url=collab_db.app_dsn),
        second=_cluster_settings(redis_cluster),
    )

    async def drop_link() -> None:
        redis_cluster.shards[2].cli("CLIENT", "KILL", "TYPE", "pubsub")

    await fan_out_goes_on_during_a_catch_up(a, b, slow_log, drop_link, what="the node catches up")


async def test_an_update_made_while_its_shard_is_away_reaches_the_other_node(
    redis_cluster: ThrowawayCluster,
    start_node: StartNode,
    connect: Connect,
    collab_db: ServiceDatabase,
) -> None:
    """The room's shard restarts (empty) while a peer edits: once it is back, the other
    node's peer has the update, from the held message or from the catch-up the gap leads
    to, whichever came first; and the room's fan-out works again."""
    room_key = _room_key_on(redis_cluster, 0)
    pg = _cluster_settings(redis_cluster, database_url=collab_db.app_dsn)
    a = await connect(await start_node(**pg), room_key)
    b = await connect(await start_node(**pg), room_key)
    await a.insert("a ")
    await b.insert("b ")
    await eventually(lambda: len(str(a)) == len(str(b)) == 4, what="both nodes hold the room")
    redis_cluster.shards[0].kill()
    await a.insert("away ")
    await asyncio.to_thread(redis_cluster.restart, redis_cluster.shards[0])
    await eventually(lambda: str(b) == str(a), what="the other node has the update")
    await b.insert("back ")
    await eventually(lambda: str(a) == str(b), what="fan-out again")
    assert a.connected
    assert b.connected


async def test_node_processes_converge_over_the_cluster(
    redis_cluster: ThrowawayCluster,
    collab_db: ServiceDatabase,
    ticket_key: tuple[str, str],
    mint: Mint,
    tmp_path: Path,
) -> None:
    """Collab processes started with COLLAB_REDIS_CLUSTER, a room on every shard, each
    room's clients spread over the nodes, all editing at once."""
    env = {
        "COLLAB_DATABASE_URL": collab_db.app_dsn,
        "COLLAB_REDIS_URL": redis_cluster.url,
        "COLLAB_REDIS_CLUSTER": "true",
        "COLLAB_TICKET_PUBLIC_KEY": ticket_key[1],
        "COLLAB_SNAPSHOT_DIR": str(tmp_path / "snapshots"),
        "COLLAB_DRAIN_SECONDS": "2",
    }
    nodes = [NodeProcess(f"cluster-{i}", env, tmp_path) for i in range(2)]
    await asyncio.gather(*(asyncio.to_thread(node.start) for node in nodes))
    rooms = [room.key for room in _rooms_on_every_shard(redis_cluster)]
    edits = 5
    clients: dict[str, list[YClient]] = {room: [] for room in rooms}
    try:
        for room in rooms:
            for node in [*nodes, *nodes]:
                client = YClient(f"{node.url}/{room}?ticket={mint(room)}")
                clients[room].append(await client.connect())
        for room in rooms:  # every node holds every room: both subscribed on its shard
            name = channel(RoomId.parse(room))
            owner = redis_cluster.shard_of(name)

            async def both(owner: Shard = owner, name: str = name) -> bool:
                return owner.cli("PUBSUB", "SHARDNUMSUB", name).split()[-1] == "2"

            await eventually(both, what="both nodes subscribed on the room's shard")
            assert owner.cli("PUBSUB", "NUMSUB", name).split()[-1] == "0"
        await asyncio.gather(
            *(
                client.insert(f"<{n}:{i}>")
                for peers in clients.values()
                for n, client in enumerate(peers)
                for i in range(edits)
            )
        )
        for room, peers in clients.items():
            await eventually(
                lambda peers=peers: (
                    len({str(c) for c in peers}) == 1
                    and str(peers[0]).count("<") == edits * len(peers)
                ),
                timeout=10,
                what=f"room {room} converges",
            )
    finally:
        for peers in clients.values():
            for client in peers:
                await client.close()
        await asyncio.gather(*(asyncio.to_thread(node.stop) for node in nodes))


async def test_with_the_whole_cluster_away_a_batch_is_held_not_dropped() -> None:
    """The client cannot even read the slots (RedisClusterException, not a link error of
    redis-py's): what is queued waits for the cluster, as on a single server."""
    bus = ShardedRedisBus("redis://127.0.0.1:1")  # nothing listens there
    room = RoomId(uuid.uuid4(), "away")
    await bus.publish(room, b"\x01update")
    (lane,) = bus._lanes.values()
    await bus._send_batch(lane)
    assert len(lane.queue) == 1
    assert bus.dropped == 0


async def test_the_gap_keeper_outlives_a_cluster_it_cannot_reach() -> None:
    """Mending a shard while no node of the cluster answers fails, and is tried again: the
    task that mends gaps never ends (it would leave those rooms unheard for good)."""
    bus = ShardedRedisBus("redis://127.0.0.1:1")
    bus.RETRY_SECONDS = 0.01
    bus._broken.add("127.0.0.1:7000")
    bus._gap.set()
    keeper = asyncio.create_task(bus._read_forever())
    await asyncio.sleep(1.0)
    assert not keeper.done()
    keeper.cancel()
    await asyncio.gather(keeper, return_exceptions=True)


async def test_the_gap_keeper_stops_when_cancelled_at_any_step() -> None:
    """Cancelled at each of its first steps (a node shutting down cancels it), the gap keeper
    ends. A wait that swallowed a cancellation arriving just as the gap was set kept it
    mending for good, and the node's shutdown waited on it for ever."""
    for steps in range(12):
        bus = ShardedRedisBus("redis://127.0.0.1:1")
        bus.RETRY_SECONDS = 0.01
        bus._broken.add("127.0.0.1:7000")
        bus._gap.set()
        keeper = asyncio.create_task(bus._read_forever())
        for _ in range(steps):
            await asyncio.sleep(0)
        keeper.cancel()
        done, _ = await asyncio.wait([keeper], timeout=5)
        assert done, f"the gap keeper went on after a cancellation at step {steps}"
