"""Rooms: one shared Yjs document each, with its peers, awareness and ports (no HTTP)."""

from .frames import Kind, decode_frame, encode_frame, new_node_id
from .ids import RoomId
from .manager import RoomManager
from .memory import MemoryAccessLedger, MemoryBus, MemorySnapshotStore, MemoryUpdateLog
from .metrics import RoomMetrics
from .peer import Peer
from .ports import (
    CLOCK_SKEW_SECONDS,
    AccessLedger,
    Compaction,
    FanoutBus,
    SnapshotInfo,
    SnapshotMissing,
    SnapshotStore,
    StoredState,
    TenantErased,
    UpdateLog,
    change_since,
)
from .postgres import PostgresUpdateLog
from .redis_bus import RedisAccessLedger, RedisBus, ShardedRedisBus, channel
from .room import AwarenessLimit, DocumentTooLarge, Room, RoomClosed, RoomLimits
from .snapshots import LocalSnapshotStore, S3SnapshotStore

__all__ = [
    "CLOCK_SKEW_SECONDS",
    "AccessLedger",
    "AwarenessLimit",
    "Compaction",
    "DocumentTooLarge",
    "FanoutBus",
    "Kind",
    "LocalSnapshotStore",
    "MemoryAccessLedger",
    "MemoryBus",
    "MemorySnapshotStore",
    "MemoryUpdateLog",
    "Peer",
    "PostgresUpdateLog",
    "RedisAccessLedger",
    "RedisBus",
    "Room",
    "RoomClosed",
    "RoomId",
    "RoomLimits",
    "RoomManager",
    "RoomMetrics",
    "S3SnapshotStore",
    "ShardedRedisBus",
    "SnapshotInfo",
    "SnapshotMissing",
    "SnapshotStore",
    "StoredState",
    "TenantErased",
    "UpdateLog",
    "change_since",
    "channel",
    "decode_frame",
    "encode_frame",
    "new_node_id",
]
