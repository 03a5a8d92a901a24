"""Which nodes hold a room: a room on one node publishes nothing but its hellos, the
moments when one node does not know another yet (or forgot it) lose no update, the
catch-ups a FRESH hello asks for never hold up the bus, and a client's presence is spoken
for by its own connection only, on any node, and leaves with the node that held it."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable

import aiohttp
import pytest
from pycrdt import Doc, Text

from crdt import AwarenessEntry, encode_awareness, merge_updates
from platform_api.kernel.provision import ServiceDatabase
from rooms import MemoryBus, MemoryUpdateLog, RedisBus, RoomId
from rooms import room as room_module
from rooms.frames import FRESH, GONE, Kind, decode_frame, encode_frame, new_node_id
from rooms.memory import MemoryBusNode
from rooms.ports import BusHandler
from tests.harness.ywire import YClient, eventually

from .conftest import (
    Connect,
    Mint,
    SlowLoads,
    StartNode,
    hold_room_on_two_nodes,
    node_metric,
)


class WatchedBus:
    """A node's view of a shared in-memory bus that counts what it publishes and can hold
    back (``hold``) or lose (``lose``) frames, as a slow or broken link would."""

    def __init__(self, hub: MemoryBus) -> None:
        self._inner: MemoryBusNode = hub.node()
        self.sent: Counter[Kind] = Counter()
        self.hold: Callable[[Kind, bytes], bool] = lambda kind, payload: False
        self.lose = False
        self.held: list[tuple[RoomId, bytes]] = []
        self.origin = b""  # the node's id, once it has published

    async def publish(self, room: RoomId, message: bytes) -> None:
        frame = decode_frame(message)
        self.origin = frame.origin
        if self.lose:
            return
        if self.hold(frame.kind, frame.payload):
            self.held.append((room, message))
            return
        self.sent[frame.kind] += 1
        await self._inner.publish(room, message)

    async def release(self) -> None:
        held, self.held = self.held, []
        for room, message in held:
            await self._inner.publish(room, message)

    async def subscribe(self, room: RoomId, handler: BusHandler) -> None:
        await self._inner.subscribe(room, handler)

    async def unsubscribe(self, room: RoomId, handler: BusHandler | None = None) -> None:
        await self._inner.unsubscribe(room, handler)


async def test_a_room_on_one_node_puts_only_hellos_on_the_bus(
    start_node: StartNode, connect: Connect, room_key: str
) -> None:
    bus = WatchedBus(MemoryBus())
    base = await start_node(bus=bus, update_log=MemoryUpdateLog())
    a, b = await connect(base, room_key), await connect(base, room_key)
    for i in range(20):
        await a.insert(f"<{i}>")
    await eventually(lambda: str(b) == str(a) and "<19>" in str(b), what="local fan-out")
    assert bus.sent[Kind.HELLO] >= 1
    assert bus.sent[Kind.UPDATE] == 0
    assert bus.sent[Kind.AWARENESS] == 0


async def test_once_two_nodes_hold_a_room_its_updates_cross_the_bus(
    start_node: StartNode, connect: Connect, room_key: str
) -> None:
    hub, log = MemoryBus(), MemoryUpdateLog()
    first, second = WatchedBus(hub), WatchedBus(hub)
    a = await connect(await start_node(bus=first, update_log=log), room_key)
    b = await connect(await start_node(bus=second, update_log=log), room_key)
    await a.insert("from a ")
    await b.insert("from b")
    await eventually(lambda: len(str(a)) == len(str(b)) == 13, what="two-node convergence")
    assert first.sent[Kind.UPDATE] >= 1
    assert second.sent[Kind.UPDATE] >= 1


async def test_edits_made_before_the_first_node_hears_of_the_second_reach_it(
    start_node: StartNode, connect: Connect, room_key: str
) -> None:
    """The second node's hello is delayed: it has loaded the log, the first node keeps
    editing without publishing (it knows no one). Its FRESH answer to the late hello makes
    the second node re-read the log, so its clients get those edits too."""
    hub, log = MemoryBus(), MemoryUpdateLog()
    first, second = WatchedBus(hub), WatchedBus(hub)
    second.hold = lambda kind, payload: kind is Kind.HELLO
    a = await connect(await start_node(bus=first, update_log=log), room_key)
    await a.insert("before ")
    b = await connect(await start_node(bus=second, update_log=log), room_key)
    await eventually(lambda: str(b) == "before ", what="the second node loads the log")
    for i in range(5):
        await a.insert(f"<{i}>")  # the first node publishes none of these
    await asyncio.sleep(0.2)
    assert str(b) == "before "
    assert first.sent[Kind.UPDATE] == 0

    second.hold = lambda kind, payload: False
    await second.release()  # the hello arrives at last
    await eventually(lambda: str(b) == str(a), what="the late node catches up")
    await a.insert("after")
    await eventually(lambda: str(b).endswith("after"), what="then updates flow on the bus")


async def test_edits_compacted_before_the_late_hello_still_reach_the_other_node(
    start_node: StartNode, connect: Connect, room_key: str
) -> None:
    """As above, but the first node compacts its log (the unpublished edits move into a
    snapshot) before the hello arrives: catching up reads the snapshot too."""
    hub, log = MemoryBus(), MemoryUpdateLog()
    first, second = WatchedBus(hub), WatchedBus(hub)
    second.hold = lambda kind, payload: kind is Kind.HELLO
    a = await connect(await start_node(bus=first, update_log=log), room_key)
    b = await connect(await start_node(bus=second, update_log=log), room_key)
    await eventually(lambda: str(b) == "", what="the second node holds the room")
    for i in range(5):
        await a.insert(f"<{i}>")
    await a.handled()  # the five edits are in the log
    assert await log.compact(RoomId.parse(room_key), merge_updates) is not None
    assert (await log.load(RoomId.parse(room_key))).updates == []  # nothing left in the log
    second.hold = lambda kind, payload: False
    await second.release()
    await eventually(lambda: str(b) == str(a) == "<0><1><2><3><4>", what="caught up")


async def test_a_node_forgotten_after_silence_catches_up_when_heard_again(
    start_node: StartNode, connect: Connect, room_key: str
) -> None:
    hub, log = MemoryBus(), MemoryUpdateLog()
    first, second = WatchedBus(hub), WatchedBus(hub)
    fast = {"presence_keepalive_seconds": 1, "presence_ttl_seconds": 3}
    a = await connect(await start_node(bus=first, update_log=log, **fast), room_key)
    b = await connect(await start_node(bus=second, update_log=log, **fast), room_key)
    await a.insert("shared ")
    await eventually(lambda: str(b) == "shared ", what="both nodes hold the room")

    second.lose = True  # the second node's frames stop reaching anyone...
    await asyncio.sleep(4)  # ...long enough for the first node to forget it
    await a.insert("unseen ")  # not published: the first node thinks it is alone
    await asyncio.sleep(0.2)
    assert str(b) == "shared "

    second.lose = False  # its next keepalive arrives; the first node answers FRESH
    await eventually(lambda: str(b) == str(a), timeout=5, what="the forgotten node catches up")


async def _say_fresh(redis_url: str, room_key: str, times: int = 1) -> None:
    """FRESH hellos from a node no one has heard of, straight onto the room's channel."""
    stranger = new_node_id()
    async with RedisBus(redis_url) as bus:
        for _ in range(times):
            await bus.publish(RoomId.parse(room_key), encode_frame(Kind.HELLO, stranger, FRESH))
        assert await bus.flush(within=5)


