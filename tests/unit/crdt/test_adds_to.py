"""Whether an update holds anything a document lacks: what a read-only peer's refused update
is judged by (a reconnecting client sends its whole delete set, which may hold nothing new)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from pycrdt import Doc, Text

from crdt import adds_to, deleted_ranges

# (insert?, position as a fraction of the text, ASCII text or length to delete)
EDIT = st.tuples(st.booleans(), st.floats(0, 1), st.text("abcxyz \n", min_size=1, max_size=5))


def _edit(doc: Doc, edit: tuple[bool, float, str]) -> None:
    insert, where, value = edit
    text = doc.get("code", type=Text)
    at = int(where * len(text))
    if insert:
        text.insert(at, value)
    elif len(text):
        del text[at : min(len(text), at + len(value))]


def _seen(doc: Doc) -> tuple[str, bytes]:
    return str(doc.get("code", type=Text)), doc.get_state()


def _judge(room: Doc, update: bytes) -> bool:
    return adds_to(update, room.get_state(), lambda: _deleted(room))


def _deleted(doc: Doc) -> dict[int, list[tuple[int, int]]]:
    return deleted_ranges(doc.get_update(doc.get_state()))


def test_the_document_s_delete_set_is_read_only_when_a_deletion_needs_it() -> None:
    room = Doc()
    room.get("code", type=Text).insert(0, "hello")
    peer = Doc()
    peer.apply_update(room.get_update())
    asked: list[Doc] = []

    def deleted() -> dict[int, list[tuple[int, int]]]:
        asked.append(room)
        return _deleted(room)

    peer.get("code", type=Text).insert(5, "!")  # an item past the room's state vector
    assert adds_to(peer.get_update(room.get_state()), room.get_state(), deleted)
    assert asked == []
    other = Doc()
    other.apply_update(room.get_update())
    del other.get("code", type=Text)[0:1]  # only a deletion, of an item the room has
    assert adds_to(other.get_update(room.get_state()), room.get_state(), deleted)
    assert asked == [room]


@settings(max_examples=120, deadline=None)
@given(
    history=st.lists(EDIT, max_size=25),
    mine=st.lists(EDIT, max_size=4),
    whole=st.booleans(),
)
def test_adds_to_says_whether_the_update_changes_the_document(
    history: list[tuple[bool, float, str]], mine: list[tuple[bool, float, str]], whole: bool
) -> None:
    """A peer synced with the room makes edits (maybe none) and sends what the room lacks
    (as a sync step 2 answers, delete set whole) or everything it has: the update adds to
    the room exactly when applying it changes the room's text or state vector."""
    room = Doc()
    for edit in history:
        _edit(room, edit)
    peer = Doc()
    peer.apply_update(room.get_update())
    for edit in mine:
        _edit(peer, edit)
    update = peer.get_update() if whole else peer.get_update(room.get_state())
    before = _seen(room)
    judged = _judge(room, update)
    copy = Doc()
    copy.apply_update(room.get_update())
    copy.apply_update(update)
    assert judged == (_seen(copy) != before)


def test_a_deletion_the_room_has_made_adds_nothing_and_one_it_has_not_does() -> None:
    room = Doc()
    text = room.get("code", type=Text)
    text += "hello world"
    del text[5:11]
    peer = Doc()
    peer.apply_update(room.get_update())
    assert not _judge(room, peer.get_update(room.get_state()))  # the reconnect answer
    del peer.get("code", type=Text)[0:1]
    assert _judge(room, peer.get_update(room.get_state()))


def test_deleted_ranges_are_sorted_and_merged_per_client() -> None:
    doc = Doc()
    text = doc.get("code", type=Text)
    text += "0123456789"
    del text[6:8]  # "67"
    del text[2:4]  # "23"
    del text[2:4]  # "45": with the two before, clocks 2 to 7
    del text[3:4]  # "9"
    assert str(text) == "018"
    assert deleted_ranges(doc.get_update(doc.get_state())) == {doc.client_id: [(2, 8), (9, 10)]}
