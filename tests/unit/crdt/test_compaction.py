"""What compaction stores: the document the updates make, unless part of them is pending."""

from __future__ import annotations

import random
from typing import Any

import pycrdt
import pytest
from crdt_samples import YJS_TEXT, YJS_UPDATES, nested_doc_updates
from hypothesis import given, settings
from hypothesis import strategies as st

import crdt
from crdt import ProtocolError
from crdt.docs import _whole_extent
from crdt.scrub import scrub_deleted
from crdt.update import update_extent

LIMIT = 1 << 20


def keystrokes(count: int, *, seed: int = 3) -> tuple[list[bytes], str]:
    """One update per keystroke, as an editor sends them (a fifth are backspaces)."""
    rng = random.Random(seed)
    doc: pycrdt.Doc[Any] = pycrdt.Doc(client_id=7)
    text = doc.get("code", type=pycrdt.Text)
    sent: list[bytes] = []
    doc.observe(lambda event: sent.append(event.update))
    for _ in range(count):
        if len(text) and rng.random() < 0.2:
            del text[len(text) - 1]
        else:
            text.insert(len(text), rng.choice("abc def()\n"))
    return sent, str(text)


def loaded(*updates: bytes) -> pycrdt.Doc[Any]:
    doc: pycrdt.Doc[Any] = pycrdt.Doc()
    for update in updates:
        doc.apply_update(update)
    return doc


def text_and_clocks(doc: pycrdt.Doc[Any]) -> tuple[str, dict[int, int]]:
    state = doc.get_state()
    return str(doc.get("code", type=pycrdt.Text)), crdt.decode_state_vector(
        state, max_bytes=len(state)
    )


def test_a_keystroke_log_compacts_to_the_document_not_to_every_keystroke() -> None:
    updates, typed = keystrokes(3_000)
    snapshot = None
    for start in range(0, len(updates), 500):  # as the room does: snapshot + the next rows
        snapshot = crdt.compact_updates(
            ([snapshot] if snapshot else []) + updates[start : start + 500]
        )
    assert snapshot is not None
    merged = crdt.merge_updates(updates)
    assert text_and_clocks(loaded(snapshot)) == text_and_clocks(loaded(*updates))
    assert str(loaded(snapshot).get("code", type=pycrdt.Text)) == typed
    # Merging keeps each keystroke and each deleted character; the document does not.
    assert len(snapshot) * 2 < len(merged)
    assert snapshot == loaded(*updates).get_update()


def test_real_yjs_updates_compact_to_the_same_document() -> None:
    compacted = crdt.compact_updates(YJS_UPDATES)
    crdt.validate_update(compacted, max_bytes=LIMIT)
    doc = loaded(compacted)
    assert str(doc.get("t", type=pycrdt.Text)) == YJS_TEXT
    assert doc.get_state() == loaded(*YJS_UPDATES).get_state()
    assert crdt.compact_updates([]) == crdt.EMPTY_UPDATE


def _author_and_reader() -> tuple[list[bytes], list[bytes]]:
    """Updates of two writers: the author types three times; the reader, having the first
    two, deletes the second."""
    author: pycrdt.Doc[Any] = pycrdt.Doc(client_id=1)
    text = author.get("code", type=pycrdt.Text)
    typed: list[bytes] = []
    author.observe(lambda event: typed.append(event.update))
    text.insert(0, "hello")
    text.insert(5, " world")
    text.insert(11, "!")
    reader = loaded(typed[0], typed[1])
    deleted: list[bytes] = []
    reader.observe(lambda event: deleted.append(event.update))
    del reader.get("code", type=pycrdt.Text)[5:11]
    return typed, deleted