async def test_a_slow_catch_up_holds_up_no_update_and_requests_meanwhile_add_one_load(
    slow_log: SlowLoads,
    start_node: StartNode,
    connect: Connect,
    collab_db: ServiceDatabase,
    redis_url: str,
    room_key: str,
) -> None:
    """While a catch-up waits on the log, the bus reader goes on: updates from the other
    node reach the peer at once, and the FRESH hellos heard meanwhile cost one more load
    once it is over, not one each."""
    a, b = await hold_room_on_two_nodes(
        start_node,
        connect,
        room_key,
        slow_log,
        first={"database_url": collab_db.app_dsn, "redis_url": redis_url},
        second={"redis_url": redis_url},
    )

    slow_log.gate.clear()
    await _say_fresh(redis_url, room_key)
    await eventually(lambda: slow_log.started == 3, what="a catch-up waits on the log")
    await a.insert("during ")
    await eventually(lambda: "during" in str(b), timeout=5, what="fan-out during the catch-up")
    await _say_fresh(redis_url, room_key, times=5)
    await a.insert("after ")
    await eventually(lambda: "after" in str(b), timeout=5, what="the reader got past them")
    assert (slow_log.started, slow_log.finished) == (3, 2)

    slow_log.gate.set()
    await eventually(lambda: slow_log.finished == 4, what="the catch-ups end")
    assert slow_log.started == 4
    assert str(b) == str(a)


