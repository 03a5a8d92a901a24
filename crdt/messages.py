"""The y-websocket envelope: strict parsing of incoming messages and encoders for outgoing ones.

message = varUint(kind) + payload, where kind 0 is sync (varUint(step) + varUint8Array),
1 awareness (varUint8Array), 2 auth (varUint(0) + varString(reason)), 3 query awareness.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import TypeAlias

from pycrdt import (
    YMessageType,
    YSyncMessageType,
    create_awareness_message,
    create_update_message,
    write_message,
    write_var_uint,
)

from ._reader import Reader
from .awareness import (
    AwarenessEntry,
    AwarenessUpdate,
    encode_awareness_update,
    parse_awareness_update,
    removal_entries,
)
from .errors import CloseCode, ProtocolError
from .update import validate_state_vector, validate_update

DEFAULT_MAX_AWARENESS_BYTES = 64 * 1024
DEFAULT_MAX_AWARENESS_ENTRIES = 1000
_ENVELOPE_BYTES = 16  # kind, step and a length prefix, generously


class MessageKind(IntEnum):
    """Top-level y-websocket message types (pycrdt only names the first two)."""

    SYNC = YMessageType.SYNC
    AWARENESS = YMessageType.AWARENESS
    AUTH = 2
    QUERY_AWARENESS = 3


AUTH_PERMISSION_DENIED = 0  # the only auth message y-protocols defines


@dataclass(frozen=True, slots=True)
class SyncStep1:
    """A peer's state vector; answer with `encode_sync_step2` of what it is missing."""

    state_vector: bytes


@dataclass(frozen=True, slots=True)
class SyncStep2:
    """The updates a peer was missing (a reply to our SyncStep1)."""

    update: bytes


@dataclass(frozen=True, slots=True)
class SyncUpdate:
    """An incremental document update."""

    update: bytes


@dataclass(frozen=True, slots=True)
class QueryAwareness:
    """A request for every awareness state the receiver knows."""


@dataclass(frozen=True, slots=True)
class Auth:
    """An auth message; y-protocols only defines kind 0, permission denied."""

    kind: int
    reason: str


Message: TypeAlias = SyncStep1 | SyncStep2 | SyncUpdate | AwarenessUpdate | QueryAwareness | Auth

_SYNC_STEPS: dict[int, type[SyncStep1] | type[SyncStep2] | type[SyncUpdate]] = {
    YSyncMessageType.SYNC_STEP1: SyncStep1,
    YSyncMessageType.SYNC_STEP2: SyncStep2,
    YSyncMessageType.SYNC_UPDATE: SyncUpdate,
}


def parse_message(
    data: bytes,
    *,
    max_update_bytes: int,
    max_awareness_bytes: int = DEFAULT_MAX_AWARENESS_BYTES,
    max_awareness_entries: int = DEFAULT_MAX_AWARENESS_ENTRIES,
) -> Message:
    """Parse and fully validate one incoming message, or raise ProtocolError.

    Updates and state vectors are structurally checked and decoded by Yrs; awareness
    states are parsed as JSON. Nothing is allocated from an unchecked length.
    """
    if len(data) > max(max_update_bytes, max_awareness_bytes) + _ENVELOPE_BYTES:
        raise ProtocolError(CloseCode.MESSAGE_TOO_BIG, f"message of {len(data)} bytes")
    reader = Reader(data, CloseCode.PROTOCOL_ERROR)
    kind = reader.read_var_uint()
    if kind == MessageKind.SYNC:
        step = reader.read_var_uint()
        sync_message = _SYNC_STEPS.get(step)
        if sync_message is None:
            raise reader.fail(f"unknown sync step {step}", CloseCode.UNSUPPORTED_DATA)
        payload = _read_payload(reader, max_update_bytes)
        if sync_message is SyncStep1:
            validate_state_vector(payload, max_bytes=max_update_bytes)
        else:
            validate_update(payload, max_bytes=max_update_bytes)
        return sync_message(payload)
    if kind == MessageKind.AWARENESS:
        return _parse_awareness(reader, max_awareness_bytes, max_awareness_entries)
    if kind == MessageKind.AUTH:
        auth_kind = reader.read_var_uint()
        if auth_kind != AUTH_PERMISSION_DENIED:
            raise reader.fail(f"unknown auth message {auth_kind}", CloseCode.UNSUPPORTED_DATA)
        reason = reader.read_var_string()
        reader.expect_end("auth message")
        return Auth(auth_kind, reason)
    if kind == MessageKind.QUERY_AWARENESS:
        reader.expect_end("query awareness message")
        return QueryAwareness()
    raise reader.fail(f"unknown message type {kind}", CloseCode.UNSUPPORTED_DATA)


