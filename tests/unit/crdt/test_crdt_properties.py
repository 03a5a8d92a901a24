"""Property tests: whatever the bytes, the only outcomes are a parsed message or ProtocolError."""

from __future__ import annotations

import contextlib
import time

import pycrdt
from crdt_samples import (
    YJS_MSG_AUTH,
    YJS_MSG_AWARENESS,
    YJS_MSG_AWARENESSREMOVAL,
    YJS_MSG_QUERY,
    YJS_MSG_STEP1,
    YJS_MSG_UPDATE,
    YJS_NESTED_UPDATES,
    YJS_UPDATES,
    new_doc,
    sample_doc,
    vu,
)
from hypothesis import given, settings
from hypothesis import strategies as st

import crdt
from crdt import AwarenessEntry, ProtocolError, SyncStep2, SyncUpdate

LIMIT = 64 * 1024
FUZZ = settings(max_examples=300, deadline=None, database=None)

_DOC = sample_doc()
UPDATES = [
    *YJS_UPDATES,
    *YJS_NESTED_UPDATES,
    _DOC.get_update(),
    crdt.merge_updates(YJS_UPDATES),
]
MESSAGES = [
    YJS_MSG_STEP1,
    YJS_MSG_UPDATE,
    YJS_MSG_AWARENESS,
    YJS_MSG_AWARENESSREMOVAL,
    YJS_MSG_QUERY,
    YJS_MSG_AUTH,
    crdt.sync_step1_for_doc(_DOC),
    crdt.sync_step2_for_doc(_DOC, crdt.EMPTY_STATE_VECTOR),
    *(crdt.encode_update(update) for update in UPDATES),
    crdt.encode_awareness([AwarenessEntry.of(1, 2, {"user": {"name": "Zoë"}})]),
]
HEADERS = [b"\x00\x00", b"\x00\x01", b"\x00\x02", b"\x01", b"\x02\x00", b"\x03", b""]


def parse_or_reject(data: bytes) -> crdt.Message | None:
    try:
        return crdt.parse_message(data, max_update_bytes=LIMIT)
    except ProtocolError:
        return None


def validate_or_reject(data: bytes) -> bool:
    try:
        crdt.validate_update(data, max_bytes=LIMIT)
    except ProtocolError:
        return False
    return True


@st.composite
def mutated(draw: st.DrawFn, corpus: list[bytes]) -> bytes:
    """A corpus entry with a few bytes replaced, inserted or deleted."""
    data = bytearray(draw(st.sampled_from(corpus)))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["replace", "insert", "delete", "varint"]))
        if kind == "replace" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=4))
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 4))]
        else:
            data[at:at] = vu(draw(st.integers(0, 2**70)))
    return bytes(data)


@FUZZ
@given(st.binary(max_size=512))
def test_random_bytes(data: bytes) -> None:
    parse_or_reject(data)
    validate_or_reject(data)


@FUZZ
@given(st.sampled_from(HEADERS), st.binary(max_size=256))
def test_random_payload_behind_valid_header(header: bytes, tail: bytes) -> None:
    parse_or_reject(header + tail)
    parse_or_reject(header + vu(len(tail)) + tail)


@FUZZ
@given(st.sampled_from(MESSAGES), st.data())
def test_truncated_message_is_rejected(message: bytes, data: st.DataObject) -> None:
    cut = data.draw(st.integers(0, len(message) - 1))
    assert parse_or_reject(message[:cut]) is None


@FUZZ
@given(st.sampled_from(UPDATES), st.data())
def test_truncated_update_is_rejected(update: bytes, data: st.DataObject) -> None:
    cut = data.draw(st.integers(0, len(update) - 1))
    assert not validate_or_reject(update[:cut])


@FUZZ
@given(mutated(MESSAGES))
def test_mutated_message(data: bytes) -> None:
    message = parse_or_reject(data)
    if isinstance(message, SyncStep2 | SyncUpdate):
        # Yrs may still refuse to integrate it, but only as a ProtocolError.
        with contextlib.suppress(ProtocolError):
            crdt.apply_update_to_doc(new_doc(), message.update, max_bytes=None)


@FUZZ
@given(mutated(UPDATES))
def test_mutated_update(data: bytes) -> None:
    if validate_or_reject(data):
        for doc in (new_doc(), sample_doc()):
            with contextlib.suppress(ProtocolError):
                crdt.apply_update_to_doc(doc, data, max_bytes=None)


@FUZZ
@given(st.lists(st.integers(0, 2**70), min_size=1, max_size=6), st.binary(max_size=32))
def test_random_varints(numbers: list[int], tail: bytes) -> None:
    data = b"".join(vu(n) for n in numbers) + tail
    parse_or_reject(data)
    validate_or_reject(data)
    for header in HEADERS:
        parse_or_reject(header + data)


@FUZZ
@given(st.sampled_from(HEADERS[:5]), st.binary(max_size=64), st.data())
def test_huge_length_prefix_is_rejected_fast(
    header: bytes, tail: bytes, data: st.DataObject
) -> None:
    length = data.draw(st.integers(len(tail) + 1, 2**64))
    started = time.perf_counter()
    assert parse_or_reject(header + vu(length) + tail) is None
    assert not validate_or_reject(vu(length) + tail)
    assert time.perf_counter() - started < 0.5


# ASCII only: pycrdt's len(Text) counts UTF-8 bytes, so non-ASCII edits at computed
# offsets make pycrdt itself panic (non-ASCII Yjs content is covered by YJS_UPDATES).
_EDITS = st.lists(
    st.tuples(
        st.sampled_from(["insert", "delete", "format", "append", "set"]),
        st.integers(0, 50),
        st.text(alphabet="ab \n", min_size=1, max_size=8),
    ),
    max_size=25,
)


@settings(max_examples=100, deadline=None, database=None)
@given(_EDITS)
def test_pycrdt_updates_are_accepted(edits: list[tuple[str, int, str]]) -> None:
    doc = new_doc()
    text = doc.get("t", type=pycrdt.Text)
    array = doc.get("a", type=pycrdt.Array)
    dictionary = doc.get("m", type=pycrdt.Map)
    for kind, at, chars in edits:
        before = doc.get_state()
        if kind == "insert" or not len(text):
            text.insert(min(at, len(text)), chars)
        elif kind == "delete":
            start = min(at, len(text) - 1)
            del text[start : min(start + len(chars), len(text))]
        elif kind == "format":
            text.format(0, min(at + 1, len(text)), {"bold": chars})
        elif kind == "append":
            array.append({"at": at, "s": chars, "n": [1.5, None, True]})
        else:
            dictionary[chars] = {"x": at}
        crdt.validate_update(doc.get_update(before), max_bytes=LIMIT)
    crdt.validate_update(doc.get_update(), max_bytes=LIMIT)