async def test_unloading_a_room_cancels_its_catch_up(
    slow_log: SlowLoads, start_node: StartNode, connect: Connect, redis_url: str, room_key: str
) -> None:
    node = await start_node(redis_url=redis_url, update_log=slow_log, idle_room_seconds=0)
    peer = await connect(node, room_key)
    await eventually(lambda: slow_log.finished == 1, what="the room is loaded")
    slow_log.gate.clear()
    await _say_fresh(redis_url, room_key)
    await eventually(lambda: slow_log.started == 2, what="a catch-up waits on the log")
    await peer.disconnect()
    await eventually(lambda: slow_log.cancelled == 1, timeout=5, what="the idle room unloads")


async def test_a_failed_catch_up_is_tried_again(
    slow_log: SlowLoads, start_node: StartNode, connect: Connect, redis_url: str, room_key: str
) -> None:
    """A catch-up whose log read fails (the database away for a moment) is tried again, so
    the peers still get what another node committed but the bus never brought."""
    b = await connect(await start_node(redis_url=redis_url, update_log=slow_log), room_key)
    await b.insert("here ")
    elsewhere: Doc = Doc()
    elsewhere.get("code", type=Text).insert(0, "committed elsewhere ")
    await slow_log.append(RoomId.parse(room_key), elsewhere.get_update())
    slow_log.failing = 1
    await _say_fresh(redis_url, room_key)
    await eventually(lambda: "committed elsewhere" in str(b), what="the retried catch-up")
    assert slow_log.failing == 0, "the first catch-up failed"


async def _speak_for(client: YClient, client_id: int, clock: int, state: dict[str, str]) -> None:
    """Send an awareness state for ``client_id`` on ``client``'s connection."""
    await client.send_raw(encode_awareness([AwarenessEntry.of(client_id, clock, state)]))


async def test_no_connection_speaks_for_a_client_held_by_another_node(
    start_node: StartNode, connect: Connect, room_key: str
) -> None:
    """A connection on the second node sends a state for a client of the first: no one, on
    either node, the client itself included, takes it for that client's state."""
    hub, log = MemoryBus(), MemoryUpdateLog()
    first = await start_node(bus=hub.node(), update_log=log)
    second = await start_node(bus=hub.node(), update_log=log)
    victim, witness = await connect(first, room_key), await connect(first, room_key)
    mallory, bystander = await connect(second, room_key), await connect(second, room_key)
    await victim.set_awareness({"user": "victim"})
    everyone = (witness, mallory, bystander)
    cid = victim.doc.client_id
    await eventually(lambda: all(cid in c.awareness for c in everyone), what="presence")

    await _speak_for(mallory, cid, 1_000, {"user": "mallory"})
    await mallory.set_awareness({"user": "mallory's own"})  # arrives after the forgery
    mine = mallory.doc.client_id
    await eventually(
        lambda: all(mine in c.awareness for c in (victim, witness, bystander)),
        what="mallory's own state",
    )
    assert cid not in victim.awareness
    for client in (witness, bystander):
        assert client.awareness[cid] == {"user": "victim"}


