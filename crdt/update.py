"""Structural validation of Yjs v1 updates and state vectors before Yrs sees them.

Why a pure-Python pre-check: Yrs sizes hash maps from counts it reads off the wire (an update
or state vector starting with `ff ff ff 7a` makes it touch ~500 MiB), it recurses without a
limit into nested `Any` values (~30k levels overflow the main thread's stack: SIGSEGV), and it
stores clocks as u32, silently truncating or wrapping larger ones. So every count here must
fit the bytes that are left, nesting is capped, and clocks stay below 2**32. Only then is
the update decoded by Yrs, whose allocations are now bounded by the input size.

Nested shared types (a Y.Map, Y.Array, Y.Text or Xml* type living inside another type) are
refused outright: Yrs also recurses once per level when it deletes a chain of them, so a
writer could build ~40k levels (in one update, or spread over many accepted ones) and then
crash every node that loads the room with a few bytes of delete set. No depth limit can be
checked here without the document: an item placed after a sibling names only its origin,
not its parent. Our rooms hold root-level types only (the editor's Y.Text, the service's
Y.Map and Y.Array of plain values), so every ContentType struct is refused, and so is every
item whose parent is an item (that is, a nested type): UNSUPPORTED_DATA.
"""

from __future__ import annotations

import bisect
import json
import math
import re
from collections.abc import Callable
from typing import Any, NamedTuple, NoReturn

from pycrdt import get_state, write_var_uint

from ._reader import Reader, count_at, skip_at, var_int_at, var_string_at, var_uint_at
from .errors import CloseCode, ProtocolError

MAX_CLOCK = 2**32 - 1  # Yrs keeps clocks (and struct lengths) in a u32
MAX_NESTING_DEPTH = 64  # lib0 `Any` values; Yrs' decoder recurses once per level

# Smallest encodings, used to reject a count before looping over it.
_MIN_CLIENT_BLOCK = 3  # numStructs, client, clock
_MIN_STRUCT = 2  # info byte + a varint
_MIN_PAIR = 2  # (client, clock) or (clock, len)

_GC, _DELETED, _JSON, _BINARY, _STRING, _EMBED, _FORMAT, _TYPE, _ANY, _DOC, _SKIP = range(11)
_ORIGIN, _RIGHT_ORIGIN, _PARENT_SUB = 0x80, 0x40, 0x20
_NESTED_TYPES = "nested shared types are not supported"
_INVALID = CloseCode.INVALID_PAYLOAD  # every structural error, unless it says otherwise


def validate_update(update: bytes, *, max_bytes: int) -> None:
    """Check that `update` is a well-formed Yjs v1 update no larger than `max_bytes`.

    Raises ProtocolError; never allocates more than a small multiple of `len(update)`.
    """
    if len(update) > max_bytes:
        raise ProtocolError(CloseCode.MESSAGE_TOO_BIG, f"update of {len(update)} bytes")
    _walk_update(update)
    yrs_call(get_state, update)  # the structure is sound; now Yrs must agree


def validate_state_vector(state_vector: bytes, *, max_bytes: int) -> None:
    """Check that `state_vector` is a well-formed Yjs state vector (count, client/clock pairs)."""
    decode_state_vector(state_vector, max_bytes=max_bytes)


def decode_state_vector(state_vector: bytes, *, max_bytes: int) -> dict[int, int]:
    """Decode a state vector into {client id: next expected clock}, validating it."""
    if len(state_vector) > max_bytes:
        raise ProtocolError(CloseCode.MESSAGE_TOO_BIG, f"state vector of {len(state_vector)} bytes")
    reader = Reader(state_vector, _INVALID)
    clocks: dict[int, int] = {}
    for _ in range(reader.read_count(_MIN_PAIR, "state vector")):
        client = reader.read_var_uint()
        if client in clocks:
            raise reader.fail(f"client {client} repeated in state vector")
        clocks[client] = _check_clock(reader.read_var_uint())
    reader.expect_end("state vector")
    return clocks


