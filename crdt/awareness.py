"""Awareness updates (y-protocols/awareness): bounded parsing and encoding.

An awareness update is varUint(count), then per entry varUint(clientID), varUint(clock),
varString(JSON state, "null" once the client has left).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pycrdt import write_message, write_var_uint

from ._reader import MAX_SAFE_INTEGER, Reader
from .errors import CloseCode, ProtocolError
from .update import check_json

_MIN_ENTRY = 3  # client, clock, string length


@dataclass(frozen=True, slots=True)
class AwarenessEntry:
    """One client's awareness state; `state_json` is kept verbatim for relaying."""

    client_id: int
    clock: int
    state_json: str
    state: dict[str, Any] | None = field(compare=False, repr=False)

    @classmethod
    def of(cls, client_id: int, clock: int, state: dict[str, Any] | None) -> AwarenessEntry:
        """Build an entry from a Python state (None means the client has left)."""
        text = json.dumps(state, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        return cls(client_id, clock, text, state)

    @property
    def removed(self) -> bool:
        return self.state is None


@dataclass(frozen=True, slots=True)
class AwarenessUpdate:
    """A parsed awareness message: `raw` is the update payload, without the envelope."""

    raw: bytes
    entries: tuple[AwarenessEntry, ...]

    @property
    def client_ids(self) -> tuple[int, ...]:
        return tuple(entry.client_id for entry in self.entries)


def parse_awareness_update(payload: bytes, *, max_entries: int) -> AwarenessUpdate:
    """Parse an awareness update payload; states must be JSON objects or null."""
    reader = Reader(payload, CloseCode.INVALID_PAYLOAD)
    count = reader.read_count(_MIN_ENTRY, "awareness entry")
    if count > max_entries:
        raise ProtocolError(CloseCode.MESSAGE_TOO_BIG, f"{count} awareness entries")
    entries: list[AwarenessEntry] = []
    seen: set[int] = set()
    for _ in range(count):
        client_id = reader.read_var_uint()
        if client_id in seen:
            raise reader.fail(f"client {client_id} repeated in awareness update")
        seen.add(client_id)
        clock = reader.read_var_uint()
        text = reader.read_var_string()
        state = check_json(text)
        if state is not None and not isinstance(state, dict):
            raise reader.fail("awareness state must be a JSON object or null")
        entries.append(AwarenessEntry(client_id, clock, text, state))
    reader.expect_end("awareness update")
    return AwarenessUpdate(payload, tuple(entries))


def encode_awareness_update(entries: Iterable[AwarenessEntry]) -> bytes:
    """Encode entries as an awareness update payload (not yet wrapped in a message)."""
    items = list(entries)
    parts = [write_var_uint(len(items))]
    for entry in items:
        parts.append(write_var_uint(entry.client_id))
        parts.append(write_var_uint(entry.clock))
        # pycrdt's Encoder.write_var_string prefixes the length in code points, not bytes.
        parts.append(write_message(entry.state_json.encode("utf-8")))
    return b"".join(parts)


def restrict_awareness_update(
    update: AwarenessUpdate, client_ids: Collection[int]
) -> AwarenessUpdate | None:
    """Keep only the entries of `client_ids`; None if nothing is left.

    y-websocket clients echo every awareness change they see, other clients' included, so
    a server drops foreign entries instead of closing the connection.
    """
    kept = tuple(entry for entry in update.entries if entry.client_id in client_ids)
    if len(kept) == len(update.entries):
        return update
    if not kept:
        return None
    return AwarenessUpdate(encode_awareness_update(kept), kept)


def removal_entries(last_clocks: Mapping[int, int]) -> list[AwarenessEntry]:
    """Entries that mark clients as gone: state null, clock one past the last one seen."""
    return [
        AwarenessEntry.of(client, min(clock + 1, MAX_SAFE_INTEGER), None)
        for client, clock in last_clocks.items()
    ]