async def test_a_removal_from_the_owning_node_frees_the_client_id(
    start_node: StartNode, connect: Connect, room_key: str
) -> None:
    """A client reconnects through the second node while its old connection to the first
    is still open: its state there is taken only once the first node says it has left, and
    then at once (in place of the removal), without the client sending it again."""
    hub, log = MemoryBus(), MemoryUpdateLog()
    first = await start_node(bus=hub.node(), update_log=log)
    second = await start_node(bus=hub.node(), update_log=log)
    old, witness = await connect(first, room_key), await connect(first, room_key)
    new, bystander = await connect(second, room_key), await connect(second, room_key)
    cid = old.doc.client_id
    await _speak_for(old, cid, 1, {"at": "first"})
    await eventually(lambda: bystander.awareness.get(cid) == {"at": "first"}, what="presence")

    await _speak_for(new, cid, 2, {"at": "second"})
    await new.set_awareness({"user": "new"})  # arrives after it
    mine = new.doc.client_id
    await eventually(lambda: mine in witness.awareness and mine in bystander.awareness)
    assert witness.awareness[cid] == bystander.awareness[cid] == {"at": "first"}

    await old.disconnect()  # the first node says it left (clock 2)
    await eventually(
        lambda: witness.awareness.get(cid) == bystander.awareness.get(cid) == {"at": "second"},
        what="the state set through the second node",
    )


async def test_a_node_that_says_gone_takes_its_clients_presence_along(
    start_node: StartNode, connect: Connect, room_key: str
) -> None:
    """The first node says it no longer holds the room while its client's state is known
    (as a room discarded for a reload does): the second node's peers are told it left."""
    hub, log = MemoryBus(), MemoryUpdateLog()
    first = WatchedBus(hub)
    a = await connect(await start_node(bus=first, update_log=log), room_key)
    b = await connect(await start_node(bus=hub.node(), update_log=log), room_key)
    await a.set_awareness({"user": "a"})
    await eventually(lambda: a.doc.client_id in b.awareness, what="presence")

    first.lose = True  # the first node's last word is its GONE:
    await hub.node().publish(RoomId.parse(room_key), encode_frame(Kind.HELLO, first.origin, GONE))
    await eventually(lambda: a.doc.client_id not in b.awareness, what="the removal")


async def test_a_node_forgotten_after_silence_takes_its_clients_presence_along(
    start_node: StartNode, connect: Connect, mint: Mint, room_key: str
) -> None:
    """The first node falls silent: the second forgets it, and with it its client's state,
    which the client may then set again through the second node."""
    hub, log = MemoryBus(), MemoryUpdateLog()
    first = WatchedBus(hub)
    fast = {"presence_keepalive_seconds": 1, "presence_ttl_seconds": 3}
    a = await connect(await start_node(bus=first, update_log=log, **fast), room_key)
    second = await start_node(bus=hub.node(), update_log=log, **fast)
    b = await connect(second, room_key)
    await a.set_awareness({"user": "a"})
    await eventually(lambda: a.doc.client_id in b.awareness, what="presence")

    first.lose = True  # as if the first node crashed
    await eventually(lambda: a.doc.client_id not in b.awareness, timeout=6, what="the removal")
    await a.disconnect()
    await a.connect(f"{second}/{room_key}?ticket={mint(room_key)}")  # the same client id
    await a.set_awareness({"user": "a, again"})
    await eventually(lambda: b.awareness.get(a.doc.client_id) == {"user": "a, again"})