class ItemRange(NamedTuple):
    """Consecutive items of one client: clocks ``clock`` to ``clock + length - 1``."""

    client: int
    clock: int
    length: int


def inserted_items(update: bytes) -> list[ItemRange] | None:
    """The items an update holds (its structs, skips aside) in the update's order, if it
    only inserts; None if its delete set deletes anything.

    Reads structurally, as :func:`validate_update` does (raises ProtocolError)."""
    held: list[ItemRange] = []
    _, deleted, _ = _walk_update(update, held)
    return None if any(deleted.values()) else held


def encode_deletion(items: list[ItemRange]) -> bytes:
    """An update holding no items and a delete set of ``items``: applied, it deletes those
    of them the document has (and keeps the rest pending, as any delete set)."""
    by_client = _merged(items)
    out = bytearray(write_var_uint(0))  # no structs
    out += write_var_uint(len(by_client))
    for client, ranges in sorted(by_client.items()):
        out += write_var_uint(client) + write_var_uint(len(ranges))
        for start, end in ranges:
            out += write_var_uint(start) + write_var_uint(end - start)
    return bytes(out)


def _merged(items: list[ItemRange]) -> dict[int, list[tuple[int, int]]]:
    """Each client's ranges ``(start, end)`` of ``items``, sorted, those that overlap or
    touch merged, empty ones left out."""
    by_client: dict[int, list[tuple[int, int]]] = {}
    for client, clock, length in sorted(items):
        if not length:
            continue
        ranges = by_client.setdefault(client, [])
        if ranges and clock <= ranges[-1][1]:
            ranges[-1] = (ranges[-1][0], max(ranges[-1][1], clock + length))
        else:
            ranges.append((clock, clock + length))
    return by_client


def deletion_of_lacking(items: list[ItemRange], state_vector: bytes) -> bytes | None:
    """The deletion of those of ``items`` that a document with ``state_vector`` lacks (None
    if it lacks none): what a server sends the author of inserts it refused, so that the
    author's document shows the server's text again."""
    known = decode_state_vector(state_vector, max_bytes=len(state_vector))
    lacking: list[ItemRange] = []
    for client, clock, length in items:
        start = max(clock, known.get(client, 0))
        if start < clock + length:
            lacking.append(ItemRange(client, start, clock + length - start))
    return encode_deletion(lacking) if lacking else None


def deleted_ranges(update: bytes) -> dict[int, list[tuple[int, int]]]:
    """What an update's delete set deletes: for each client, its ranges ``(start, end)``
    sorted and merged. Of a document's own encoding (with its state vector: no structs),
    everything the document has deleted."""
    deletes: list[ItemRange] = []
    _walk_update(update, deletes=deletes)
    return _merged(deletes)


def adds_to(
    update: bytes,
    state_vector: bytes,
    deleted: Callable[[], dict[int, list[tuple[int, int]]]],
) -> bool:
    """Whether ``update`` holds anything for a document with ``state_vector`` whose delete
    set ``deleted()`` gives (see :func:`deleted_ranges`; asked for only if needed): an item
    past its state vector, or the deletion of an item it has and has not deleted. Deletions
    of items it does not have and the update does not hold change nothing it could show.

    Reads structurally, as :func:`validate_update` does (raises ProtocolError)."""
    known = decode_state_vector(state_vector, max_bytes=len(state_vector))
    held: list[ItemRange] = []
    deletes: list[ItemRange] = []
    _walk_update(update, held, deletes)
    if any(clock + length > known.get(client, 0) for client, clock, length in held):
        return True
    ranges: dict[int, list[tuple[int, int]]] | None = None
    for client, clock, length in deletes:
        end = min(clock + length, known.get(client, 0))
        if clock < end:
            ranges = deleted() if ranges is None else ranges
            if not _covered(ranges.get(client, []), clock, end):
                return True
    return False


