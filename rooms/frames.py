"""Messages between nodes on the fan-out bus: kind, origin node, send time, payload."""

from __future__ import annotations

import os
import struct
import time
from dataclasses import dataclass
from enum import Enum

_HEADER = struct.Struct(">c8sd")


class Kind(bytes, Enum):
    UPDATE = b"U"  # payload: a y-websocket update message, ready to forward to peers
    AWARENESS = b"A"  # payload: a y-websocket awareness message
    CONTROL = b"C"  # payload: JSON, e.g. {"type": "role", "user": "...", "role": "read"}
    HELLO = b"H"  # payload: PRESENT, FRESH or GONE (see Room: which nodes hold a room)


# HELLO payloads. PRESENT: "I hold this room". FRESH: "I hold it and did not know you: I may
# have kept updates to myself, catch up from the log". GONE: "I no longer hold it".
PRESENT, FRESH, GONE = b"present", b"fresh", b"gone"


@dataclass(frozen=True, slots=True)
class Frame:
    kind: Kind
    origin: bytes
    sent_at: float
    payload: bytes


def new_node_id() -> bytes:
    return os.urandom(8)


def encode_frame(kind: Kind, origin: bytes, payload: bytes) -> bytes:
    return _HEADER.pack(kind.value, origin, time.time()) + payload


def decode_frame(data: bytes) -> Frame:
    """Decode a bus frame; raise ValueError when it is not one of ours."""
    if len(data) < _HEADER.size:
        raise ValueError("short bus frame")
    kind, origin, sent_at = _HEADER.unpack_from(data)
    return Frame(Kind(kind), origin, sent_at, data[_HEADER.size :])
