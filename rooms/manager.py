"""The rooms of one node: load on first join, unload when idle, compact in the background."""

from __future__ import annotations

import asyncio
import time

import structlog

from crdt import compact_updates
from platform_api.kernel.tasks import stop

from .frames import FRESH, GONE, Kind, encode_frame
from .ids import RoomId
from .memory import MemoryAccessLedger
from .metrics import RoomMetrics
from .peer import Peer
from .ports import (
    ORGANIZATION_GONE,
    ORGANIZATION_GONE_REASON,
    AccessLedger,
    Compaction,
    FanoutBus,
    TenantErased,
    UpdateLog,
)
from .room import Room, RoomLimits

_log = structlog.get_logger("rooms")
ERASED_CHECK_SECONDS = 1.0


class Joined:
    """The block of :meth:`RoomManager.joined`. A plain object rather than a generator-based
    context manager: it lasts as long as the connection, and a suspended async generator
    (its frame, the wrapper around it, the loop's weak reference to it) costs about 400
    bytes more per connection."""

    __slots__ = ("_manager", "_peer", "_room", "_room_id")
    _room: Room  # set on entering

    def __init__(self, manager: RoomManager, room_id: RoomId, peer: Peer) -> None:
        self._manager = manager
        self._room_id = room_id
        self._peer = peer

    async def __aenter__(self) -> Room:
        room = await self._manager.open(self._room_id)
        room.admit(self._peer)
        self._room = room
        del self._room_id  # the room is all it needs from here on, for as long as the peer stays
        return room

    async def __aexit__(self, *exc_info: object) -> None:
        await self._room.leave(self._peer)