def _covered(ranges: list[tuple[int, int]], start: int, end: int) -> bool:
    """Whether sorted, merged ``ranges`` cover ``start`` to ``end`` (exclusive)."""
    at = bisect.bisect_right(ranges, (start, math.inf)) - 1
    return at >= 0 and ranges[at][0] <= start and end <= ranges[at][1]


class Extent(NamedTuple):
    """What an update names, for compaction (see :func:`update_extent`)."""

    ends: dict[int, int]  # client -> the clock just past the last item it holds or deletes
    astral: bool  # a string of its holds a character outside the BMP (two UTF-16 units)


def update_extent(update: bytes) -> Extent:
    """For each client an update names, the clock just past the last item it holds or
    deletes. A document holding all of the update has a state vector at least this high for
    each of them; where it is lower, part of the update waits in the document for items it
    builds on (pending), and the document's own encoding leaves that part out.

    Validates as :func:`validate_update` does, Yrs' check aside (raises ProtocolError)."""
    ends, deleted, astral = _walk_update(update)
    for client, end in deleted.items():
        ends[client] = max(end, ends.get(client, 0))
    return Extent(ends, astral)


def yrs_call(fn: Any, *args: Any) -> Any:
    """Call into Yrs, turning its decode errors (and Rust panics) into ProtocolError."""
    try:
        return fn(*args)
    except ValueError as exc:  # how pycrdt reports "Cannot decode update" and friends
        raise ProtocolError(CloseCode.INVALID_PAYLOAD, f"rejected by Yrs: {exc}") from exc
    except RuntimeError as exc:
        # Integration failures (e.g. a parent that is not a type) depend on the document's
        # state, so no decoder can catch them in advance. Other RuntimeErrors are misuse.
        if not str(exc).startswith("Cannot apply update"):
            raise
        raise ProtocolError(CloseCode.INVALID_PAYLOAD, f"rejected by Yrs: {exc}") from exc
    except BaseException as exc:
        # pyo3 surfaces a Rust panic as pyo3_runtime.PanicException, a BaseException.
        if type(exc).__name__ != "PanicException":
            raise
        raise ProtocolError(CloseCode.INVALID_PAYLOAD, "Yrs panicked on this input") from exc


# The walk below runs on every edit a client sends: it keeps its position in a local variable
# and calls the position-taking functions of ._reader, a call per value instead of a Reader's
# several, and reads the IDs items name their neighbours by with one regex match each.


def _check_clock(clock: int) -> int:
    if clock > MAX_CLOCK:
        raise ProtocolError(_INVALID, f"clock {clock} does not fit 32 bits")
    return clock


def _walk_update(
    update: bytes,
    held: list[ItemRange] | None = None,
    deletes: list[ItemRange] | None = None,
) -> tuple[dict[int, int], dict[int, int], bool]:
    """Check an update's structs and delete set; return each client's clock past its last
    struct, past the last item it deletes, and whether a string holds a non-BMP character.
    With ``held``, add the items of its structs to it (see ``_walk_structs``); with
    ``deletes``, the ranges its delete set deletes."""
    try:
        ends, astral, pos = _walk_structs(update, held)
        deleted, pos = _walk_delete_set(update, pos, deletes)
    except IndexError:  # a struct's info byte or a value's tag read past the end
        raise ProtocolError(_INVALID, "unexpected end of data") from None
    if pos != len(update):
        raise ProtocolError(_INVALID, f"{len(update) - pos} trailing bytes after update")
    return ends, deleted, astral


