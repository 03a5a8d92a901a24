"""The ports a room needs. Each has an in-memory adapter (tests, single node) and real ones."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from .ids import RoomId


@dataclass(frozen=True)
class StoredState:
    """What a room loads from: the latest snapshot (if any) and every update not merged into it."""

    snapshot: bytes | None
    snapshot_seq: int
    updates: list[bytes]
    last_seq: int


@dataclass(frozen=True)
class Compaction:
    """A snapshot compaction made: the last update it merged, and its size in bytes."""

    seq: int
    size: int


@dataclass(frozen=True)
class SnapshotInfo:
    seq: int
    size: int
    created_at: float


class UpdateLog(Protocol):
    """Append-only, durable log of a room's updates."""

    async def append(self, room: RoomId, update: bytes) -> int:
        """Durably record ``update``; return its sequence number once committed."""
        ...

    async def load(self, room: RoomId) -> StoredState: ...

    async def compact(
        self, room: RoomId, merge: Callable[[list[bytes]], bytes]
    ) -> Compaction | None:
        """Merge the snapshot and log into a new snapshot and trim the log (None: nothing to
        merge, or another node is compacting the room)."""
        ...

    async def forget_history(
        self, room: RoomId, merge: Callable[[list[bytes]], bytes]
    ) -> Compaction | None:
        """Compact the room now, waiting for a compaction under way, and delete every
        snapshot but the one that leaves: nothing the document deleted stays in the log.
        With nothing to merge, the latest snapshot is merged alone. Returns the snapshot
        kept (None: the room has none)."""
        ...

    async def drop_snapshots(self, room: RoomId, *, keep: int, wait: bool = True) -> int:
        """Delete the room's snapshots but the ``keep`` latest (at least one); return how
        many went. Without ``wait``, nothing if another node is compacting the room."""
        ...

    async def snapshots(self, room: RoomId) -> list[SnapshotInfo]: ...

    async def snapshot_at(self, room: RoomId, seq: int) -> bytes | None: ...

    async def erased(self, tenants: set[uuid.UUID]) -> set[uuid.UUID]:
        """Which of ``tenants`` were erased (LGPD): their rooms must go from memory too."""
        ...


class SnapshotMissing(Exception):
    """A snapshot the update log records is not in the snapshot store (its blob was deleted,
    or written to another bucket): the room's stored state is damaged, and reading it again
    will not help. Not a storage outage: someone has to restore the blob."""


class TenantErased(Exception):
    """The room's organization was erased (LGPD): its rooms are gone for good, and nothing
    may load or write them again."""


# How a peer of an erased organization's room is closed (collab_server.codes).
ORGANIZATION_GONE = 4410
ORGANIZATION_GONE_REASON = "this organization was deleted"


class SnapshotStore(Protocol):
    """Blob storage for large snapshots (local folder, S3).

    Keys are safe relative paths (``dojos/{tenant}/{room}/snapshots/{seq}.ydoc``); any other key
    raises ``ValueError``. ``put`` replaces atomically; ``get`` of a missing key is ``None``.
    Whoever builds a store closes it (``aclose``) once nothing uses it any more.
    """

    async def put(self, key: str, data: bytes) -> None: ...

    async def get(self, key: str) -> bytes | None: ...

    async def delete(self, key: str) -> None:
        """Remove the object; a missing key is no error (erasure runs again after a failure)."""
        ...

    async def aclose(self) -> None:
        """Release what the store holds (an S3 client); it is not used afterwards."""
        ...


BusHandler = Callable[[bytes], Awaitable[None]]


class FanoutBus(Protocol):
    """Delivers a room's messages to every other node that holds the room."""

    async def publish(self, room: RoomId, message: bytes) -> None: ...

    async def subscribe(self, room: RoomId, handler: BusHandler) -> None: ...

    async def unsubscribe(self, room: RoomId, handler: BusHandler | None = None) -> None:
        """Stop delivering the room's messages; with ``handler``, only if it is still the
        registered one (a reloaded room may have subscribed again meanwhile)."""
        ...


CLOCK_SKEW_SECONDS = 5.0
"""How far the ticket issuer's clock may run ahead of a node's. A ticket's ``iat`` is read on
the issuer's clock (whole seconds), an access change's time on the node's, so a ticket
minted just before a change can carry a later time than the change: an access change
therefore wins over a ticket issued up to this margin after it. It is also the leeway
tickets are verified with (``collab_server.tickets``): an issuer further ahead has its
fresh tickets refused as issued in the future, so a working deployment is within it. This
is the default: a deployment sets both at once (``ticket_clock_skew_seconds``)."""


class AccessLedger(Protocol):
    """The last access change per user and room (a role, or "revoked"), with its time.

    A ticket issued before that change no longer grants what it says: without this, a
    removed participant could reconnect with an old ticket until it expires.
    """

    async def record(self, room: RoomId, user: str, state: str, at: float) -> None: ...

    async def latest(self, room: RoomId, user: str) -> tuple[str, float] | None: ...

    async def entries(self, room: RoomId) -> dict[str, tuple[str, float]]:
        """Every user's latest change in the room, in one read."""
        ...


def change_since(change: tuple[str, float] | None, issued_at: float, *, skew: float) -> str | None:
    """What an access change makes of a ticket issued at ``issued_at``: the state it sets
    ("read", "write" or "revoked"), or None when the ticket is newer and its role stands.

    A ticket is newer only when issued more than ``skew`` seconds (the clocks' margin,
    :data:`CLOCK_SKEW_SECONDS`) after the change: a ticket minted that soon after a change
    gets the change's state, which is what the issuer meant when it sent the change (it
    sends one for every change of a participant's access). With ``iat`` in whole seconds, a
    ticket from the change's own second counts as older even without a margin."""
    if change is None or issued_at > change[1] + skew:
        return None
    return change[0]