@pytest.mark.parametrize(
    ("stored", "later", "expected"),
    [
        # "!" is placed after " world", which the log lacks: its struct waits, pending.
        pytest.param("typed[0] typed[2]", "typed[1]", "hello world!", id="pending-struct"),
        # The deletion names " world" before it arrives: the deletion waits, pending.
        pytest.param("typed[0] deleted[0]", "typed[1]", "hello", id="pending-deletion"),
    ],
)
def test_pending_parts_are_kept(stored: str, later: str, expected: str) -> None:
    """Yrs leaves pending parts out of a document's encoding: compacting them that way would
    lose them, so such updates are merged instead, and nothing is lost."""
    typed, deleted = _author_and_reader()
    names = {"typed": typed, "deleted": deleted}

    def pick(spec: str) -> list[bytes]:
        return [names[item[: item.index("[")]][int(item[-2])] for item in spec.split()]

    compacted = crdt.compact_updates(pick(stored))
    assert compacted == crdt.merge_updates(pick(stored))
    doc = loaded(compacted, *pick(later))
    assert str(doc.get("code", type=pycrdt.Text)) == expected
    # Without the check the document's own encoding drops the pending part.
    lossy = loaded(loaded(*pick(stored)).get_update(), *pick(later))
    assert str(lossy.get("code", type=pycrdt.Text)) != expected


# From one Yjs 13.6.33 client: it types "x😀y", deletes two UTF-16 units from the start
# ("x" and half of the emoji), then types "!" at the end.
YJS_SPLIT_EMOJI = [
    bytes.fromhex("01012a00040104636f64650678f09f98807900"),
    bytes.fromhex("00012a010002"),
    bytes.fromhex("01012a04842a03012100"),
]


def test_text_with_characters_outside_the_bmp_is_merged() -> None:
    """Yrs cannot hold half of a surrogate pair: its encoding of the split emoji is one unit
    short, so "!", typed after, would load under another id and be lost."""
    stored, later = YJS_SPLIT_EMOJI[:2], YJS_SPLIT_EMOJI[2]
    for update in YJS_SPLIT_EMOJI:
        crdt.validate_update(update, max_bytes=LIMIT)
    # Merged, and "x" (deleted whole) dropped; the emoji, cut in half, stays whole.
    assert crdt.compact_updates(stored) == scrub_deleted(crdt.merge_updates(stored))
    assert b"x" not in crdt.compact_updates(stored)
    live = loaded(*YJS_SPLIT_EMOJI)
    assert text_and_clocks(loaded(crdt.compact_updates(stored), later)) == (text_and_clocks(live))
    lossy = loaded(loaded(*stored).get_update(), later)
    assert text_and_clocks(lossy) != text_and_clocks(live)


def test_characters_outside_the_bmp_are_found_in_strings_not_in_numbers() -> None:
    assert update_extent(YJS_SPLIT_EMOJI[0]).astral
    whole = crdt.merge_updates(YJS_SPLIT_EMOJI)
    assert _whole_extent(whole).astral
    # Client 268435568 is the varint f0 80 80 80 01, which looks like an emoji in UTF-8:
    # a snapshot naming it is walked, found to hold none, and compacted all the same.
    doc: pycrdt.Doc[Any] = pycrdt.Doc(client_id=268_435_568)
    sent: list[bytes] = []
    doc.observe(lambda event: sent.append(event.update))
    for char in "print('ok')":
        doc.get("code", type=pycrdt.Text).insert(len(doc.get("code", type=pycrdt.Text)), char)
    snapshot = doc.get_update()
    assert b"\xf0\x80\x80\x80" in snapshot
    assert not _whole_extent(snapshot).astral
    assert crdt.compact_updates([snapshot, *sent]) == loaded(snapshot, *sent).get_update()


def test_rows_todays_validator_refuses_are_merged_not_applied() -> None:
    """Rows stored before a rule of today's validator (here, an item inside a nested type)
    are merged as before, without Yrs integrating them."""
    _, nested = nested_doc_updates()[1]
    with pytest.raises(ProtocolError):
        update_extent(nested)
    updates, _ = keystrokes(20)
    merged = crdt.merge_updates([*updates, nested])
    # (Merged, the nested item follows its origin and no longer names its parent.)
    assert crdt.compact_updates([*updates, nested]) == scrub_deleted(merged) != merged


def test_a_snapshots_extent_is_read_without_walking_its_structs() -> None:
    """The first input (the snapshot) is read through its state vector and its delete set:
    the same extent as walking all of it, for a whole document and for a row."""
    updates, _ = keystrokes(2_000)
    for first in (loaded(*updates).get_update(), crdt.merge_updates(updates), updates[7]):
        assert _whole_extent(first) == update_extent(first)
    _, deleted = _author_and_reader()
    assert _whole_extent(deleted[0]) == update_extent(deleted[0]) == ({1: 11}, False)


