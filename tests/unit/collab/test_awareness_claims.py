"""Who may speak for an awareness client id held through another node, as time passes: an
echo of a state is never a claim on it, and a state its node stopped renewing is dropped
rather than left for a newcomer's echo to take."""

from __future__ import annotations

import time
import uuid

import pytest

from crdt import AwarenessEntry, encode_awareness, parse_message
from crdt.messages import Message
from rooms import MemoryBus, MemoryUpdateLog, Room, RoomId, RoomLimits, RoomManager, RoomMetrics
from rooms import room as room_module
from rooms.frames import PRESENT, Kind, encode_frame, new_node_id

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


async def _room() -> Room:
    manager = RoomManager(
        MemoryUpdateLog(),
        MemoryBus().node(),
        node_id=new_node_id(),
        limits=RoomLimits(),
        metrics=RoomMetrics(),
    )
    return await manager.open(RoomId(uuid.uuid4(), "dojo"))


def _joined(room: Room) -> Listener:
    peer = Listener()
    room.admit(peer)
    room.greet(peer)
    return peer


def _state(cid: int, clock: int, state: dict[str, object] | None) -> bytes:
    return encode_awareness([AwarenessEntry.of(cid, clock, state)])


def _entries(sent: list[bytes]) -> list[tuple[int, int, object]]:
    """(client id, clock, state) of every awareness entry in ``sent``."""
    out: list[tuple[int, int, object]] = []
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
    room = await _room()
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
    room = await _room()
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
