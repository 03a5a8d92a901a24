"""The items an update inserts, and the delete-set update that takes them back."""

from __future__ import annotations

import pycrdt
from hypothesis import given, settings
from hypothesis import strategies as st
from pycrdt import Doc, Text

from crdt import EMPTY_UPDATE, ItemRange, deletion_of_lacking, encode_deletion, inserted_items


def _edits_of(doc: Doc) -> list[bytes]:
    updates: list[bytes] = []
    doc.observe(lambda event: updates.append(event.update))
    return updates


def test_inserted_items_count_utf16_units_like_yjs() -> None:
    doc = Doc()
    text = doc.get("code", type=Text)
    updates = _edits_of(doc)
    text += "abc"
    text += "é😀"  # one unit, then two (a surrogate pair)
    assert [inserted_items(u) for u in updates] == [
        [ItemRange(doc.client_id, 0, 3)],
        [ItemRange(doc.client_id, 3, 3)],
    ]
    assert inserted_items(EMPTY_UPDATE) == []


def test_an_update_that_deletes_anything_inserts_nothing_to_take_back() -> None:
    doc = Doc()
    text = doc.get("code", type=Text)
    text += "abc"
    updates = _edits_of(doc)
    with doc.transaction():
        del text[0:1]
        text.insert(0, "A")
    del text[2:3]
    assert inserted_items(updates[0]) is None  # a replacement
    assert inserted_items(updates[1]) is None  # a deletion alone


def test_inserted_items_leave_out_the_gaps_of_a_merged_update() -> None:
    doc = Doc()
    text = doc.get("code", type=Text)
    updates = _edits_of(doc)
    for word in ("one ", "two ", "three"):
        text += word
    merged = pycrdt.merge_updates(updates[0], updates[2])  # "two " is a skip between them
    assert inserted_items(merged) == [
        ItemRange(doc.client_id, 0, 4),
        ItemRange(doc.client_id, 8, 5),
    ]


def test_encode_deletion_merges_ranges_and_deletes_only_those_items() -> None:
    doc = Doc()
    text = doc.get("code", type=Text)
    text += "0123456789"
    me = doc.client_id
    deletion = encode_deletion(
        [ItemRange(me, 4, 2), ItemRange(me, 2, 2), ItemRange(me, 5, 1), ItemRange(7, 0, 0)]
    )
    # No structs; one client (the empty range of client 7 is left out); one range, 2..5.
    assert deletion == bytes([0, 1]) + pycrdt.write_var_uint(me) + bytes([1, 2, 4])
    doc.apply_update(deletion)
    assert str(text) == "016789"
    elsewhere = Doc()  # a document without those items: the text does not change
    elsewhere.get("code", type=Text).insert(0, "kept")
    elsewhere.apply_update(deletion)
    assert str(elsewhere.get("code", type=Text)) == "kept"


@settings(max_examples=60, deadline=None)
@given(
    inserts=st.lists(
        # ASCII: pycrdt 0.14 splits non-ASCII text at byte offsets, and a document it then
        # holds no longer syncs, taken back or not (its own delete breaks it the same way).
        st.tuples(
            st.integers(min_value=0, max_value=40),
            st.text(st.characters(max_codepoint=0x7F), min_size=1, max_size=6),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_a_peer_shown_the_take_back_sees_the_room_and_shares_it_unchanged(
    inserts: list[tuple[int, str]],
) -> None:
    """Whatever a read-only peer inserts, taking it back leaves the peer's text the room's;
    the peer's next edits, once it may write, reach the room without the taken-back text."""
    room = Doc()
    room.get("code", type=Text).insert(0, "def main():\n    pass\n")
    peer = Doc()
    peer.apply_update(room.get_update())
    text = peer.get("code", type=Text)
    updates = _edits_of(peer)
    for index, value in inserts:
        text.insert(min(index, len(text)), value)
    for update in list(updates):
        items = inserted_items(update)
        assert items is not None
        deletion = deletion_of_lacking(items, room.get_state())
        assert deletion is not None  # every insert is new to the room
        peer.apply_update(deletion)
    assert str(text) == str(room.get("code", type=Text))
    text.insert(0, "# driving\n")  # allowed to write again: the room syncs with the peer
    room.apply_update(peer.get_update(room.get_state()))
    assert str(room.get("code", type=Text)) == str(text) == "# driving\ndef main():\n    pass\n"


def test_the_deletion_leaves_out_what_the_room_has() -> None:
    """Items the room has (a peer sending again what it wrote while it could) are kept."""
    room = Doc()
    peer = Doc()
    text = peer.get("code", type=Text)
    updates = _edits_of(peer)
    text += "written as driver; "
    room.apply_update(updates[0])
    assert deletion_of_lacking(inserted_items(updates[0]) or [], room.get_state()) is None
    text += "typed after"
    everything = peer.get_update()  # the driver's part and the part typed after
    assert inserted_items(everything) == [ItemRange(peer.client_id, 0, 30)]
    deletion = deletion_of_lacking(inserted_items(everything) or [], room.get_state())
    assert deletion is not None
    peer.apply_update(deletion)
    assert str(text) == "written as driver; "