def test_an_empty_delete_range_names_no_clock() -> None:
    """An empty range deletes nothing, wherever it points: it does not make the document
    look incomplete (which would merge every later compaction of the room)."""
    updates, _ = keystrokes(30)
    at = next(i for i, update in enumerate(updates) if i and update.endswith(b"\x00"))
    # A typed key (no deletions) with a delete set of one empty range, far past every clock.
    odd = updates[at][:-1] + bytes([1, 7, 1]) + b"\xe8\x07" + bytes([0])
    crdt.validate_update(odd, max_bytes=LIMIT)
    assert update_extent(odd) == update_extent(updates[at])
    rows = [*updates[:at], odd, *updates[at + 1 :]]
    assert crdt.compact_updates(rows) == loaded(*rows).get_update()


def test_update_extent_covers_structs_and_deletions() -> None:
    typed, deleted = _author_and_reader()
    assert update_extent(typed[0]) == ({1: 5}, False)
    assert update_extent(typed[2]) == ({1: 12}, False)
    # The reader's update holds no struct of its own, only the deletion of clocks 5..10.
    assert update_extent(deleted[0]) == ({1: 11}, False)
    assert update_extent(crdt.EMPTY_UPDATE) == ({}, False)


EDIT = st.tuples(st.integers(0, 2), st.booleans(), st.integers(0, 1_000), st.sampled_from("ab\n"))


@settings(max_examples=150, deadline=None)
@given(edits=st.lists(st.tuples(EDIT, st.booleans()), max_size=60), cut=st.integers(0, 1_000))
def test_compacting_any_prefix_of_a_log_loses_nothing(
    edits: list[tuple[tuple[int, bool, int, str], bool]], cut: int
) -> None:
    """Three writers edit, syncing now and then; the log holds what reached the server, in
    order. A snapshot of any prefix, then the rest of the log, is the whole document."""
    writers: list[pycrdt.Doc[Any]] = [pycrdt.Doc(client_id=n + 1) for n in range(3)]
    log: list[bytes] = []
    for doc in writers:
        doc.observe(lambda event: log.append(event.update))
    for (who, delete, at, char), sync in edits:
        text = writers[who].get("code", type=pycrdt.Text)
        if delete and len(text):
            del text[at % len(text)]
        else:
            text.insert(at % (len(text) + 1), char)
        if sync:
            other = writers[(who + 1) % 3]
            other.apply_update(writers[who].get_update(other.get_state()))
    cut %= len(log) + 1
    snapshot = crdt.compact_updates(log[:cut])
    assert text_and_clocks(loaded(snapshot, *log[cut:])) == text_and_clocks(loaded(*log))


def test_a_merged_compaction_keeps_no_deleted_content() -> None:
    """Text with an emoji is merged, not re-encoded; what was deleted still leaves no bytes:
    an overwritten name, a deleted feed entry, erased characters."""
    doc: pycrdt.Doc[Any] = pycrdt.Doc(client_id=11)
    sent: list[bytes] = []
    doc.observe(lambda event: sent.append(event.update))
    code = doc.get("code", type=pycrdt.Text)
    state = doc.get("state", type=pycrdt.Map)
    feed = doc.get("feed", type=pycrdt.Array)
    code.insert(0, "print('olá 😀') # Ana Souza")
    state["driver_name"] = "Ana Souza"
    feed.extend([{"by": "Ana Souza", "text": "oi"}, {"by": "Bill", "text": "😀"}])
    del code[len(code) - len(" # Ana Souza") :]
    state["driver_name"] = "Former member"
    del feed[0]
    feed.insert(0, [{"by": "Former member", "text": "oi"}])

    compacted = crdt.compact_updates(sent)

    assert b"Ana Souza" in crdt.merge_updates(sent)
    assert b"Ana Souza" not in compacted
    again = loaded(compacted)
    assert str(again.get("code", type=pycrdt.Text)) == "print('olá 😀')"
    assert again.get("state", type=pycrdt.Map).to_py() == {"driver_name": "Former member"}
    assert again.get("feed", type=pycrdt.Array).to_py() == feed.to_py()
    assert again.get_state() == doc.get_state()
