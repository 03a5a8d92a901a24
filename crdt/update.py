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

import json
from typing import Any, NamedTuple, NoReturn

from pycrdt import get_state

from ._reader import Reader
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


def validate_update(update: bytes, *, max_bytes: int) -> None:
    """Check that `update` is a well-formed Yjs v1 update no larger than `max_bytes`.

    Raises ProtocolError; never allocates more than a small multiple of `len(update)`.
    """
    if len(update) > max_bytes:
        raise ProtocolError(CloseCode.MESSAGE_TOO_BIG, f"update of {len(update)} bytes")
    reader = Reader(update, CloseCode.INVALID_PAYLOAD)
    _check_structs(reader)
    _check_delete_set(reader)
    reader.expect_end("update")
    yrs_call(get_state, update)  # the structure is sound; now Yrs must agree


def validate_state_vector(state_vector: bytes, *, max_bytes: int) -> None:
    """Check that `state_vector` is a well-formed Yjs state vector (count, client/clock pairs)."""
    decode_state_vector(state_vector, max_bytes=max_bytes)


def decode_state_vector(state_vector: bytes, *, max_bytes: int) -> dict[int, int]:
    """Decode a state vector into {client id: next expected clock}, validating it."""
    if len(state_vector) > max_bytes:
        raise ProtocolError(CloseCode.MESSAGE_TOO_BIG, f"state vector of {len(state_vector)} bytes")
    reader = Reader(state_vector, CloseCode.INVALID_PAYLOAD)
    clocks: dict[int, int] = {}
    for _ in range(reader.read_count(_MIN_PAIR, "state vector")):
        client = reader.read_var_uint()
        if client in clocks:
            raise reader.fail(f"client {client} repeated in state vector")
        clocks[client] = _check_clock(reader, reader.read_var_uint())
    reader.expect_end("state vector")
    return clocks


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
    reader = Reader(update, CloseCode.INVALID_PAYLOAD)
    ends = _check_structs(reader)
    for client, end in _check_delete_set(reader).items():
        ends[client] = max(end, ends.get(client, 0))
    reader.expect_end("update")
    return Extent(ends, reader.astral)


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


def _check_clock(reader: Reader, clock: int) -> int:
    if clock > MAX_CLOCK:
        raise reader.fail(f"clock {clock} does not fit 32 bits")
    return clock


def _check_structs(reader: Reader) -> dict[int, int]:
    """Skip the structs; return each client's clock past its last struct."""
    ends: dict[int, int] = {}
    for _ in range(reader.read_count(_MIN_CLIENT_BLOCK, "client")):
        num_structs = reader.read_count(_MIN_STRUCT, "struct")
        client = reader.read_var_uint()
        if client in ends:
            raise reader.fail(f"client {client} repeated in update")
        clock = reader.read_var_uint()
        _check_clock(reader, clock)
        for _ in range(num_structs):
            clock += _check_struct(reader)
            _check_clock(reader, clock)
        ends[client] = clock
    return ends


def _check_delete_set(reader: Reader) -> dict[int, int]:
    """Skip the delete set; return each client's clock past the last item it deletes."""
    ends: dict[int, int] = {}
    for _ in range(reader.read_count(_MIN_PAIR, "delete set client")):
        client = reader.read_var_uint()
        if client in ends:
            raise reader.fail(f"client {client} repeated in delete set")
        end = 0
        for _ in range(reader.read_count(_MIN_PAIR, "delete range")):
            clock = reader.read_var_uint()
            length = reader.read_var_uint()
            if length:  # an empty range deletes nothing, wherever it points
                end = max(end, _check_clock(reader, clock + length))
            else:
                _check_clock(reader, clock)
        ends[client] = end
    return ends


def _check_struct(reader: Reader) -> int:
    """Skip one struct and return its length in clock units."""
    info = reader.read_u8()
    ref = info & 0x1F
    if ref in (_GC, _SKIP):
        if info != ref:
            raise reader.fail(f"unexpected flags in struct info {info:#04x}")
        return reader.read_var_uint()
    if info & _ORIGIN:
        _check_id(reader)
    if info & _RIGHT_ORIGIN:
        _check_id(reader)
    if not info & (_ORIGIN | _RIGHT_ORIGIN):
        parent_info = reader.read_var_uint()
        if parent_info == 1:
            reader.read_var_string()  # root type name
        elif parent_info == 0:  # the parent is an item: a nested type
            raise reader.fail(_NESTED_TYPES, CloseCode.UNSUPPORTED_DATA)
        else:
            raise reader.fail(f"invalid parent info {parent_info}")
        if info & _PARENT_SUB:
            reader.read_var_string()
    return _check_content(reader, ref)


def _check_id(reader: Reader) -> None:
    reader.read_var_uint()
    _check_clock(reader, reader.read_var_uint())


def _check_content(reader: Reader, ref: int) -> int:
    # Zero lengths are allowed: pycrdt (Yrs 0.28) emits empty strings after deleting half
    # of a surrogate pair, and zero-length deleted items once those are deleted.
    if ref == _DELETED:
        return reader.read_var_uint()
    if ref == _STRING:
        text = reader.read_var_string()
        units = len(text.encode("utf-16-le")) // 2  # UTF-16 units, as Yjs counts
        if units != len(text):
            reader.astral = True
        return units
    if ref == _ANY:
        count = reader.read_count(1, "any")
        for _ in range(count):
            _skip_any(reader, 1)
        return count
    if ref == _BINARY:
        reader.skip_var_bytes()
    elif ref == _EMBED:
        check_json(reader, reader.read_var_string())
    elif ref == _FORMAT:
        reader.read_var_string()
        check_json(reader, reader.read_var_string())
    elif ref == _TYPE:  # a shared type as an item's content: always inside another type
        raise reader.fail(_NESTED_TYPES, CloseCode.UNSUPPORTED_DATA)
    elif ref == _DOC:
        reader.read_var_string()  # guid
        _skip_any(reader, 1)  # options
    elif ref == _JSON:
        # Legacy (pre-v13) content; Yrs reads one string too many, so it would diverge.
        raise reader.fail("legacy ContentJSON is not supported", CloseCode.UNSUPPORTED_DATA)
    else:
        raise reader.fail(f"unknown content ref {ref}")
    return 1


def _skip_any(reader: Reader, depth: int) -> None:
    """Skip one lib0 `Any` value (tags 116..127)."""
    if depth > MAX_NESTING_DEPTH:
        raise reader.fail("value nested too deeply")
    tag = reader.read_u8()
    if tag in (127, 126, 121, 120):  # undefined, null, false, true
        return
    if tag == 125:
        reader.read_var_int()
    elif tag == 124:
        reader.skip(4)  # float32
    elif tag in (123, 122):
        reader.skip(8)  # float64, bigint64
    elif tag == 119:
        reader.read_var_string()
    elif tag == 118:
        for _ in range(reader.read_count(2, "object entry")):
            reader.read_var_string()
            _skip_any(reader, depth + 1)
    elif tag == 117:
        for _ in range(reader.read_count(1, "array item")):
            _skip_any(reader, depth + 1)
    elif tag == 116:
        reader.skip_var_bytes()
    else:
        raise reader.fail(f"unknown value tag {tag}")


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


def check_json(reader: Reader, text: str) -> Any:
    """Parse strict JSON (no NaN/Infinity) as JSON.parse would; return the value."""
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise reader.fail("invalid JSON") from None
