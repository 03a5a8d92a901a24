"""The Redis fan-out bus against the real Redis: batching, ordering, a lost connection and
the messages a full queue drops."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as redis

from platform_api.kernel.provision import ServiceDatabase
from rooms import MemoryAccessLedger, MemoryUpdateLog, RedisAccessLedger, RedisBus, RoomId
from rooms.frames import FRESH, GONE, Kind, encode_frame, new_node_id
from rooms.redis_bus import channel
from tests.harness.ywire import YClient, eventually

from .conftest import (
    Connect,
    Mint,
    SlowLoads,
    StartNode,
    control,
    fan_out_goes_on_during_a_catch_up,
    hold_room_on_two_nodes,
    no_rooms_loaded,
    node_metric,
)


class CuttableProxy:
    """A TCP forwarder to Redis whose links can be cut and restored, or silenced, as network
    faults would."""

    def __init__(self, host: str, port: int, bytes_per_second: float | None = None) -> None:
        self._target = (host, port)
        self._rate = bytes_per_second  # each way, on each link
        self._server: asyncio.Server | None = None
        self._links: set[asyncio.StreamWriter] = set()
        self._silenced: set[asyncio.StreamWriter] = set()
        self._silence_next = 0  # new links to silence
        self.port = 0

    @classmethod
    def to(cls, redis_url: str, bytes_per_second: float | None = None) -> CuttableProxy:
        """A proxy to the Redis server of ``redis_url`` (a ``redis://host:port/db`` URL)."""
        host, _, port = redis_url.removeprefix("redis://").split("/", 1)[0].rpartition(":")
        return cls(host or "127.0.0.1", int(port or 6379), bytes_per_second)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        """Close every link and stop accepting new ones."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._links):
            writer.transport.abort()
        self._links.clear()
        self._silenced.clear()

    def silence(self, next_links: int = 0) -> None:
        """From now on the links open so far carry nothing either way, yet stay open: a path
        that died without a reset (a failed-over host, a partition). So do the next
        ``next_links`` links made; later ones work."""
        self._silenced |= self._links
        self._silence_next = next_links

    async def _accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection(*self._target)
        self._links |= {client_w, server_w}
        if self._silence_next > 0:
            self._silence_next -= 1
            self._silenced |= {client_w, server_w}

        async def pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await reader.read(65536):
                    if writer in self._silenced:
                        continue  # lost on the way
                    writer.write(data)
                    await writer.drain()
                    if self._rate:
                        await asyncio.sleep(len(data) / self._rate)
            writer.transport.abort()

        await asyncio.gather(pump(client_r, server_w), pump(server_r, client_w))


@pytest.fixture
async def proxy(redis_url: str) -> AsyncIterator[CuttableProxy]:
    """Requested before ``start_node``, so that nodes behind it can say goodbye to Redis."""
    proxy = CuttableProxy.to(redis_url)
    await proxy.start()
    yield proxy
    await proxy.cut()


@pytest.fixture
async def ledger(redis_url: str) -> AsyncIterator[RedisAccessLedger]:
    """The access ledger on Redis itself, not behind the proxy. Requested before
    ``start_node``, so that it outlives the nodes using it."""
    ledger = RedisAccessLedger(redis_url)
    yield ledger
    await ledger.aclose()


def _rooms(count: int) -> list[RoomId]:
    tenant = uuid.uuid4()
    return [RoomId.parse(f"{tenant}:bus-{i}") for i in range(count)]


@contextlib.asynccontextmanager
async def _listener(url: str, rooms: list[RoomId]) -> AsyncIterator[dict[RoomId, list[bytes]]]:
    got: dict[RoomId, list[bytes]] = defaultdict(list)
    async with RedisBus(url) as bus:
        for room in rooms:

            async def handler(data: bytes, room: RoomId = room) -> None:
                got[room].append(data)

            await bus.subscribe(room, handler)
        yield got


Gaps = list[tuple[float, set[RoomId] | None]]  # when each was reported, the rooms it named


@contextlib.asynccontextmanager
async def _heard_behind(
    proxy: CuttableProxy, redis_url: str
) -> AsyncIterator[tuple[RedisBus, RoomId, list[bytes], Gaps]]:
    """A bus behind ``proxy`` (0.5 s timeout) whose room has heard a first message from a
    sender on Redis itself: yields the sender, the room, what it heard and the gaps."""
    room = _rooms(1)[0]
    got: list[bytes] = []
    gaps: Gaps = []

    async def handler(data: bytes) -> None:
        got.append(data)

    async def on_gap(rooms: set[RoomId] | None) -> None:
        gaps.append((asyncio.get_running_loop().time(), rooms))

    async with (
        RedisBus(redis_url) as sender,
        RedisBus(f"redis://127.0.0.1:{proxy.port}/0", on_gap=on_gap, timeout=0.5) as bus,
    ):
        await bus.subscribe(room, handler)
        await sender.publish(room, b"before")
        await _until(lambda: got == [b"before"], 5)
        yield sender, room, got, gaps


async def _until(check: object, timeout: float) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():  # type: ignore[operator]
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.02)


async def test_many_concurrent_publishes_arrive_in_order_per_room(redis_url: str) -> None:
    """Hundreds of rooms publishing at once share one pipeline, not one connection each."""
    rooms = _rooms(40)
    per_room = 50
    async with _listener(redis_url, rooms) as got, RedisBus(redis_url) as bus:
        await asyncio.gather(
            *(
                bus.publish(room, f"{room.name}:{i}".encode())
                for i in range(per_room)
                for room in rooms
            )
        )
        assert await bus.flush(within=10)
        await _until(lambda: sum(len(v) for v in got.values()) == len(rooms) * per_room, 10)
    for room in rooms:
        assert got[room] == [f"{room.name}:{i}".encode() for i in range(per_room)]


async def test_messages_published_while_redis_is_unreachable_go_out_when_it_is_back(
    redis_url: str,
) -> None:
    if not redis_url.startswith("redis://"):
        pytest.skip("needs a TCP Redis URL")
    proxy = CuttableProxy.to(redis_url)
    await proxy.start()
    rooms = _rooms(3)
    async with _listener(redis_url, rooms) as got:
        bus = RedisBus(f"redis://127.0.0.1:{proxy.port}/0")
        bus.RETRY_SECONDS = 0.05
        async with bus:
            await bus.publish(rooms[0], b"before")
            await _until(lambda: got[rooms[0]] == [b"before"], 5)

            await proxy.cut()
            for i, room in enumerate(rooms):
                await bus.publish(room, f"during-{i}".encode())  # returns at once
            assert not await bus.flush(within=0.3)  # held while Redis is out of reach

            await proxy.start()  # same port: the bus reconnects and resends what it held
            assert await bus.flush(within=10)
            await _until(lambda: all(got[r][-1:] == [f"during-{i}".encode()] for i, r in
                                     enumerate(rooms)), 5)  # fmt: skip
        await proxy.cut()


async def test_a_publish_link_gone_silent_is_replaced_and_its_batch_sent_again(
    redis_url: str, proxy: CuttableProxy
) -> None:
    """A Redis link that stops answering without being reset would hold every message for
    the other nodes until the kernel gave up on it: the command times out after the bus's
    timeout, and the batch goes out again on a new link."""
    room = _rooms(1)[0]
    async with (
        _listener(redis_url, [room]) as got,
        RedisBus(f"redis://127.0.0.1:{proxy.port}/0", timeout=0.5) as bus,
    ):
        bus.RETRY_SECONDS = 0.05
        await bus.publish(room, b"before")
        await _until(lambda: got[room] == [b"before"], 5)

        proxy.silence()
        silenced = asyncio.get_running_loop().time()
        await bus.publish(room, b"during")
        await _until(lambda: got[room][-1:] == [b"during"], 10)
        assert asyncio.get_running_loop().time() - silenced < 3  # the bus's timeout, not Redis's
        assert got[room] == [b"before", b"during"]


async def test_a_subscription_link_gone_silent_is_found_out_and_replaced(
    redis_url: str, proxy: CuttableProxy
) -> None:
    """Nothing arrives on a silent subscription link, which looks the same as a quiet room:
    the bus pings it when it has heard nothing for a while, takes it for lost when not even
    the ping is answered, subscribes again on a new link and reports the gap."""
    async with _heard_behind(proxy, redis_url) as (sender, room, got, gaps):
        await asyncio.sleep(1.5)  # quiet, but the link answers its pings: no gap
        assert gaps == []

        proxy.silence()
        silenced = asyncio.get_running_loop().time()
        await _until(lambda: gaps, 10)
        assert gaps[0][0] - silenced < 3  # ~2 timeouts: silent for one, then a ping unanswered
        assert gaps[0][1] is None  # one link carries every room
        await sender.publish(room, b"after")
        await _until(lambda: got[-1:] == [b"after"], 5)


async def test_a_queue_larger_than_a_slow_link_carries_in_a_timeout_goes_out_in_parts(
    redis_url: str,
) -> None:
    """A pipeline must be written within one timeout. After an outage the queue can hold far
    more than a slow link carries in that time: sent as one pipeline it would time out, be
    sent again, and time out again, forever. It goes out in pipelines of at most 1 MiB."""
    proxy = CuttableProxy.to(redis_url, bytes_per_second=8_000_000)
    await proxy.start()
    room = _rooms(1)[0]
    try:
        async with (
            _listener(redis_url, [room]) as got,
            RedisBus(f"redis://127.0.0.1:{proxy.port}/0", timeout=0.5) as bus,
        ):
            bus.RETRY_SECONDS = 0.05
            # 16 MB: two seconds on this link, more than a timeout's worth plus what the
            # sockets' buffers take in.
            for i in range(16):
                await bus.publish(room, bytes([i]) * 1_000_000)
            assert await bus.flush(within=30)
            # A batch a stalled loop let time out is sent again (harmless): count each once.
            await _until(lambda: len({message[:1] for message in got[room]}) == 16, 10)
            heard = list(dict.fromkeys(message[:1] for message in got[room]))
            assert heard == [bytes([i]) for i in range(16)]
    finally:
        await proxy.cut()


async def test_a_gap_is_reported_even_when_subscribing_again_first_fails(
    redis_url: str, proxy: CuttableProxy
) -> None:
    """Subscribing again on a new link times out (Redis does not answer it), then Redis
    answers again: the next read would connect the link by itself, and the gap must still
    be reported, or the rooms would never catch up on what they missed."""
    async with _heard_behind(proxy, redis_url) as (sender, room, got, gaps):
        proxy.silence(next_links=1)  # the link subscribing again is silent too
        await _until(lambda: gaps, 10)
        assert [rooms for _, rooms in gaps] == [None]  # every room
        await sender.publish(room, b"after")
        await _until(lambda: got[-1:] == [b"after"], 5)


async def test_a_full_queue_refuses_new_messages_and_reports_their_rooms_once_drained(
    redis_url: str,
) -> None:
    """Only the rooms that lost messages are reported, and only once the queue has gone out
    (while it is full, the other nodes could not be told anyway)."""
    proxy = CuttableProxy.to(redis_url)
    await proxy.start()
    reported: list[set[RoomId]] = []

    async def on_dropped(rooms: set[RoomId]) -> None:
        reported.append(rooms)

    bus = RedisBus(
        f"redis://127.0.0.1:{proxy.port}/0", max_pending_bytes=1000, on_dropped=on_dropped
    )
    bus.RETRY_SECONDS = 0.05
    kept, lost = _rooms(2)
    async with bus:
        await proxy.cut()
        for room in [kept] * 10 + [lost] * 20:
            await bus.publish(room, b"x" * 100)
        assert bus.dropped == 20
        assert not await bus.flush(within=0.3)
        assert reported == []
        await proxy.start()
        assert await bus.flush(within=10)
        await _until(lambda: reported == [{lost}], 5)
    await proxy.cut()


@contextlib.asynccontextmanager
async def _restricted_user(
    redis_url: str, *rooms: RoomId
) -> AsyncIterator[tuple[redis.Redis, str, str]]:
    """A Redis user that may run any command on any key but use only these rooms' channels
    (none, without rooms): the admin client, the user's name and the URL to connect as it."""
    user = f"bus-{uuid.uuid4().hex[:8]}"
    admin = redis.Redis.from_url(redis_url)
    await admin.acl_setuser(
        user, enabled=True, nopass=True, commands=["+@all"], keys=["*"], reset_channels=True,
        channels=[channel(room) for room in rooms],
    )  # fmt: skip
    host_port, _, db = redis_url.removeprefix("redis://").partition("/")
    try:
        yield admin, user, f"redis://{user}@{host_port}/{db or 0}"
    finally:
        await admin.acl_deluser(user)
        await admin.aclose()


async def test_messages_redis_refuses_are_dropped_and_their_rooms_reported(
    redis_url: str,
) -> None:
    """An error reply (here an ACL that lets the node publish to one room's channel only)
    would come again on every resend: those messages are dropped and their rooms reported,
    and the other messages of the same pipeline still go out. The catch-up question the
    report leads to is refused too, so a refused room is reported again only after a
    while, and the other rooms' messages never wait for it."""
    allowed, refused = _rooms(2)
    reported: list[set[RoomId]] = []
    async with _restricted_user(redis_url, allowed) as (_, _, url):
        bus = RedisBus(url)

        async def ask_again(rooms: set[RoomId]) -> None:  # as the room manager does
            reported.append(rooms)
            for room in rooms:
                await bus.publish(room, b"FRESH")

        bus._on_dropped = ask_again
        bus.RETRY_SECONDS = 5.0  # a sleep after a refusal would show as a late message
        async with _listener(redis_url, [allowed]) as got, bus:
            for room in [allowed, refused, allowed]:
                await bus.publish(room, room.key.encode())
            await _until(lambda: len(got[allowed]) == 2 and reported, 2)
            assert reported[0] == {refused}
            await asyncio.sleep(0.3)  # the question was refused: not reported again yet
            assert reported == [{refused}]
            assert bus.dropped == 2
            await bus.publish(allowed, b"later")
            await _until(lambda: len(got[allowed]) == 3, 2)


async def test_a_subscription_redis_refuses_leaves_the_other_rooms_heard(redis_url: str) -> None:
    """An error reply on the subscription link (an ACL refusing one room's channel) is read
    like any message: it is logged, and the reader goes on for every other room."""
    allowed, refused = _rooms(2)
    heard: list[bytes] = []

    async def hear(data: bytes) -> None:
        heard.append(data)

    async with _restricted_user(redis_url, allowed) as (admin, _, url), RedisBus(url) as bus:
        await bus.subscribe(refused, hear)
        await bus.subscribe(allowed, hear)
        for attempt in range(50):  # until the subscription has taken
            await admin.publish(channel(allowed), f"{attempt}".encode())
            with contextlib.suppress(AssertionError):  # not yet
                await _until(lambda: heard, 0.1)
                break
        assert heard
        await admin.publish(channel(allowed), b"later")
        await _until(lambda: heard[-1:] == [b"later"], 2)


async def test_a_room_refused_again_soon_after_its_report_is_reported_once_the_quiet_time_is_over(
    redis_url: str,
) -> None:
    """A refused room is reported at most every ``REFUSED_REPORT_SECONDS``, but a message
    refused within that time is not forgotten: once it has passed, the room is reported
    again, though it publishes nothing more, so the other nodes catch up on that message
    too. Then nothing more is owed."""
    room = _rooms(1)[0]
    reported: list[tuple[float, set[RoomId]]] = []

    async def on_dropped(rooms: set[RoomId]) -> None:
        # The bus's own time of the report: this callback runs a varying while after it,
        # so its clock would measure those delays too, not the bus's spacing.
        reported.append((bus._refused_reported[room], rooms))

    async with _restricted_user(redis_url) as (admin, user, url):
        bus = RedisBus(url, on_dropped=on_dropped)
        bus.REFUSED_REPORT_SECONDS = 1.0
        async with bus:
            await bus.publish(room, b"update 1")
            await _until(lambda: reported, 2)
            await bus.publish(room, b"update 2")
            await _until(lambda: bus.dropped == 2, 2)
            assert [rooms for _, rooms in reported] == [{room}]  # not at once
            await admin.acl_setuser(user, enabled=True, channels=[channel(room)])  # Redis is back
            await _until(lambda: len(reported) == 2, 3)
            assert reported[1][1] == {room}
            assert reported[1][0] - reported[0][0] >= bus.REFUSED_REPORT_SECONDS
            await asyncio.sleep(2 * bus.REFUSED_REPORT_SECONDS)
            assert len(reported) == 2
            assert bus.dropped == 2


async def test_a_refused_catch_up_question_does_not_ask_again(redis_url: str) -> None:
    """The catch-up question a report sends (hellos, as the room manager publishes them)
    goes to the refused channel too: its refusal is counted, never reported, so a room
    Redis keeps refusing is reported once, not every ``REFUSED_REPORT_SECONDS`` forever."""
    room = _rooms(1)[0]
    reported: list[set[RoomId]] = []
    node = new_node_id()

    async def ask_again(rooms: set[RoomId]) -> None:
        reported.append(rooms)
        for refused in rooms:
            await bus.publish(refused, encode_frame(Kind.HELLO, node, FRESH))
            await bus.publish(refused, encode_frame(Kind.HELLO, node, GONE))

    async with _restricted_user(redis_url) as (_, _, url):
        bus = RedisBus(url, on_dropped=ask_again)
        bus.REFUSED_REPORT_SECONDS = 0.3
        async with bus:
            await bus.publish(room, b"update")
            await _until(lambda: bus.dropped == 3, 2)  # the update, then both hellos
            await asyncio.sleep(5 * bus.REFUSED_REPORT_SECONDS)
            assert reported == [{room}]
            assert bus.dropped == 3


async def test_an_unexpected_publish_error_drops_the_batch_and_publishing_goes_on(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure that is neither a lost connection nor an error reply (a garbled reply,
    say) must not end the publisher: the batch is dropped and reported, later ones go out."""
    room = _rooms(1)[0]
    reported: list[set[RoomId]] = []

    async def on_dropped(rooms: set[RoomId]) -> None:
        reported.append(rooms)

    execute = redis.client.Pipeline.execute
    failures = [redis.InvalidResponse("garbled reply")]

    async def garbled_once(pipe: redis.client.Pipeline, raise_on_error: bool = True) -> Any:
        if failures:
            raise failures.pop()
        return await execute(pipe, raise_on_error=raise_on_error)

    monkeypatch.setattr(redis.client.Pipeline, "execute", garbled_once)
    bus = RedisBus(redis_url, on_dropped=on_dropped)
    bus.RETRY_SECONDS = 0.05
    async with _listener(redis_url, [room]) as got, bus:
        await bus.publish(room, b"lost")
        await _until(lambda: reported == [{room}], 2)
        await bus.publish(room, b"sent")
        await _until(lambda: got[room] == [b"sent"], 2)
        assert bus.dropped == 1


async def test_a_stale_room_leaving_does_not_unsubscribe_its_reloaded_successor(
    redis_url: str,
) -> None:
    """A discarded room closes after its successor has subscribed: the channel stays."""
    room = _rooms(1)[0]
    got: list[bytes] = []

    async def old(data: bytes) -> None:
        raise AssertionError("the old room must not receive")

    async def new(data: bytes) -> None:
        got.append(data)

    async with RedisBus(redis_url) as listener, RedisBus(redis_url) as sender:
        await listener.subscribe(room, old)
        await listener.subscribe(room, new)  # the room, loaded again
        await listener.unsubscribe(room, old)  # the old one closes late
        await sender.publish(room, b"still here")
        await _until(lambda: got == [b"still here"], 5)


async def test_catching_up_after_a_reconnect_holds_up_no_update(
    proxy: CuttableProxy,
    slow_log: SlowLoads,
    start_node: StartNode,
    connect: Connect,
    collab_db: ServiceDatabase,
    redis_url: str,
    room_key: str,
) -> None:
    """Back on Redis, a node catches its rooms up from the log beside the bus reader: while
    the log is slow, updates from the other node still reach its peers."""
    a, b = await hold_room_on_two_nodes(
        start_node,
        connect,
        room_key,
        slow_log,
        first={"database_url": collab_db.app_dsn, "redis_url": redis_url},
        second={"redis_url": f"redis://127.0.0.1:{proxy.port}/0"},
    )

    async def reconnect() -> None:
        await proxy.cut()
        await proxy.start()

    await fan_out_goes_on_during_a_catch_up(
        a, b, slow_log, reconnect, what="the reconnected node catches up"
    )


async def test_an_update_the_full_queue_dropped_reaches_the_other_node_once_redis_is_back(
    proxy: CuttableProxy, start_node: StartNode, connect: Connect, room_key: str, redis_url: str
) -> None:
    """A node's link to Redis is cut until its queue overflows: once it has sent what it
    held, it says FRESH in the room, and the other node's peer gets the dropped update
    without reconnecting (the other node's own link never dropped: nothing else tells it)."""
    cut_off, a, b = await _held_behind_proxy_and_directly(
        proxy, start_node, connect, room_key, redis_url
    )
    await proxy.cut()
    await a.insert("held ")  # fits in the queue: sent when Redis is back
    await a.insert("dropped " * 200)  # does not fit
    await eventually(lambda: _bus_dropped(cut_off), what="the update is dropped")
    await proxy.start()
    await eventually(lambda: str(b) == str(a), what="the other node catches up")
    assert b.connected


class LedgerAwayForListing(MemoryAccessLedger):
    """An access ledger that answers for one user but cannot list a room's changes (Redis
    failing on a bigger read, say)."""

    async def entries(self, room: RoomId) -> dict[str, tuple[str, float]]:
        raise ConnectionError("the access ledger is away for a moment")


async def test_a_catch_up_repairs_the_document_even_when_access_cannot_be_read(
    proxy: CuttableProxy, start_node: StartNode, connect: Connect, room_key: str, redis_url: str
) -> None:
    """Judging access again is part of a catch-up; failing at it must not leave the peers
    without the updates they missed (the catch-up is tried again for the access part)."""
    cut_off, a, b = await _held_behind_proxy_and_directly(
        proxy, start_node, connect, room_key, redis_url,
        other_settings={"access_ledger": LedgerAwayForListing()},
    )  # fmt: skip
    await proxy.cut()
    await a.insert("held ")
    await a.insert("dropped " * 200)
    await eventually(lambda: _bus_dropped(cut_off), what="the update is dropped")
    await proxy.start()
    await eventually(lambda: str(b) == str(a), what="the other node catches up")


async def test_a_dropped_update_reaches_the_other_node_after_its_room_unloaded_here(
    proxy: CuttableProxy, start_node: StartNode, connect: Connect, room_key: str, redis_url: str
) -> None:
    """The writer leaves and the cut-off node unloads the room before Redis is back: the
    other node, still holding it, is asked to catch up all the same."""
    cut_off, a, b = await _held_behind_proxy_and_directly(
        proxy, start_node, connect, room_key, redis_url, idle_room_seconds=0
    )
    await proxy.cut()
    await a.insert("held ")  # queued: the dropped room is reported once it has gone out
    await a.insert("dropped " * 200)
    await eventually(lambda: _bus_dropped(cut_off), what="the update is dropped")
    expected = str(a)
    await a.close()
    await eventually(lambda: no_rooms_loaded(cut_off), what="the room unloads")
    await proxy.start()
    await eventually(lambda: str(b) == expected, what="the other node catches up")
    assert b.connected


async def test_a_revoke_the_full_queue_dropped_closes_the_peer_on_the_other_node(
    proxy: CuttableProxy,
    ledger: RedisAccessLedger,
    start_node: StartNode,
    connect: Connect,
    mint: Mint,
    room_key: str,
    redis_url: str,
) -> None:
    """A revoke made through a node whose queue is full never reaches the other node over
    the bus; the ledger has it, and the other node's catch-up closes the revoked peer as a
    reconnect with its ticket would be refused, before sending it the updates it missed."""
    user = str(uuid.uuid4())
    cut_off, a, b = await _held_behind_proxy_and_directly(
        proxy, start_node, connect, room_key, redis_url, user=user,
        access_ledger=ledger,  # the change is recorded: only its bus message is lost
    )  # fmt: skip
    await proxy.cut()
    while not await _bus_dropped(cut_off):
        await a.insert("x")  # fill the queue to the last small message
    dropped = await _bus_dropped_count(cut_off)
    await control(cut_off, mint, room_key, {"type": "revoke", "user": user})
    assert await _bus_dropped_count(cut_off) > dropped  # the control message too
    await proxy.start()
    assert await b.wait_closed(timeout=5) == 4403
    assert str(b) != str(a)  # the last "x" was dropped: only the catch-up would have sent it


async def _held_behind_proxy_and_directly(
    proxy: CuttableProxy,
    start_node: StartNode,
    connect: Connect,
    room_key: str,
    redis_url: str,
    *,
    user: str | None = None,
    other_settings: dict[str, Any] | None = None,
    **cut_off_settings: Any,
) -> tuple[str, YClient, YClient]:
    """The room held by a node that reaches Redis through ``proxy`` with a 1 KiB publish
    queue (its URL and peer ``a`` are returned) and by one that reaches it directly (peer
    ``b``, of ``user`` when given); both on one in-memory log."""
    log = MemoryUpdateLog()
    cut_off = await start_node(
        redis_url=f"redis://127.0.0.1:{proxy.port}/0",
        bus_queue_bytes=1024,
        update_log=log,
        **cut_off_settings,
    )
    other = await start_node(redis_url=redis_url, update_log=log, **(other_settings or {}))
    a = await connect(cut_off, room_key)
    b = await connect(other, room_key, **({"user": user} if user else {}))
    await a.insert("a ")
    await b.insert("b ")
    await eventually(lambda: len(str(a)) == len(str(b)) == 4, what="both nodes hold the room")
    return cut_off, a, b


async def _bus_dropped(base: str) -> bool:
    """Whether the node's metrics count a message its bus dropped."""
    return await _bus_dropped_count(base) > 0


async def _bus_dropped_count(base: str) -> float:
    return await node_metric(base, "collab_bus_dropped_total")
