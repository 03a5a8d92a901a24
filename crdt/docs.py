"""Thin helpers over pycrdt documents that validate untrusted bytes first."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from pycrdt import Doc, create_sync_message, get_state, get_update
from pycrdt import merge_updates as _merge_updates

from .errors import ProtocolError
from .messages import encode_sync_step2
from .scrub import scrub_deleted
from .update import (
    Extent,
    decode_state_vector,
    update_extent,
    validate_state_vector,
    validate_update,
    yrs_call,
)

# A character outside the Basic Multilingual Plane, as UTF-8; some numbers match too.
_MAYBE_ASTRAL = re.compile(rb"[\xf0-\xf4][\x80-\xbf]{3}")
EMPTY_UPDATE = b"\x00\x00"  # no structs, empty delete set
EMPTY_STATE_VECTOR = b"\x00"


def apply_update_to_doc(
    doc: Doc[Any], update: bytes, *, max_bytes: int | None, origin: object = None
) -> None:
    """Apply a v1 update to `doc` in a transaction tagged with `origin`.

    `max_bytes=None` skips validation: only for updates that already went through
    `parse_message` or `validate_update` (e.g. read back from our own update log).
    Some invalid updates can only be detected against the document (say, an item whose
    parent is a string: refused as nested by the validator, but possible in stored bytes
    from before that rule). Yrs then raises mid-way, keeping the structs it already integrated,
    so after a ProtocolError here `doc` may hold part of the update: reload it from storage,
    and never persist or broadcast an update before it applied cleanly.
    """
    if max_bytes is not None:
        validate_update(update, max_bytes=max_bytes)
    if update == EMPTY_UPDATE:
        return
    with doc.transaction(origin=origin):
        yrs_call(doc.apply_update, update)


def state_vector(doc: Doc[Any]) -> bytes:
    """The document's encoded state vector."""
    return doc.get_state()


def encode_state_as_update(
    doc: Doc[Any], state_vector: bytes | None = None, *, max_bytes: int | None = None
) -> bytes:
    """Everything in `doc` that a peer with `state_vector` lacks (all of it if None).

    Give `max_bytes` when the state vector came off the wire and was not yet validated.
    """
    if state_vector is None:
        return doc.get_update()
    if max_bytes is not None:
        validate_state_vector(state_vector, max_bytes=max_bytes)
    result: bytes = yrs_call(doc.get_update, state_vector)
    return result


def merge_updates(updates: Iterable[bytes]) -> bytes:
    """Merge stored updates into one (for compaction); no input gives the empty update."""
    items = list(updates)
    if not items:
        return EMPTY_UPDATE
    if len(items) == 1:
        return items[0]
    result: bytes = yrs_call(_merge_updates, *items)
    return result


def compact_updates(updates: Sequence[bytes]) -> bytes:
    """Stored updates (a snapshot, then the log after it, in order) as one update holding the
    document they make: what compaction stores.

    The document's own encoding, not a merge of the updates: merging keeps every deleted
    character and every keystroke as a struct of its own, so a room typed key by key grows
    several times larger than its text and is that much slower to load (100k keystrokes:
    1.7 MB and ~500 ms of Yrs on the event loop, against 210 KB and 4 ms). Yrs leaves the
    pending parts of a document (structs or deletions waiting for items the document lacks)
    out of its encoding, so when the document holds less than the updates name, the updates
    are merged instead, pending parts and all, as before. So are rows that today's
    validator refuses (stored before one of its rules): they are read before Yrs sees them.

    So is text holding a character outside the BMP (an emoji: two UTF-16 units, which Yjs
    counts and may split). Yrs keeps text as UTF-8 and cannot hold half of such a pair: a
    piece split inside one is encoded shorter than the clocks it spans, and every later
    struct of its client would be stored under the wrong id.

    A merge keeps what the updates deleted, content and all (a deleted chat entry, an
    overwritten name), which the document's encoding drops; so the merge is scrubbed of it
    (:func:`crdt.scrub.scrub_deleted`), as the document would have done."""
    if not updates:
        return EMPTY_UPDATE
    try:
        encoded = _document_encoding(updates)
    except ProtocolError:
        encoded = None
    if encoded is not None:
        return encoded
    merged = merge_updates(updates)
    try:
        scrubbed = scrub_deleted(merged)
    except ProtocolError:  # a row stored before one of today's rules: kept as it is
        return merged
    return scrubbed


def _document_encoding(updates: Sequence[bytes]) -> bytes | None:
    """The encoding of the document ``updates`` make, or None where it would lose a part."""
    extents = [_whole_extent(updates[0])] + [update_extent(u) for u in updates[1:]]
    if any(extent.astral for extent in extents):
        return None
    doc: Doc[Any] = Doc()
    for update in updates:
        yrs_call(doc.apply_update, update)
    state: bytes = yrs_call(doc.get_state)
    held = decode_state_vector(state, max_bytes=len(state))
    if any(end > held.get(client, 0) for extent in extents for client, end in extent.ends.items()):
        return None  # pending: waiting for items the updates lack
    encoded: bytes = yrs_call(doc.get_update)
    return encoded


def _whole_extent(update: bytes) -> Extent:
    """:func:`update_extent`, quicker for a whole document (a snapshot, ~10x) that holds no
    character outside the BMP, as no snapshot made from the document's encoding does: when
    all its structs lie below its own state vector, that vector is where they end, and the
    diff against it is the delete set alone, so Python walks only that. Otherwise (an update
    starting mid-way, as most rows do, or bytes that may hold such a character: some numbers
    look like one) the whole update is walked."""
    if _MAYBE_ASTRAL.search(update):
        return update_extent(update)
    state = yrs_call(get_state, update)
    deletions = yrs_call(get_update, update, state)
    if deletions[:1] != b"\x00":  # some client's structs lie past the update's state vector
        return update_extent(update)
    ends = decode_state_vector(state, max_bytes=len(state))
    for client, end in update_extent(deletions).ends.items():
        ends[client] = max(end, ends.get(client, 0))
    return Extent(ends, astral=False)


def sync_step1_for_doc(doc: Doc[Any]) -> bytes:
    """SyncStep1 message announcing `doc`'s state vector."""
    return create_sync_message(doc)


def sync_step2_for_doc(
    doc: Doc[Any], state_vector: bytes, *, max_bytes: int | None = None
) -> bytes:
    """SyncStep2 message answering a peer's SyncStep1 with what it is missing."""
    return encode_sync_step2(encode_state_as_update(doc, state_vector, max_bytes=max_bytes))
