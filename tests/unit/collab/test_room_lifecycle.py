"""A peer admitted to a room, its access still being read, counts as present: the room is
not unloaded under it, a discarded room closes it too, and a closed room greets no one. A
room that failed to load or was discarded leaves nothing behind in its manager."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any

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
    StoredState,
    new_node_id,
)


class Listener:
    """A peer that keeps what it is sent and the code it is closed with."""

    def __init__(self) -> None:
        self.user_id = "u"
        self.can_write = True
        self.access_changes = 0
        self.issued_at = 0.0
        self.refused_edits = False
        self.sent: list[bytes] = []
        self.closed_with: int | None = None
        self.nudges = 0

    def send(self, message: bytes) -> None:
        self.sent.append(message)

    def kick(self, code: int, reason: str) -> None:
        self.closed_with = code

    def nudge(self) -> None:
        self.nudges += 1


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


class FailingLoads(MemoryUpdateLog):
    """The in-memory update log, whose next ``failing`` loads fail after a moment."""

    failing = 0

    async def load(self, room: RoomId) -> StoredState:
        await asyncio.sleep(0.01)  # long enough for other joins to wait on the load
        if self.failing:
            self.failing -= 1
            raise ConnectionError("the database is away for a moment")
        return await super().load(room)


def _manager(log: MemoryUpdateLog) -> RoomManager:
    return RoomManager(
        log, MemoryBus().node(), node_id=new_node_id(), limits=RoomLimits(), metrics=RoomMetrics()
    )


async def test_rooms_whose_load_failed_leave_nothing_behind() -> None:
    log = FailingLoads()
    manager = _manager(log)
    for _ in range(50):
        log.failing = 1
        with pytest.raises(ConnectionError):
            await manager.open(RoomId(uuid.uuid4(), "dojo"))
    assert manager.rooms == {}
    assert manager._locks == {}


async def test_joins_waiting_on_a_failed_load_load_the_room_once() -> None:
    log = FailingLoads()
    log.failing = 1
    manager = _manager(log)
    room_id = RoomId(uuid.uuid4(), "dojo")
    first, *others = await asyncio.gather(
        *(manager.open(room_id) for _ in range(5)), return_exceptions=True
    )
    assert isinstance(first, ConnectionError)
    assert all(room is manager.rooms[room_id] for room in others)
    assert list(manager._locks) == [room_id]


async def test_a_discarded_room_leaves_nothing_behind() -> None:
    manager, room, _ = await _joining()
    room.broken = True
    await manager.discard_broken(room)
    assert manager.rooms == {}
    assert manager._locks == {}


async def test_the_room_nudges_its_peers_every_quiet_peer_seconds() -> None:
    """Joining peers are not nudged (they are greeted first); members are, once per
    ``quiet_peer`` seconds however often maintenance runs."""
    manager = RoomManager(
        MemoryUpdateLog(),
        MemoryBus().node(),
        node_id=new_node_id(),
        limits=RoomLimits(quiet_peer=0.2),
        metrics=RoomMetrics(),
    )
    room = await manager.open(RoomId(uuid.uuid4(), "dojo"))
    member, joining = Listener(), Listener()
    room.admit(member)
    room.greet(member)
    room.admit(joining)
    await manager.maintain_once()
    assert member.nudges == 0  # not before quiet_peer seconds
    await asyncio.sleep(0.25)
    for _ in range(3):
        await manager.maintain_once()
    assert (member.nudges, joining.nudges) == (1, 0)
    await room.close()


class _SlowCompactions(MemoryUpdateLog):
    """An update log whose compactions wait until released."""

    def __init__(self) -> None:
        super().__init__()
        self.compacting = asyncio.Event()
        self.release = asyncio.Event()

    async def compact(self, room: RoomId, merge: Any) -> Any:
        self.compacting.set()
        await self.release.wait()
        return await super().compact(room, merge)


async def test_a_slow_compaction_holds_up_no_nudge() -> None:
    """Compactions run one after the other and may take long; hellos and nudges keep their
    own beat meanwhile, or quiet clients would take their connections for dead."""
    log = _SlowCompactions()
    manager = RoomManager(
        log,
        MemoryBus().node(),
        node_id=new_node_id(),
        limits=RoomLimits(quiet_peer=0.1),
        metrics=RoomMetrics(),
        compact_after=1,
    )
    busy = await manager.open(RoomId(uuid.uuid4(), "busy"))
    busy.updates_since_compaction = 1  # due for a compaction
    quiet = await manager.open(RoomId(uuid.uuid4(), "quiet"))
    member = Listener()
    quiet.admit(member)
    quiet.greet(member)
    maintenance = asyncio.create_task(manager.maintain_forever(interval=0.02))
    try:
        await asyncio.wait_for(log.compacting.wait(), 2)
        await asyncio.sleep(0.5)  # five quiet_peer periods, the compaction still under way
        assert member.nudges >= 3
    finally:
        log.release.set()
        maintenance.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await maintenance
    await busy.close()
    await quiet.close()


async def test_a_closed_room_says_nothing_more() -> None:
    _, room, peer = await _joining()
    room.greet(peer)
    await room.close()
    sent = len(peer.sent)
    room._nudged_at = room._hello_at = 0.0  # long overdue
    await room.keep_alive()
    assert peer.nudges == 0
    assert len(peer.sent) == sent
