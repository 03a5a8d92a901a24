"""Rooms: one shared Yjs document each, with its peers, awareness and ports (no HTTP)."""

from .frames import Kind, decode_frame, encode_frame, new_node_id
from .ids import RoomId
from .manager import RoomManager
from .memory import MemoryBus, MemorySnapshotStore, MemoryUpdateLog
from .metrics import RoomMetrics
from .peer import Peer
from .ports import FanoutBus, SnapshotInfo, SnapshotStore, StoredState, UpdateLog
from .postgres import PostgresUpdateLog
from .redis_bus import RedisBus, channel
from .room import DocumentTooLarge, Room, RoomLimits
from .snapshots import LocalSnapshotStore, S3SnapshotStore

__all__ = [
    "DocumentTooLarge",
    "FanoutBus",
    "Kind",
    "LocalSnapshotStore",
    "MemoryBus",
    "MemorySnapshotStore",
    "MemoryUpdateLog",
    "Peer",
    "PostgresUpdateLog",
    "RedisBus",
    "Room",
    "RoomId",
    "RoomLimits",
    "RoomManager",
    "RoomMetrics",
    "S3SnapshotStore",
    "SnapshotInfo",
    "SnapshotStore",
    "StoredState",
    "UpdateLog",
    "channel",
    "decode_frame",
    "encode_frame",
    "new_node_id",
]
