"""Access changes another node publishes may arrive out of order (right after a Redis Cluster
failover a room's messages can reach a node by two paths): the last change made stands, as a
frame older than the last change applied for its user is dropped."""

from __future__ import annotations

import json
import time
import uuid

from rooms import (
    MemoryAccessLedger,
    MemoryBus,
    MemoryUpdateLog,
    Room,
    RoomId,
    RoomLimits,
    RoomManager,
    RoomMetrics,
)
from rooms.frames import Kind, decode_frame, encode_frame, new_node_id

from .test_room_lifecycle import Listener


async def _room_with(
    ledger: MemoryAccessLedger, hub: MemoryBus | None = None
) -> tuple[Room, Listener]:
    """A loaded room on a node that shares ``ledger``, and Ana connected to it."""
    manager = RoomManager(
        MemoryUpdateLog(),
        (hub or MemoryBus()).node(),
        node_id=new_node_id(),
        limits=RoomLimits(),
        metrics=RoomMetrics(),
        access=ledger,
    )
    room = await manager.open(RoomId(uuid.uuid4(), "dojo"))
    ana = Listener()
    ana.user_id = "ana"
    room.admit(ana)
    room.greet(ana)
    return room, ana


def _change(role: str, at: float | None) -> bytes:
    """Another node's frame for a change of Ana's role made at ``at`` (None: a frame from
    a node of an earlier version, which gives no time)."""
    command: dict[str, object] = {"type": "role", "user": "ana", "role": role}
    if at is not None:
        command["at"] = at
    return encode_frame(Kind.CONTROL, new_node_id(), json.dumps(command).encode())


async def test_an_older_change_arriving_last_does_not_undo_the_newer_one() -> None:
    room, ana = await _room_with(MemoryAccessLedger())
    await room.on_bus_message(_change("write", 101.0))
    assert ana.can_write
    await room.on_bus_message(_change("read", 100.0))  # overtaken on the way
    assert ana.can_write
    assert ana.access_changes == 1


async def test_changes_in_order_apply_one_after_the_other() -> None:
    room, ana = await _room_with(MemoryAccessLedger())
    await room.on_bus_message(_change("read", 100.0))
    assert not ana.can_write
    await room.on_bus_message(_change("write", 101.0))
    assert ana.can_write
    await room.on_bus_message(_change("read", 101.0))  # the same instant: the later frame
    assert not ana.can_write


async def test_a_remote_change_older_than_a_local_one_is_dropped() -> None:
    room, ana = await _room_with(MemoryAccessLedger())
    await room.control({"type": "role", "user": "ana", "role": "write"})
    await room.on_bus_message(_change("read", time.time() - 1))
    assert ana.can_write


async def test_a_frame_without_a_time_applies_as_it_comes() -> None:
    room, ana = await _room_with(MemoryAccessLedger())
    await room.on_bus_message(_change("write", 101.0))
    await room.on_bus_message(_change("read", None))
    assert not ana.can_write


async def test_a_revoke_closes_the_connection() -> None:
    room, ana = await _room_with(MemoryAccessLedger())
    await room.on_bus_message(_change("revoked", 100.0))
    assert ana.closed_with == 4403


async def test_a_local_change_goes_out_with_its_time() -> None:
    ledger, hub = MemoryAccessLedger(), MemoryBus()
    room, ana = await _room_with(ledger, hub)
    published: list[bytes] = []

    async def watch(data: bytes) -> None:  # another node's
        published.append(data)

    await hub.node().subscribe(room.id, watch)
    await room.control({"type": "role", "user": "ana", "role": "read"})
    assert not ana.can_write
    (frame,) = [f for f in map(decode_frame, published) if f.kind is Kind.CONTROL]
    command = json.loads(frame.payload)
    recorded = await ledger.latest(room.id, "ana")
    assert recorded is not None
    assert (command["role"], command["at"]) == ("read", recorded[1])