async def test_a_client_id_another_node_stopped_renewing_is_free_again(
    start_node: StartNode,
    connect: Connect,
    mint: Mint,
    room_key: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The bus loses the first node's word that a client left: the client, reconnected
    through the second node, speaks for its id once the state it had is outdated (the state
    it sent too soon is taken then, without waiting for its next renewal)."""
    monkeypatch.setattr(room_module, "AWARENESS_OUTDATED", 1.0)
    hub, log = MemoryBus(), MemoryUpdateLog()
    first = WatchedBus(hub)
    a = await connect(await start_node(bus=first, update_log=log), room_key)
    second = await start_node(bus=hub.node(), update_log=log)
    b = await connect(second, room_key)
    await a.set_awareness({"user": "a"})
    await eventually(lambda: a.doc.client_id in b.awareness, what="presence")

    first.lose = True  # its removal is lost (and the second node hears no more of it, but
    await a.disconnect()  # does not forget it within the presence TTL)
    await a.connect(f"{second}/{room_key}?ticket={mint(room_key)}")
    await a.set_awareness({"user": "a, too soon"})
    await asyncio.sleep(0.3)
    assert b.awareness[a.doc.client_id] == {"user": "a"}
    await eventually(lambda: b.awareness.get(a.doc.client_id) == {"user": "a, too soon"})


async def test_a_client_whose_node_crashed_shows_through_another_without_a_renewal(
    start_node: StartNode, connect: Connect, mint: Mint, room_key: str
) -> None:
    """The first node crashes (no GONE, no removal) and its client reconnects through the
    second at once, with a new state: the second node takes it once the first misses its
    hellos, long before it would forget the first node, and the client need not renew it."""
    hub, log = MemoryBus(), MemoryUpdateLog()
    first = WatchedBus(hub)
    slow_forget = {"presence_keepalive_seconds": 1, "presence_ttl_seconds": 30}
    a = await connect(await start_node(bus=first, update_log=log, **slow_forget), room_key)
    second = await start_node(bus=hub.node(), update_log=log, **slow_forget)
    b = await connect(second, room_key)
    await a.set_awareness({"user": "a"})
    await eventually(lambda: a.doc.client_id in b.awareness, what="presence")

    first.lose = True  # as if the first node crashed
    await a.disconnect()
    await a.connect(f"{second}/{room_key}?ticket={mint(room_key)}")  # the same client id
    await a.set_awareness({"user": "a, back"})
    await eventually(
        lambda: b.awareness.get(a.doc.client_id) == {"user": "a, back"},
        timeout=8,  # (3 keepalives of 1 s, checked once a second)
        what="the reconnected client's state",
    )


async def test_a_late_echo_of_a_departed_clients_state_leaves_no_ghost(
    start_node: StartNode, connect: Connect, room_key: str
) -> None:
    """Clients relay every state they learn: one relayed after its client left (its removal
    sent) is an echo, not a state of the relaying connection's, however many clients leave."""
    base = await start_node()
    echoing, witness = await connect(base, room_key), await connect(base, room_key)
    await echoing.set_awareness({"user": "echoing"})
    for _ in range(5):
        leaving = await connect(base, room_key)
        await _leave_seen_by(leaving, echoing)
        await _speak_for(echoing, leaving.doc.client_id, 2, {"user": "leaving", "cursor": ""})
    await echoing.set_awareness({"user": "echoing", "still": "here"})
    await eventually(
        lambda: witness.awareness.get(echoing.doc.client_id, {}).get("still") == "here"
    )
    assert echoing.connected
    newcomer = await connect(base, room_key)
    await newcomer.set_awareness({"user": "newcomer"})
    await eventually(lambda: newcomer.doc.client_id in witness.awareness, what="presence")
    assert set(newcomer.awareness) == {echoing.doc.client_id}


async def _leave_seen_by(leaving: YClient, seen_by: YClient) -> None:
    """``leaving`` sets a state, clears its cursor (clock 2) and disconnects, as ``seen_by``
    learns (its removal: clock 3)."""
    cid = leaving.doc.client_id
    await leaving.set_awareness({"user": "leaving", "cursor": "1"})
    await leaving.set_awareness({"user": "leaving", "cursor": ""})
    await eventually(lambda: seen_by.awareness.get(cid, {}).get("cursor") == "", what="clock 2")
    await leaving.disconnect()
    await eventually(lambda: cid not in seen_by.awareness, what="its removal")


def _states(first: int, count: int, state: dict[str, str]) -> bytes:
    """One awareness message setting ``state`` for ``count`` client ids from ``first``."""
    return encode_awareness(
        [AwarenessEntry.of(cid, 1, state) for cid in range(first, first + count)]
    )


async def test_a_connection_speaking_for_too_many_client_ids_is_closed_with_1008(
    start_node: StartNode, connect: Connect, mint: Mint, room_key: str
) -> None:
    """A read ticket is enough to send awareness: a connection that claims more client ids
    than one may hold is closed with 1008, and none of what it claimed is taken."""
    base = await start_node()
    witness = await connect(base, room_key)
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(f"{base}/{room_key}?ticket={mint(room_key, role='read')}") as ws,
    ):
        await ws.receive(timeout=5)  # the server's sync step 1
        await ws.send_bytes(_states(1, 4, {"user": "mine"}))  # four ids: allowed
        await eventually(lambda: len(witness.awareness) == 4, what="four states relayed")
        await ws.send_bytes(_states(5, 1_000, {"user": "flood"}))
        while (closing := await ws.receive(timeout=5)).type is aiohttp.WSMsgType.BINARY:
            pass
    assert closing.type is aiohttp.WSMsgType.CLOSE
    assert closing.data == 1008
    assert "client ids" in (closing.extra or "")
    await eventually(lambda: witness.awareness == {}, what="the closed peer's states removed")
    newcomer = await connect(base, room_key)
    await newcomer.set_awareness({"user": "newcomer"})
    await eventually(lambda: newcomer.doc.client_id in witness.awareness, what="presence")
    assert set(witness.awareness) == {newcomer.doc.client_id}


