"""Drop what a Yjs update's delete set deletes from the update's own items.

A merge of updates (``merge_updates``) keeps every deleted item with its content: a deleted
chat entry, an overwritten map value, each character typed and then erased. A document
drops that content once it deletes the item (Yjs and Yrs keep the item as "deleted" with
its length only), and so does the document's own encoding, which compaction stores. Where
compaction must merge instead (see ``crdt.docs.compact_updates``), :func:`scrub_deleted`
does to the merged update what the document would have done: every item, or part of an
item, that the update's delete set covers gets deleted content of the same length
(``ContentDeleted``), and is split where only part of it is covered, as a Yjs client splits
an item it encodes from an offset. Nothing else changes: the same clients and clocks, the
same neighbours, the same delete set, so the update builds the same document, and later
updates that name those items still find them.

Left as they are: an item whose string would have to be cut inside a character outside
the BMP (Yrs cannot hold half of one), and the content of items the delete set does not
cover.
"""

from __future__ import annotations

import bisect

from pycrdt import write_var_uint

from ._reader import var_string_at, var_uint_at
from .update import (
    _ANY,
    _DELETED,
    _GC,
    _INVALID,
    _ORIGIN,
    _PARENT_SUB,
    _RIGHT_ORIGIN,
    _SKIP,
    _STRING,
    ItemRange,
    _merged,
    _skip_any,
    _skip_content,
    _skip_id,
    _skip_parent,
    _walk_update,
)

_Ranges = list[tuple[int, int]]


def scrub_deleted(update: bytes) -> bytes:
    """``update`` with the content of every item its delete set deletes dropped (see the
    module's docstring). Validates as ``validate_update`` does, Yrs' check aside (raises
    ProtocolError); returns ``update`` itself when nothing is to drop."""
    deletes: list[ItemRange] = []
    _walk_update(update, deletes=deletes)
    deleted = _merged(deletes)
    if not deleted:
        return update
    out = bytearray()
    clients, pos = var_uint_at(update, 0, _INVALID)
    out += write_var_uint(clients)
    changed = False
    for _ in range(clients):
        structs, pos = var_uint_at(update, pos, _INVALID)
        client_start = pos
        client, pos = var_uint_at(update, pos, _INVALID)
        clock, pos = var_uint_at(update, pos, _INVALID)
        head = update[client_start:pos]
        ranges = deleted.get(client, [])
        written: list[bytes] = []
        for _ in range(structs):
            start = pos
            pos, length, pieces = _struct(update, pos, client, clock, ranges)
            if pieces is None:
                written.append(update[start:pos])
            else:
                written.extend(pieces)
                changed = True
            clock += length
        out += write_var_uint(len(written)) + head
        for piece in written:
            out += piece
    if not changed:
        return update
    out += update[pos:]  # the delete set, as it was
    return bytes(out)


def _struct(
    data: bytes, pos: int, client: int, clock: int, ranges: _Ranges
) -> tuple[int, int, list[bytes] | None]:
    """Read the struct at ``pos``: the position after it, its length, and what replaces it
    (None: the struct as it is)."""
    info = data[pos]
    pos += 1
    ref = info & 0x1F
    if ref in (_GC, _SKIP):
        length, pos = var_uint_at(data, pos, _INVALID)
        return pos, length, None
    links_start = pos  # what places the item: origin, right origin, parent
    if info & _ORIGIN:
        pos = _skip_id(data, pos)
    right_start = pos
    if info & _RIGHT_ORIGIN:
        pos = _skip_id(data, pos)
    right = data[right_start:pos]
    if not info & (_ORIGIN | _RIGHT_ORIGIN):
        pos = _skip_parent(data, pos, info)
    links = data[links_start:pos]
    content_start = pos
    text: str | None = None
    if ref == _STRING:
        text, pos = var_string_at(data, pos, _INVALID)
        units = _utf16_offsets(text)
        length = units[-1]
    else:
        length, pos = _skip_content(data, pos, ref)
    cuts = _cuts(ranges, clock, length)
    if ref == _DELETED or not any(gone for _, _, gone in cuts):
        return pos, length, None
    if ref == _STRING:
        assert text is not None
        index = {unit: at for at, unit in enumerate(units)}
        if any(start not in index for start, _, _ in cuts[1:]):
            return pos, length, None  # a cut inside a character outside the BMP
        contents = [_string(text[index[start] : index[end]]) for start, end, _ in cuts]
    elif ref == _ANY:
        values = _any_values(data, content_start)
        contents = [
            write_var_uint(end - start) + b"".join(values[start:end]) for start, end, _ in cuts
        ]
    else:  # content of length 1 (binary, embed, format): wholly deleted
        contents = [data[content_start:pos]]
    pieces: list[bytes] = []
    for (start, end, gone), content in zip(cuts, contents, strict=True):
        piece_ref = _DELETED if gone else ref
        if start == 0:
            piece = bytes([(info & ~0x1F) | piece_ref]) + links
        else:  # placed right after the piece before it, as Yjs writes an item from an offset
            piece = (
                bytes([_ORIGIN | (info & (_RIGHT_ORIGIN | _PARENT_SUB)) | piece_ref])
                + write_var_uint(client)
                + write_var_uint(clock + start - 1)
                + right
            )
        pieces.append(piece + (write_var_uint(end - start) if gone else content))
    return pos, length, pieces


def _cuts(ranges: _Ranges, clock: int, length: int) -> list[tuple[int, int, bool]]:
    """The item ``clock`` .. ``clock + length`` cut where the deleted ``ranges`` start and
    end: ``(start, end, deleted)`` offsets into the item, in order, covering it."""
    end = clock + length
    at = max(bisect.bisect_right(ranges, (clock, clock)) - 1, 0)
    cuts: list[tuple[int, int, bool]] = []
    offset = clock
    for low, high in ranges[at:]:
        if low >= end:
            break
        low, high = max(low, offset), min(high, end)
        if high <= offset:
            continue
        if low > offset:
            cuts.append((offset - clock, low - clock, False))
        cuts.append((low - clock, high - clock, True))
        offset = high
    if offset < end or not cuts:
        cuts.append((offset - clock, length, False))
    return cuts


def _utf16_offsets(text: str) -> list[int]:
    """For each character of ``text``, and its end, the offset in UTF-16 units (as Yjs
    counts a string) at which it starts."""
    if text.isascii():
        return list(range(len(text) + 1))
    offsets = [0]
    for char in text:
        offsets.append(offsets[-1] + (2 if ord(char) > 0xFFFF else 1))
    return offsets


def _string(text: str) -> bytes:
    encoded = text.encode("utf-8")
    return write_var_uint(len(encoded)) + encoded


def _any_values(data: bytes, pos: int) -> list[bytes]:
    """The encoded values of the ContentAny at ``pos``, one by one."""
    count, pos = var_uint_at(data, pos, _INVALID)
    values = []
    for _ in range(count):
        end = _skip_any(data, pos, 1)
        values.append(data[pos:end])
        pos = end
    return values
