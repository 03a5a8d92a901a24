"""Who may speak for an awareness client id another owner holds, as time passes: an echo of a
state is never a claim on it; a state its node stopped renewing is dropped rather than left
for a newcomer's echo to take; a node that misses its hellos lets go of its clients' ids; and
a client that reconnected shows as soon as the id it claimed is let go, not at its next
renewal."""

from __future__ import annotations

import time
import uuid

import pytest

from crdt import AwarenessEntry, encode_awareness, parse_message
from crdt.messages import Message
from rooms import MemoryBus, MemoryUpdateLog, Room, RoomId, RoomLimits, RoomManager, RoomMetrics
from rooms import room as room_module
from rooms.frames import GONE, PRESENT, Kind, decode_frame, encode_frame, new_node_id

from .test_room_lifecycle import Listener

X = 4242  # the client id of a client of another node


class Clock:
    """Stands in for the room module's ``time``: monotonic time moves only when told to."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return time.time()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(room_module, "time", fake)
    return fake


Entries = list[tuple[int, int, object]]


async def _room(**limits: int) -> tuple[Room, Entries]:
    """A loaded room, and the awareness entries it publishes on the bus from now on."""
    hub = MemoryBus()
    manager = RoomManager(
        MemoryUpdateLog(),
        hub.node(),
        node_id=new_node_id(),
        limits=RoomLimits(**limits),
        metrics=RoomMetrics(),
    )
    room = await manager.open(RoomId(uuid.uuid4(), "dojo"))
    published: Entries = []

    async def watch(data: bytes) -> None:
        frame = decode_frame(data)
        if frame.kind is Kind.AWARENESS:
            published.extend(_entries([frame.payload]))

    await hub.node().subscribe(room.id, watch)
    return room, published


def _joined(room: Room) -> Listener:
    peer = Listener()
    room.admit(peer)
    room.greet(peer)
    return peer


def _state(cid: int, clock: int, state: dict[str, object] | None) -> bytes:
    return encode_awareness([AwarenessEntry.of(cid, clock, state)])


def _entries(sent: list[bytes]) -> Entries:
    """(client id, clock, state) of every awareness entry in ``sent``."""
    out: Entries = []
    for data in sent:
        message: Message = parse_message(data, max_update_bytes=1 << 20)
        for entry in getattr(message, "entries", ()):
            out.append((entry.client_id, entry.clock, entry.state))
    return out


async def _from(room: Room, node: bytes, payload: bytes) -> None:
    await room.on_bus_message(encode_frame(Kind.AWARENESS, node, payload))


async def _hello(room: Room, node: bytes) -> None:
    await room.on_bus_message(encode_frame(Kind.HELLO, node, PRESENT))


async def test_an_echo_of_an_outdated_state_is_no_claim_on_it(clock: Clock) -> None:
    """The other node lives on (its hellos arrive) but its client's renewals are lost: a
    newcomer is sent the outdated state and echoes it, clock and all. The client's next
    renewal through its own node is still taken."""
    room, _ = await _room()
    witness = _joined(room)
    node = new_node_id()
    await _hello(room, node)
    await _from(room, node, _state(X, 5, {"user": "x"}))
    for _ in range(3):
        clock.now += 10.5
        await _hello(room, node)

    newcomer = _joined(room)  # (no maintenance pass in between: the state is still held)
    assert (X, 5, {"user": "x"}) in _entries(newcomer.sent)
    await room.receive(newcomer, _state(X, 5, {"user": "x"}))
    witness.sent.clear()
    await _from(room, node, _state(X, 7, {"user": "x", "cursor": 9}))
    assert _entries(witness.sent) == [(X, 7, {"user": "x", "cursor": 9})]


async def test_a_state_its_node_stopped_renewing_is_dropped_and_its_removal_sent(
    clock: Clock,
) -> None:
    room, _ = await _room()
    witness = _joined(room)
    node = new_node_id()
    await _hello(room, node)
    await _from(room, node, _state(X, 5, {"user": "x"}))
    clock.now += room_module.AWARENESS_OUTDATED - 1
    await _hello(room, node)
    await room.keep_alive()
    assert _entries(witness.sent) == [(X, 5, {"user": "x"})]  # not outdated yet

    clock.now += 2
    await _hello(room, node)
    witness.sent.clear()
    await room.keep_alive()
    assert _entries(witness.sent) == [(X, 6, None)]  # its removal
    newcomer = _joined(room)
    await room.receive(newcomer, b"\x03")  # a QueryAwareness: the room's states
    assert all(cid != X for cid, _, _ in _entries(newcomer.sent))

    witness.sent.clear()  # the next renewal through its node is taken as a new state
    await _from(room, node, _state(X, 7, {"user": "x"}))
    assert _entries(witness.sent) == [(X, 7, {"user": "x"})]


async def _held_by_node(**limits: int) -> tuple[Room, Entries, Listener, bytes, bytes]:
    """A room, what it publishes, a local witness, and two other nodes holding the room: the
    first speaks for client X (clock 5), the second stays (so the room publishes)."""
    room, published = await _room(**limits)
    witness = _joined(room)
    node, other = new_node_id(), new_node_id()
    await _hello(room, node)
    await _hello(room, other)
    await _from(room, node, _state(X, 5, {"user": "x"}))
    witness.sent.clear()
    return room, published, witness, node, other


async def test_a_client_whose_node_crashed_shows_once_that_node_misses_its_hellos(
    clock: Clock,
) -> None:
    """Its node is gone without a word; the client reconnects here at once with a newer
    state. It waits while the node might be alive, and is taken (sent and published) by the
    maintenance pass once the node missed its hellos, before any renewal of the client's
    (and, with keepalives of 5 s, long before the state lapses)."""
    room, published, witness, _, other = await _held_by_node(keepalive=5)
    clock.now += 2
    reconnected = _joined(room)
    await room.receive(reconnected, _state(X, 6, {"user": "x", "back": True}))
    clock.now += 12
    await _hello(room, other)
    await room.keep_alive()
    assert _entries(witness.sent) == []  # 14 s of silence: the node may be alive
    assert published == []

    clock.now += 1.5  # 3 keepalives since the node was last heard of
    await room.keep_alive()
    assert _entries(witness.sent) == [(X, 6, {"user": "x", "back": True})]
    assert published == [(X, 6, {"user": "x", "back": True})]
    witness.sent.clear()
    await room.receive(reconnected, _state(X, 7, {"user": "x"}))  # its own from now on
    assert _entries(witness.sent) == [(X, 7, {"user": "x"})]


async def test_a_claim_on_the_client_id_of_a_node_that_missed_its_hellos_wins_at_once(
    clock: Clock,
) -> None:
    room, published, witness, _, other = await _held_by_node(keepalive=5)
    clock.now += 16
    await _hello(room, other)
    reconnected = _joined(room)
    await room.receive(reconnected, _state(X, 5, {"user": "x"}))  # the same clock: an echo
    assert _entries(witness.sent) == []
    await room.receive(reconnected, _state(X, 6, {"user": "x"}))
    assert _entries(witness.sent) == [(X, 6, {"user": "x"})]
    assert published == [(X, 6, {"user": "x"})]


async def test_a_node_speaking_for_a_client_of_a_node_that_missed_its_hellos_is_heard(
    clock: Clock,
) -> None:
    """The client reconnected through a third node, which took its state: so does this one."""
    room, _, witness, _, other = await _held_by_node(keepalive=5)
    clock.now += 16
    await _from(room, other, _state(X, 6, {"user": "x", "via": "other"}))
    assert _entries(witness.sent) == [(X, 6, {"user": "x", "via": "other"})]


async def test_the_client_ids_of_a_live_node_stay_its_own(clock: Clock) -> None:
    """A node that keeps saying hello and renewing its client's state keeps it, whatever
    clock a connection here claims it with, and however long that connection waits."""
    room, published, witness, node, other = await _held_by_node()
    mallory = _joined(room)
    await room.receive(mallory, _state(X, 1_000, {"user": "mallory"}))
    for renewal in range(6, 12):
        clock.now += 9
        await _hello(room, node)
        await _hello(room, other)
        await _from(room, node, _state(X, renewal, {"user": "x"}))
        await room.receive(mallory, _state(X, 1_000 + renewal, {"user": "mallory"}))
        await room.keep_alive()
    states = [state for cid, _, state in _entries(witness.sent) + published if cid == X]
    assert states == [{"user": "x"}] * 6


async def test_a_live_node_that_missed_two_hellos_keeps_its_clients_ids(clock: Clock) -> None:
    """Hellos go out from the maintenance pass, which a slow compaction can hold up: a node
    not heard from for two keepalives is not presumed gone, and a connection here that claims
    its client's id with a far higher clock does not take it meanwhile."""
    room, published, witness, node, other = await _held_by_node()
    mallory = _joined(room)
    await room.receive(mallory, _state(X, 1 << 40, {"user": "mallory"}))
    clock.now += 10
    await _hello(room, node)
    await _from(room, node, _state(X, 6, {"user": "x"}))
    clock.now += 20  # its pass stalls
    await _hello(room, other)
    await room.keep_alive()
    await room.receive(mallory, _state(X, (1 << 40) + 1, {"user": "mallory"}))
    await _hello(room, node)
    await _from(room, node, _state(X, 7, {"user": "x"}))
    states = [state for cid, _, state in _entries(witness.sent) + published if cid == X]
    assert states == [{"user": "x"}] * 2