def _walk_structs(
    data: bytes, held: list[ItemRange] | None = None
) -> tuple[dict[int, int], bool, int]:
    """Skip the structs; return each client's clock past its last struct, whether a string
    holds a character outside the BMP, and the position after the structs. With ``held``,
    add each struct's items to it (skips aside)."""
    ends: dict[int, int] = {}
    astral = False
    clients, pos = count_at(data, 0, _MIN_CLIENT_BLOCK, "client", _INVALID)
    for _ in range(clients):
        structs, pos = count_at(data, pos, _MIN_STRUCT, "struct", _INVALID)
        client, pos = var_uint_at(data, pos, _INVALID)
        if client in ends:
            raise ProtocolError(_INVALID, f"client {client} repeated in update")
        clock, pos = var_uint_at(data, pos, _INVALID)
        _check_clock(clock)
        for _ in range(structs):
            info = data[pos]
            pos += 1
            ref = info & 0x1F
            if ref in (_GC, _SKIP):
                if info != ref:
                    raise ProtocolError(_INVALID, f"unexpected flags in struct info {info:#04x}")
                length, pos = var_uint_at(data, pos, _INVALID)
            else:
                if info & _ORIGIN:
                    pos = _skip_id(data, pos)
                if info & _RIGHT_ORIGIN:
                    pos = _skip_id(data, pos)
                if not info & (_ORIGIN | _RIGHT_ORIGIN):
                    pos = _skip_parent(data, pos, info)
                if ref == _STRING:
                    text, pos = var_string_at(data, pos, _INVALID)
                    length = len(text)
                    if not text.isascii():
                        length = len(text.encode("utf-16-le")) // 2  # UTF-16 units, as Yjs counts
                        astral = astral or length != len(text)
                else:
                    length, pos = _skip_content(data, pos, ref)
            if held is not None and ref != _SKIP:
                held.append(ItemRange(client, clock, length))
            clock = _check_clock(clock + length)
        ends[client] = clock
    return ends, astral, pos


def _walk_delete_set(
    data: bytes, pos: int, deletes: list[ItemRange] | None = None
) -> tuple[dict[int, int], int]:
    """Skip the delete set; return each client's clock past the last item it deletes. With
    ``deletes``, add each range it deletes to it."""
    ends: dict[int, int] = {}
    clients, pos = count_at(data, pos, _MIN_PAIR, "delete set client", _INVALID)
    for _ in range(clients):
        client, pos = var_uint_at(data, pos, _INVALID)
        if client in ends:
            raise ProtocolError(_INVALID, f"client {client} repeated in delete set")
        end = 0
        ranges, pos = count_at(data, pos, _MIN_PAIR, "delete range", _INVALID)
        for _ in range(ranges):
            clock, pos = var_uint_at(data, pos, _INVALID)
            length, pos = var_uint_at(data, pos, _INVALID)
            if length:  # an empty range deletes nothing, wherever it points
                end = max(end, _check_clock(clock + length))
                if deletes is not None:
                    deletes.append(ItemRange(client, clock, length))
            else:
                _check_clock(clock)
        ends[client] = end
    return ends, pos


# The IDs (client, clock) an item names its neighbours by are most of an edit's bytes, and
# pycrdt's client ids take 8. Nearly all have a client id below 2**53 and a clock below 2**28,
# and one match of this pattern proves both instead of a Python loop per byte. It is narrower
# than the rules, never wider: an ID it does not match is read varint by varint below, which
# accepts it or says what is wrong.
_PLAIN_ID = re.compile(
    rb"(?:[\x80-\xff]{0,6}[\x00-\x7f]|[\x80-\xff]{7}[\x00-\x0f])[\x80-\xff]{0,3}[\x00-\x7f]"
)


def _skip_id(data: bytes, pos: int) -> int:
    plain = _PLAIN_ID.match(data, pos)
    if plain:
        return plain.end()
    pos = var_uint_at(data, pos, _INVALID)[1]
    clock, pos = var_uint_at(data, pos, _INVALID)
    _check_clock(clock)
    return pos


