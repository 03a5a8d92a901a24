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

Left as they are: the content of items the delete set does not cover, and a character
outside the BMP that a deletion cuts in half (Yrs cannot hold half of one): the piece that
keeps its content takes the whole character.

One walk over the update's structs and one over its delete set, each client's deleted
ranges followed by a moving index: linear in the update's size. A string is re-encoded as
UTF-16 only when it is cut.
"""

from __future__ import annotations

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
_Cut = tuple[int, int, bool]  # start, end (offsets into an item), deleted


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
        at = 0  # the first of the client's deleted ranges not wholly before ``clock``
        block = bytearray()
        count = structs
        run = pos  # where the structs copied as they are start
        for _ in range(structs):
            start = pos
            pos, length = _struct(update, pos)
            while at < len(ranges) and ranges[at][1] <= clock:
                at += 1
            if at < len(ranges) and ranges[at][0] < clock + length:
                cuts = _cuts(ranges, at, clock, length)
                pieces = _pieces(update, start, pos, client, clock, cuts)
                if pieces is not None:
                    block += update[run:start]
                    for piece in pieces:
                        block += piece
                    count += len(pieces) - 1
                    run = pos
                    changed = True
            clock += length
        block += update[run:pos]
        out += write_var_uint(count) + head + block
    if not changed:
        return update
    out += update[pos:]  # the delete set, as it was
    return bytes(out)


def _struct(data: bytes, pos: int) -> tuple[int, int]:
    """The position after the struct at ``pos``, and its length (in clocks)."""
    ref = data[pos] & 0x1F
    if ref in (_GC, _SKIP):
        length, pos = var_uint_at(data, pos + 1, _INVALID)
        return pos, length
    content = _links(data, pos)[2]
    if ref == _STRING:
        text, pos = var_string_at(data, content, _INVALID)
        return pos, len(text) if text.isascii() else len(text.encode("utf-16-le")) // 2
    length, pos = _skip_content(data, content, ref)
    return pos, length


def _links(data: bytes, pos: int) -> tuple[int, int, int]:
    """For the item at ``pos``, what places it (origin, right origin, parent): where its
    right origin starts and ends (empty without one), and where its content starts."""
    info = data[pos]
    pos += 1
    if info & _ORIGIN:
        pos = _skip_id(data, pos)
    right = pos
    if info & _RIGHT_ORIGIN:
        pos = _skip_id(data, pos)
    right_end = pos
    if not info & (_ORIGIN | _RIGHT_ORIGIN):
        pos = _skip_parent(data, pos, info)
    return right, right_end, pos


def _pieces(
    data: bytes, start: int, end: int, client: int, clock: int, cuts: list[_Cut]
) -> list[bytes] | None:
    """What replaces the struct at ``start`` .. ``end`` cut as ``cuts`` (None: the struct as
    it is, when it holds no content to drop)."""
    info = data[start]
    ref = info & 0x1F
    if ref in (_GC, _SKIP, _DELETED):
        return None
    right, right_end, content = _links(data, start)
    if ref == _STRING:
        cuts, contents = _string_pieces(var_string_at(data, content, _INVALID)[0], cuts)
    elif ref == _ANY:
        values = _any_values(data, content)
        contents = [write_var_uint(b - a) + b"".join(values[a:b]) for a, b, _ in cuts]
    else:  # content of length 1 (binary, embed, format, a subdocument): wholly deleted
        contents = [data[content:end]] * len(cuts)
    if not any(gone for _, _, gone in cuts):
        return None
    pieces = []
    for (first, stop, gone), kept in zip(cuts, contents, strict=True):
        piece_ref = _DELETED if gone else ref
        if first == 0:
            piece = bytes([(info & ~0x1F) | piece_ref]) + data[start + 1 : content]
        else:  # placed right after the piece before it, as Yjs writes from an offset
            piece = (
                bytes([_ORIGIN | (info & (_RIGHT_ORIGIN | _PARENT_SUB)) | piece_ref])
                + write_var_uint(client)
                + write_var_uint(clock + first - 1)
                + data[right:right_end]
            )
        pieces.append(piece + (write_var_uint(stop - first) if gone else kept))
    return pieces


def _cuts(ranges: _Ranges, at: int, clock: int, length: int) -> list[_Cut]:
    """The item ``clock`` .. ``clock + length`` cut where the deleted ``ranges`` (from index
    ``at``, the first that ends past ``clock``) start and end, in order, covering it."""
    end = clock + length
    cuts: list[_Cut] = []
    offset = clock
    for index in range(at, len(ranges)):
        low, high = ranges[index]
        if low >= end:
            break
        low, high = max(low, offset), min(high, end)
        if low > offset:
            cuts.append((offset - clock, low - clock, False))
        cuts.append((low - clock, high - clock, True))
        offset = high
    if offset < end:
        cuts.append((offset - clock, length, False))
    return cuts


def _string_pieces(text: str, cuts: list[_Cut]) -> tuple[list[_Cut], list[bytes]]:
    """The cuts of a string item, none inside a character outside the BMP (the kept piece
    beside it takes it whole), and each piece's content."""
    if text.isascii():
        return cuts, [_string(text[a:b]) for a, b, _ in cuts]
    units = text.encode("utf-16-le")
    bounds = [0]
    for index in range(1, len(cuts)):
        at = cuts[index][0]
        if 0xDC <= units[2 * at + 1] <= 0xDF:  # the second half of a pair: move off it
            at += -1 if cuts[index - 1][2] else 1
        bounds.append(max(at, bounds[-1]))
    bounds.append(cuts[-1][1])
    moved: list[_Cut] = []
    for index, (_, _, gone) in enumerate(cuts):
        start, stop = bounds[index], bounds[index + 1]
        if start >= stop:
            continue
        if moved and moved[-1][2] == gone:
            start = moved.pop()[0]
        moved.append((start, stop, gone))
    return moved, [_string(units[2 * a : 2 * b].decode("utf-16-le")) for a, b, _ in moved]


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