async def test_a_waiting_claim_replaces_the_removal_from_the_owning_node(clock: Clock) -> None:
    """The client's old connection closes on its node (clock 6, one past the last) after it
    reconnected here with a newer state: the local peers get that state, never the removal
    (y-protocols clients would take no state with a clock not past it). The client itself
    is told of the removal, as the other nodes' clients were: a y-protocols client answers
    with its state and a clock past it."""
    room, published, witness, node, _ = await _held_by_node()
    reconnected = _joined(room)
    await room.receive(reconnected, _state(X, 6, {"user": "x", "here": True}))
    assert _entries(witness.sent) == []
    reconnected.sent.clear()
    await _from(room, node, _state(X, 6, None))
    assert _entries(witness.sent) == [(X, 6, {"user": "x", "here": True})]
    assert published == [(X, 6, {"user": "x", "here": True})]
    assert _entries(reconnected.sent) == [(X, 6, None), (X, 6, {"user": "x", "here": True})]
    await room.receive(reconnected, _state(X, 7, {"user": "x", "here": True}))
    assert _entries(witness.sent)[-1] == (X, 7, {"user": "x", "here": True})
    assert published[-1] == (X, 7, {"user": "x", "here": True})


async def test_a_waiting_claim_is_taken_when_the_owning_node_says_gone(clock: Clock) -> None:
    room, published, witness, node, _ = await _held_by_node()
    reconnected = _joined(room)
    await room.receive(reconnected, _state(X, 6, {"user": "x"}))
    await room.on_bus_message(encode_frame(Kind.HELLO, node, GONE))
    assert _entries(witness.sent) == [(X, 6, {"user": "x"})]
    assert published == [(X, 6, {"user": "x"})]