def _skip_parent(data: bytes, pos: int, info: int) -> int:
    """Skip the parent of an item placed without neighbours: a root type's name only."""
    parent_info, pos = var_uint_at(data, pos, _INVALID)
    if parent_info == 1:
        pos = var_string_at(data, pos, _INVALID)[1]  # root type name
    elif parent_info == 0:  # the parent is an item: a nested type
        raise ProtocolError(CloseCode.UNSUPPORTED_DATA, _NESTED_TYPES)
    else:
        raise ProtocolError(_INVALID, f"invalid parent info {parent_info}")
    if info & _PARENT_SUB:
        pos = var_string_at(data, pos, _INVALID)[1]
    return pos


def _skip_content(data: bytes, pos: int, ref: int) -> tuple[int, int]:
    """Skip an item's content other than a string; return its length and the next position."""
    # Zero lengths are allowed: pycrdt (Yrs 0.28) emits empty strings after deleting half
    # of a surrogate pair, and zero-length deleted items once those are deleted.
    if ref == _DELETED:
        return var_uint_at(data, pos, _INVALID)
    if ref == _ANY:
        count, pos = count_at(data, pos, 1, "any", _INVALID)
        for _ in range(count):
            pos = _skip_any(data, pos, 1)
        return count, pos
    if ref == _BINARY:
        length, pos = var_uint_at(data, pos, _INVALID)
        pos = skip_at(data, pos, length, _INVALID)
    elif ref == _EMBED:
        text, pos = var_string_at(data, pos, _INVALID)
        check_json(text)
    elif ref == _FORMAT:
        pos = var_string_at(data, pos, _INVALID)[1]
        text, pos = var_string_at(data, pos, _INVALID)
        check_json(text)
    elif ref == _TYPE:  # a shared type as an item's content: always inside another type
        raise ProtocolError(CloseCode.UNSUPPORTED_DATA, _NESTED_TYPES)
    elif ref == _DOC:
        pos = var_string_at(data, pos, _INVALID)[1]  # guid
        pos = _skip_any(data, pos, 1)  # options
    elif ref == _JSON:
        # Legacy (pre-v13) content; Yrs reads one string too many, so it would diverge.
        raise ProtocolError(CloseCode.UNSUPPORTED_DATA, "legacy ContentJSON is not supported")
    else:
        raise ProtocolError(_INVALID, f"unknown content ref {ref}")
    return 1, pos


def _skip_any(data: bytes, pos: int, depth: int) -> int:
    """Skip one lib0 `Any` value (tags 116..127); return the position after it."""
    if depth > MAX_NESTING_DEPTH:
        raise ProtocolError(_INVALID, "value nested too deeply")
    tag = data[pos]
    pos += 1
    if tag in (127, 126, 121, 120):  # undefined, null, false, true
        return pos
    if tag == 125:
        return var_int_at(data, pos, _INVALID)[1]
    if tag == 124:
        return skip_at(data, pos, 4, _INVALID)  # float32
    if tag in (123, 122):
        return skip_at(data, pos, 8, _INVALID)  # float64, bigint64
    if tag == 119:
        return var_string_at(data, pos, _INVALID)[1]
    if tag == 118:
        entries, pos = count_at(data, pos, 2, "object entry", _INVALID)
        for _ in range(entries):
            pos = var_string_at(data, pos, _INVALID)[1]
            pos = _skip_any(data, pos, depth + 1)
        return pos
    if tag == 117:
        items, pos = count_at(data, pos, 1, "array item", _INVALID)
        for _ in range(items):
            pos = _skip_any(data, pos, depth + 1)
        return pos
    if tag == 116:
        length, pos = var_uint_at(data, pos, _INVALID)
        return skip_at(data, pos, length, _INVALID)
    raise ProtocolError(_INVALID, f"unknown value tag {tag}")


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


def check_json(text: str) -> Any:
    """Parse strict JSON (no NaN/Infinity) as JSON.parse would; return the value."""
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise ProtocolError(_INVALID, "invalid JSON") from None