async def test_removals_free_a_connections_client_ids(
    start_node: StartNode, connect: Connect, room_key: str
) -> None:
    """The cap is on the ids a connection holds at once: one it removed is one it may use
    again, or use for another."""
    base = await start_node()
    witness = await connect(base, room_key)
    peer = await connect(base, room_key)
    await peer.send_raw(_states(1, 4, {"user": "first"}))
    await peer.send_raw(encode_awareness([AwarenessEntry.of(cid, 2, None) for cid in (1, 2)]))
    await peer.send_raw(_states(10, 2, {"user": "second"}))
    await eventually(lambda: set(witness.awareness) == {3, 4, 10, 11}, what="four states")
    assert peer.connected


async def test_a_full_room_drops_new_client_ids_and_keeps_the_connection(
    start_node: StartNode, connect: Connect, room_key: str
) -> None:
    """A room holds a bounded number of awareness states: a newcomer's state past it is
    neither kept nor relayed (and counted), the newcomer stays and edits, and its renewal
    is taken once a place frees up."""
    base = await start_node(max_awareness_entries=2)
    a, b, c = [await connect(base, room_key) for _ in range(3)]
    await a.set_awareness({"user": "a"})
    await b.set_awareness({"user": "b"})
    await eventually(lambda: len(c.awareness) == 2, what="two states")
    await c.set_awareness({"user": "c"})
    await c.insert("c edits")
    await eventually(lambda: str(a) == "c edits", what="c still edits")
    assert c.doc.client_id not in a.awareness
    assert c.connected
    assert await node_metric(base, "collab_awareness_dropped_total") == 1
    late = await connect(base, room_key)
    await eventually(lambda: late.synced.is_set(), what="the late peer's sync")
    assert set(late.awareness) == {a.doc.client_id, b.doc.client_id}

    await b.disconnect()
    await eventually(lambda: b.doc.client_id not in a.awareness, what="b's removal")
    await c.set_awareness({"user": "c, renewed"})
    await eventually(lambda: a.awareness.get(c.doc.client_id) == {"user": "c, renewed"})


async def test_states_from_another_node_count_toward_the_room_and_the_excess_is_dropped(
    start_node: StartNode, connect: Connect, room_key: str
) -> None:
    """The second node holds one awareness state per room: its own peer's is taken, the
    first node's peers' are dropped there (not on the first node), and both keep serving."""
    hub, log = MemoryBus(), MemoryUpdateLog()
    first = await start_node(bus=hub.node(), update_log=log)
    second = await start_node(bus=hub.node(), update_log=log, max_awareness_entries=1)
    a, witness = await connect(first, room_key), await connect(first, room_key)
    b, bystander = await connect(second, room_key), await connect(second, room_key)
    await b.set_awareness({"user": "b"})
    await eventually(lambda: b.doc.client_id in witness.awareness, what="b's presence")
    await a.send_raw(_states(1, 3, {"user": "a"}))
    await eventually(lambda: set(witness.awareness) == {b.doc.client_id, 1, 2, 3})
    await a.insert("after ")
    await eventually(lambda: str(bystander) == "after ", what="the second node serves on")
    assert set(bystander.awareness) == {b.doc.client_id}
    assert await node_metric(second, "collab_awareness_dropped_total") == 3