async def test_a_later_claim_displaces_a_waiting_one_only_with_a_higher_clock(
    clock: Clock,
) -> None:
    room, published, witness, node, _ = await _held_by_node()
    reconnected, mallory = _joined(room), _joined(room)
    await room.receive(reconnected, _state(X, 7, {"user": "x"}))
    await room.receive(mallory, _state(X, 6, {"user": "mallory"}))
    await room.receive(mallory, _state(X, 7, {"user": "mallory"}))  # a tie keeps the first
    await room.on_bus_message(encode_frame(Kind.HELLO, node, GONE))
    assert _entries(witness.sent) == [(X, 7, {"user": "x"})]
    assert published == [(X, 7, {"user": "x"})]


async def test_a_waiting_claim_is_taken_when_the_state_it_waits_on_lapses(clock: Clock) -> None:
    """The owning node lives on, but its client's renewals (and removal) were lost."""
    room, published, witness, node, other = await _held_by_node()
    reconnected = _joined(room)
    await room.receive(reconnected, _state(X, 6, {"user": "x"}))
    for _ in range(3):
        clock.now += 10.5
        await _hello(room, node)
        await _hello(room, other)
        await room.keep_alive()
    assert _entries(witness.sent) == [(X, 6, {"user": "x"})]
    assert published == [(X, 6, {"user": "x"})]


async def test_a_client_reconnected_here_takes_over_from_its_old_connection_when_it_closes(
    clock: Clock,
) -> None:
    room, published, witness, _, _ = await _held_by_node()
    old, new = _joined(room), _joined(room)
    await room.receive(old, _state(7, 1, {"user": "y"}))
    await room.receive(new, _state(7, 2, {"user": "y", "moved": True}))
    witness.sent.clear()
    published.clear()
    await room.leave(old)
    assert _entries(witness.sent) == [(7, 2, {"user": "y", "moved": True})]
    assert published == [(7, 2, {"user": "y", "moved": True})]


async def test_waiting_claims_are_bounded_by_the_ids_a_peer_may_hold_and_leave_with_it(
    clock: Clock,
) -> None:
    """A peer holding one id of two may wait for one more: of three ids it claims, the first
    is taken when the node says GONE, the others removed. A peer that left waits for none."""
    room, _, witness, node, _ = await _held_by_node(awareness_ids_per_peer=2)
    await _from(room, node, _states(range(10, 13), 1, {"user": "n"}))
    await _from(room, node, _states(range(20, 22), 1, {"user": "n"}))
    greedy, gone = _joined(room), _joined(room)
    await room.receive(greedy, _state(1, 1, {"user": "greedy"}))
    await room.receive(greedy, _states(range(10, 13), 2, {"user": "greedy"}))
    await room.receive(gone, _states(range(20, 22), 2, {"user": "gone"}))
    await room.leave(gone)
    witness.sent.clear()
    await room.on_bus_message(encode_frame(Kind.HELLO, node, GONE))
    assert sorted(_entries(witness.sent), key=lambda e: e[0]) == [
        (10, 2, {"user": "greedy"}),
        (11, 2, None),
        (12, 2, None),
        (20, 2, None),
        (21, 2, None),
        (X, 6, None),
    ]


def _states(client_ids: range, clock: int, state: dict[str, object]) -> bytes:
    return encode_awareness([AwarenessEntry.of(cid, clock, state) for cid in client_ids])
