"""The awareness states a room holds are counted per owner as ids change hands: a client id
taken from a node that stopped renewing it counts for its new owner only, and every owner
leaving leaves the room holding nothing."""

from __future__ import annotations

import uuid

import pytest

from crdt import AwarenessEntry, encode_awareness, parse_message
from rooms import (
    AwarenessLimit,
    MemoryBus,
    MemoryUpdateLog,
    Room,
    RoomId,
    RoomLimits,
    RoomManager,
    RoomMetrics,
    encode_frame,
    new_node_id,
)
from rooms import room as room_module
from rooms.frames import GONE, Kind

from .test_room_lifecycle import Listener


def _states(client_ids: range, clock: int, state: dict[str, str] | None) -> bytes:
    return encode_awareness([AwarenessEntry.of(cid, clock, state) for cid in client_ids])


def _relayed_ids(peer: Listener) -> list[int]:
    """The client ids of the awareness states ``peer`` was sent (removals excluded)."""
    ids: list[int] = []
    for data in peer.sent:
        message = parse_message(data, max_update_bytes=1 << 20)
        entries = getattr(message, "entries", ())
        ids.extend(entry.client_id for entry in entries if entry.state is not None)
    return ids


async def _room(**limits: int) -> Room:
    manager = RoomManager(
        MemoryUpdateLog(),
        MemoryBus().node(),
        node_id=new_node_id(),
        limits=RoomLimits(**limits),
        metrics=RoomMetrics(),
    )
    return await manager.open(RoomId(uuid.uuid4(), "dojo"))


def _joined(room: Room) -> Listener:
    peer = Listener()
    room.admit(peer)
    room.greet(peer)
    peer.sent.clear()
    return peer


async def test_ids_taken_from_a_silent_node_count_for_their_new_owner_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(room_module, "AWARENESS_OUTDATED", -1.0)  # every state outdated
    room = await _room(awareness_ids_per_peer=4)
    elsewhere = new_node_id()
    await room.on_bus_message(encode_frame(Kind.AWARENESS, elsewhere, _states(range(4), 1, {})))
    peer, witness = _joined(room), _joined(room)
    await room.receive(peer, _states(range(4), 2, {"taken": "over"}))  # outdated: taken
    assert sorted(_relayed_ids(witness)) == [0, 1, 2, 3]
    with pytest.raises(AwarenessLimit):
        await room.receive(peer, _states(range(4, 5), 1, {}))  # a fifth is one too many

    witness.sent.clear()
    await room.on_bus_message(encode_frame(Kind.HELLO, elsewhere, GONE))
    assert witness.sent == []  # none of the ids is the other node's any more
    await room.leave(peer)
    assert len(witness.sent) == 1  # their removal
    fresh = _joined(room)
    await room.receive(fresh, _states(range(4), 5, {"free": "again"}))
    assert sorted(_relayed_ids(witness)) == [0, 1, 2, 3]


async def test_a_full_room_takes_new_ids_again_once_their_owner_leaves() -> None:
    room = await _room(max_awareness_entries=3)
    first, second, witness = _joined(room), _joined(room), _joined(room)
    await room.receive(first, _states(range(3), 1, {}))
    await room.receive(second, _states(range(10, 12), 1, {}))
    assert sorted(_relayed_ids(witness)) == [0, 1, 2]
    await room.receive(first, _states(range(3), 2, {"renewed": "yes"}))  # held: taken
    assert sorted(_relayed_ids(witness)) == [0, 0, 1, 1, 2, 2]

    await room.leave(first)
    witness.sent.clear()
    await room.receive(second, _states(range(10, 12), 2, {}))
    assert sorted(_relayed_ids(witness)) == [10, 11]
