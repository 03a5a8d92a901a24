"""A peer admitted to a room, its access still being read, counts as present: the room is
not unloaded under it, a discarded room closes it too, and a closed room greets no one."""

from __future__ import annotations

import uuid

import pytest

from rooms import (
    MemoryBus,
    MemoryUpdateLog,
    Room,
    RoomClosed,
    RoomId,
    RoomLimits,
    RoomManager,
    RoomMetrics,
    new_node_id,
)


class Listener:
    """A peer that keeps what it is sent and the code it is closed with."""

    def __init__(self) -> None:
        self.user_id = "u"
        self.can_write = True
        self.access_changes = 0
        self.issued_at = 0.0
        self.sent: list[bytes] = []
        self.closed_with: int | None = None

    def send(self, message: bytes) -> None:
        self.sent.append(message)

    def kick(self, code: int, reason: str) -> None:
        self.closed_with = code


async def _joining() -> tuple[RoomManager, Room, Listener]:
    """A node's manager and a loaded room, with one peer admitted and not yet greeted."""
    manager = RoomManager(
        MemoryUpdateLog(),
        MemoryBus().node(),
        node_id=new_node_id(),
        limits=RoomLimits(),
        metrics=RoomMetrics(),
        idle_seconds=0,
    )
    room = await manager.open(RoomId(uuid.uuid4(), "dojo"))
    peer = Listener()
    room.admit(peer)
    return manager, room, peer


async def test_an_idle_room_is_not_unloaded_under_a_joining_peer() -> None:
    manager, room, peer = await _joining()
    await manager.maintain_once()
    await manager.maintain_once(force_unload=True)
    assert manager.rooms[room.id] is room
    room.greet(peer)
    assert peer.sent


async def test_a_discarded_room_closes_its_joining_peers_and_greets_none() -> None:
    manager, room, peer = await _joining()
    room.broken = True
    await manager.discard_broken(room)
    assert peer.closed_with == 1011
    with pytest.raises(RoomClosed):
        room.greet(peer)
    assert peer.sent == []


async def test_a_closed_room_greets_no_one() -> None:
    _, room, peer = await _joining()
    await room.close()
    with pytest.raises(RoomClosed):
        room.greet(peer)
    assert peer.sent == []
