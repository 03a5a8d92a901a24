"""In-memory adapters: for tests and a single development node (nothing survives a restart)."""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from collections.abc import Callable

from .ids import RoomId
from .ports import BusHandler, Compaction, SnapshotInfo, StoredState
from .snapshots import checked_key


class MemoryUpdateLog:
    def __init__(self) -> None:
        self._seq = 0
        self._log: dict[RoomId, list[tuple[int, float, bytes]]] = defaultdict(list)
        self._snapshots: dict[RoomId, list[tuple[int, float, bytes]]] = defaultdict(list)

    async def append(self, room: RoomId, update: bytes) -> int:
        self._seq += 1
        self._log[room].append((self._seq, time.time(), update))
        return self._seq

    async def load(self, room: RoomId) -> StoredState:
        snapshot = self._snapshots[room][-1] if self._snapshots[room] else None
        rows = self._log[room]
        return StoredState(
            snapshot=snapshot[2] if snapshot else None,
            snapshot_seq=snapshot[0] if snapshot else 0,
            updates=[u for _, _, u in rows],
            last_seq=max([s for s, _, _ in rows], default=snapshot[0] if snapshot else 0),
        )

    async def compact(
        self, room: RoomId, merge: Callable[[list[bytes]], bytes]
    ) -> Compaction | None:
        rows = list(self._log[room])
        if not rows:
            return None
        base = [self._snapshots[room][-1][2]] if self._snapshots[room] else []
        seq = rows[-1][0]
        snapshot = merge(base + [u for _, _, u in rows])
        self._snapshots[room].append((seq, time.time(), snapshot))
        merged = {s for s, _, _ in rows}
        self._log[room] = [r for r in self._log[room] if r[0] not in merged]
        return Compaction(seq, len(snapshot))

    async def forget_history(
        self, room: RoomId, merge: Callable[[list[bytes]], bytes]
    ) -> Compaction | None:
        done = await self.compact(room, merge)
        snapshots = self._snapshots[room]
        if snapshots and done is None:
            seq, at, state = snapshots[-1]
            snapshots[-1] = (seq, at, merge([state]))
            done = Compaction(seq, len(snapshots[-1][2]))
        await self.drop_snapshots(room, keep=1)
        return done

    async def drop_snapshots(self, room: RoomId, *, keep: int, wait: bool = True) -> int:
        snapshots = self._snapshots[room]
        kept = snapshots[-max(keep, 1) :]
        self._snapshots[room] = kept
        return len(snapshots) - len(kept)

    async def snapshots(self, room: RoomId) -> list[SnapshotInfo]:
        return [SnapshotInfo(s, len(d), at) for s, at, d in self._snapshots[room]]

    async def snapshot_at(self, room: RoomId, seq: int) -> bytes | None:
        return next((d for s, _, d in self._snapshots[room] if s == seq), None)

    async def erased(self, tenants: set[uuid.UUID]) -> set[uuid.UUID]:
        return set()  # nothing consumes erasures without a database


class MemorySnapshotStore:
    def __init__(self) -> None:
        self._blobs: dict[str, bytes] = {}

    async def put(self, key: str, data: bytes) -> None:
        self._blobs[checked_key(key)] = data

    async def get(self, key: str) -> bytes | None:
        return self._blobs.get(checked_key(key))

    async def delete(self, key: str) -> None:
        self._blobs.pop(checked_key(key), None)

    async def aclose(self) -> None:
        """Nothing to release (the blobs stay readable, as a test may want them)."""


class MemoryBus:
    """One process-wide hub; each node attaches with its own :meth:`node` view."""

    def __init__(self) -> None:
        self._subscribers: dict[RoomId, dict[int, BusHandler]] = defaultdict(dict)

    def node(self) -> MemoryBusNode:
        return MemoryBusNode(self)


class MemoryBusNode:
    def __init__(self, hub: MemoryBus) -> None:
        self._hub = hub

    async def publish(self, room: RoomId, message: bytes) -> None:
        for node_id, handler in list(self._hub._subscribers[room].items()):
            if node_id != id(self):
                await handler(message)

    async def subscribe(self, room: RoomId, handler: BusHandler) -> None:
        self._hub._subscribers[room][id(self)] = handler

    async def unsubscribe(self, room: RoomId, handler: BusHandler | None = None) -> None:
        subscribers = self._hub._subscribers[room]
        if handler is None or subscribers.get(id(self)) == handler:
            subscribers.pop(id(self), None)


class MemoryAccessLedger:
    def __init__(self) -> None:
        self._changes: dict[tuple[RoomId, str], tuple[str, float]] = {}

    async def record(self, room: RoomId, user: str, state: str, at: float) -> None:
        self._changes[(room, user)] = (state, at)

    async def latest(self, room: RoomId, user: str) -> tuple[str, float] | None:
        return self._changes.get((room, user))

    async def entries(self, room: RoomId) -> dict[str, tuple[str, float]]:
        return {user: change for (r, user), change in self._changes.items() if r == room}