def _read_payload(reader: Reader, limit: int) -> bytes:
    length = reader.read_var_uint()
    if length > reader.remaining:
        raise reader.fail(f"payload length {length} exceeds the message")
    if length > limit:
        raise reader.fail(f"payload of {length} bytes", CloseCode.MESSAGE_TOO_BIG)
    payload = reader.read_bytes(length)
    reader.expect_end("payload")
    return payload


def _parse_awareness(reader: Reader, max_bytes: int, max_entries: int) -> AwarenessUpdate:
    payload = _read_payload(reader, max_bytes)
    return parse_awareness_update(payload, max_entries=max_entries)


def awareness_client_ids(
    message: bytes | AwarenessUpdate,
    *,
    max_entries: int = DEFAULT_MAX_AWARENESS_ENTRIES,
) -> tuple[int, ...]:
    """Client ids carried by an awareness message (wire bytes or already parsed)."""
    if isinstance(message, AwarenessUpdate):
        return message.client_ids
    reader = Reader(message, CloseCode.PROTOCOL_ERROR)
    if reader.read_var_uint() != MessageKind.AWARENESS:
        raise reader.fail("not an awareness message", CloseCode.UNSUPPORTED_DATA)
    return _parse_awareness(reader, len(message), max_entries).client_ids


def _sync_message(step: YSyncMessageType, payload: bytes) -> bytes:
    return write_var_uint(YMessageType.SYNC) + write_var_uint(step) + write_message(payload)


def encode_sync_step1(state_vector: bytes) -> bytes:
    """SyncStep1 message carrying `state_vector` (see also `sync_step1_for_doc`)."""
    return _sync_message(YSyncMessageType.SYNC_STEP1, state_vector)


def encode_sync_step2(update: bytes) -> bytes:
    """SyncStep2 message carrying `update` (see also `sync_step2_for_doc`)."""
    return _sync_message(YSyncMessageType.SYNC_STEP2, update)


def encode_update(update: bytes) -> bytes:
    """Sync Update message, for broadcasting an accepted update."""
    return create_update_message(update)


def encode_awareness(update: bytes | AwarenessUpdate | Iterable[AwarenessEntry]) -> bytes:
    """Awareness message from a payload, a parsed update or entries."""
    if isinstance(update, AwarenessUpdate):
        payload = update.raw
    elif isinstance(update, bytes):
        payload = update
    else:
        payload = encode_awareness_update(update)
    return create_awareness_message(payload)


def encode_awareness_removal(last_clocks: Mapping[int, int]) -> bytes:
    """Awareness message telling peers that these clients (id -> last clock) have left."""
    return encode_awareness(removal_entries(last_clocks))


def encode_query_awareness() -> bytes:
    """Query-awareness message: the receiver answers with all the states it knows."""
    return write_var_uint(MessageKind.QUERY_AWARENESS)


def encode_permission_denied(reason: str) -> bytes:
    """Auth message telling a client it may not access the document."""
    return (
        write_var_uint(MessageKind.AUTH)
        + write_var_uint(AUTH_PERMISSION_DENIED)
        + write_message(reason.encode("utf-8"))
    )