class RoomManager:
    def __init__(
        self,
        log: UpdateLog,
        bus: FanoutBus,
        *,
        node_id: bytes,
        limits: RoomLimits,
        metrics: RoomMetrics,
        idle_seconds: float = 30.0,
        compact_after: int = 500,
        snapshots_kept: int = 3,
        access: AccessLedger | None = None,
    ) -> None:
        self.rooms: dict[RoomId, Room] = {}
        self.access: AccessLedger = access or MemoryAccessLedger()
        self._log = log
        self._bus = bus
        self._node = node_id
        self.limits = limits
        self._metrics = metrics
        self._idle = idle_seconds
        self._compact_after = compact_after
        self._snapshots_kept = snapshots_kept
        # One per room loaded or being loaded: a room unloaded, discarded or whose load
        # failed leaves none behind (whoever waited on it starts over with the current one).
        self._locks: dict[RoomId, asyncio.Lock] = {}

    async def open(self, room_id: RoomId) -> Room:
        """The loaded room, loading it once even when many peers join at the same moment."""
        while True:
            room = self.rooms.get(room_id)
            if room is not None:
                return room
            lock = self._locks.setdefault(room_id, asyncio.Lock())
            async with lock:
                if self._locks.get(room_id) is not lock:
                    continue  # let go of while we waited (a failed load): take the current one
                room = self.rooms.get(room_id)
                if room is None:
                    room = await self._load(room_id, lock)
            return room

    async def _load(self, room_id: RoomId, lock: asyncio.Lock) -> Room:
        """Load a room (the caller holds its lock); if that fails, forget the lock too."""
        room = Room(
            room_id,
            log=self._log,
            bus=self._bus,
            access=self.access,
            node_id=self._node,
            limits=self.limits,
            metrics=self._metrics,
        )
        try:
            await room.load()
        except BaseException:
            try:
                await room.close()
            finally:
                if self._locks.get(room_id) is lock:
                    del self._locks[room_id]
            raise
        self.rooms[room_id] = room
        self._metrics.rooms.set(len(self.rooms))
        return room

    def joined(self, room_id: RoomId, peer: Peer) -> Joined:
        """Admit ``peer`` to the room for the duration of the block (``Room.greet`` makes it
        a member once its access is known)."""
        return Joined(self, room_id, peer)

    async def maintain_forever(self, interval: float = 1.0) -> None:
        """Keep the rooms alive (hellos, nudges) on a beat of their own, and unload idle
        rooms and compact busy ones in passes between: compactions one after the other can
        take many seconds, and must neither make the other nodes forget this one nor let
        the peers' clients take a quiet connection for a dead one (y-websocket's give up
        after 30 s). One room's failure never stops either."""
        beat = asyncio.create_task(self._keep_alive_forever(interval), name="room-keepalive")
        try:
            while True:
                await asyncio.sleep(interval)
                try:
                    await self._tidy()
                except Exception as exc:  # a pass cut short: the next one comes all the same
                    _log.error("room_maintenance_pass_failed", error=repr(exc))
        finally:
            await stop(beat)

    async def _keep_alive_forever(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            await self.keep_alive()

    async def maintain_once(self, *, force_unload: bool = False) -> None:
        """One beat and one pass: hellos and nudges first, then compactions and unloads."""
        await self.keep_alive()
        await self._tidy(force_unload=force_unload)

    async def keep_alive(self) -> None:
        for room in list(self.rooms.values()):
            try:
                await room.keep_alive()
            except Exception as exc:
                _log.error("room_keepalive_failed", room=room.id.key, error=repr(exc))

    async def _tidy(self, *, force_unload: bool = False) -> None:
        await self._drop_erased()
        now = time.monotonic()
        for room_id, room in list(self.rooms.items()):
            try:
                idle = not room.occupied and now - room.last_activity > self._idle
                if room.updates_since_compaction >= self._compact_after or (
                    (idle or force_unload) and room.updates_since_compaction
                ):
                    await self.compact(room)
                if idle or (force_unload and not room.occupied):
                    await self._unload(room_id, room)
            except TenantErased:  # its organization is gone: so is the room, here too
                await self._drop_gone(room)
            except Exception as exc:
                _log.error("room_maintenance_failed", room=room_id.key, error=repr(exc))

    async def _drop_erased(self) -> None:
        """Drop the rooms of organizations erased meanwhile (another node consumed the
        erasure): no peer may keep reading, or join, what is gone from the log. The question
        gets a second at most: a database that stalls must not hold up the pass."""
        try:
            async with asyncio.timeout(ERASED_CHECK_SECONDS):
                gone = await self._log.erased({room_id.tenant for room_id in self.rooms})
        except Exception as exc:  # the database away or slow: next pass
            _log.error("erased_check_failed", error=repr(exc))
            return
        for room in [r for r in self.rooms.values() if r.id.tenant in gone]:
            await self._drop_gone(room)

    async def _drop_gone(self, room: Room) -> None:
        """Discard a room of an erased organization; Redis failing as it unsubscribes must
        not end the maintenance pass (the room is out of ``rooms`` by then)."""
        try:
            await self.discard(room, ORGANIZATION_GONE, ORGANIZATION_GONE_REASON)
        except Exception as exc:
            _log.error("erased_room_discard_failed", room=room.id.key, error=repr(exc))

    def _compacted(self, room: Room | None, size: int, done: Compaction) -> None:
        """Count a compaction that made ``done`` of a room whose size was ``size`` before
        (``room``: None, or no longer the loaded one, if only the log was compacted)."""
        self._metrics.compactions.inc()
        if room is None or self.rooms.get(room.id) is not room:
            return
        room.updates_since_compaction = 0
        # The size counted every update's bytes: the document is the snapshot now, plus
        # what came during the compaction (counted twice if merged too: on the safe side).
        room.size = done.size + max(0, room.size - size)

    async def compact(self, room: Room) -> None:
        size = room.size
        done = await self._log.compact(room.id, compact_updates)
        if done is not None:
            self._compacted(room, size, done)
            # A room loads from its latest snapshot: the ones before are only kept a while
            # (another node compacting it meanwhile trims them in its turn). Housekeeping:
            # failing, it holds up neither the room's unloading nor the pass.
            try:
                await self._log.drop_snapshots(room.id, keep=self._snapshots_kept, wait=False)
            except TenantErased:
                raise
            except Exception as exc:
                _log.error("snapshot_trim_failed", room=room.id.key, error=repr(exc))

    async def forget_history(self, room_id: RoomId) -> Compaction | None:
        """Compact a room now, here or not, and keep only the snapshot it leaves (see
        ``UpdateLog.forget_history``)."""
        room = self.rooms.get(room_id)
        size = room.size if room is not None else 0
        done = await self._log.forget_history(room_id, compact_updates)
        if done is not None:
            self._compacted(room, size, done)
        return done

    async def _unload(self, room_id: RoomId, room: Room) -> None:
        """Unload a room no one is in or joining. Peers join between the caller's awaits
        (a compaction's, the lock's): whether the room is still empty is read here, with no
        await before it leaves ``rooms``, so none is admitted to a room being closed."""
        async with self._locks.setdefault(room_id, asyncio.Lock()):
            if room.occupied or self.rooms.get(room_id) is not room:
                return
            del self.rooms[room_id]
            self._locks.pop(room_id, None)
            self._metrics.rooms.set(len(self.rooms))
        await room.close()

    async def discard_broken(self, room: Room) -> None:
        """Drop a room whose memory may differ from its log; its peers, those still joining
        too, reconnect and reload."""
        await self.discard(room, 1011, "room reloading: reconnect to resync")

    async def discard(self, room: Room, code: int, reason: str) -> None:
        """Drop a room at once, closing its peers' connections with ``code``."""
        if self.rooms.get(room.id) is room:
            del self.rooms[room.id]
            self._locks.pop(room.id, None)
            self._metrics.rooms.set(len(self.rooms))
        room.kick_all(code, reason)
        await room.close()

    async def catch_up(self, rooms: set[RoomId] | None = None) -> None:
        """After a gap on the bus: start catching up these rooms (None: every room) that are
        loaded here (this runs on the bus reader, which must go back to reading), and say
        hello again (the others may have forgotten this node meanwhile)."""
        loaded = list(self.rooms.values())
        for room in loaded if rooms is None else [r for r in loaded if r.id in rooms]:
            room.request_catch_up()
            try:
                await room.hello()
            except Exception as exc:
                _log.error("room_hello_failed", room=room.id.key, error=repr(exc))

    async def ask_others_to_catch_up(self, rooms: set[RoomId]) -> None:
        """The bus dropped messages of these rooms: the other nodes holding them missed them,
        so say FRESH (they catch up from the log). For a room unloaded here meanwhile, say
        GONE right after, so that they do not count this node as holding it (unless it is
        being loaded again: it has said it holds the room)."""
        for room_id in rooms:
            room = self.rooms.get(room_id)
            if room is not None:
                await room.hello(FRESH)
                continue
            await self._bus.publish(room_id, encode_frame(Kind.HELLO, self._node, FRESH))
            loading = self._locks.get(room_id)
            if loading is None or not loading.locked():
                await self._bus.publish(room_id, encode_frame(Kind.HELLO, self._node, GONE))
