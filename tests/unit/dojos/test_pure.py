"""The dojo service's pure parts: Yjs edits, chat rendering, attribution, timer arithmetic."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pycrdt import Array, Doc, Text, merge_updates

from crdt import compact_updates
from platform_api.dojos import ydoc
from platform_api.dojos.chat import render
from platform_api.dojos.snapshots import attribute, unified_diff
from platform_api.dojos.timer import next_driver, remaining_ms

EMPTY = Doc().get_update()


def _state(code: str) -> bytes:
    update = ydoc.set_text(EMPTY, code)
    return update or EMPTY


@given(st.text(), st.text())
def test_set_text_turns_any_code_into_any_other(before: str, after: str) -> None:
    state = _state(before)
    doc: Doc = Doc()
    doc.apply_update(state)
    update = ydoc.set_text(state, after)
    if update is not None:
        doc.apply_update(update)
    assert str(doc.get("code", type=Text)) == after
    assert (update is None) == (before == after)


def test_restoring_keeps_a_concurrent_edit_elsewhere() -> None:
    base = _state("a = 1\nb = 2\nc = 3\n")
    peer: Doc = Doc()
    peer.apply_update(base)
    text = peer.get("code", type=Text)
    before = peer.get_state()
    text.insert(len(str(text).encode()), "d = 4\n")  # a peer appends, concurrently
    concurrent = peer.get_update(before)
    restore = ydoc.set_text(base, "a = 1\nb = 20\nc = 3\n")  # the service changes line 2
    assert restore is not None
    merged: Doc = Doc()
    for update in (base, restore, concurrent):
        merged.apply_update(update)
    assert str(merged.get("code", type=Text)) == "a = 1\nb = 20\nc = 3\nd = 4\n"


def test_meta_writes_only_what_changed_and_chat_feed_round_trips() -> None:
    state = ydoc.set_meta(EMPTY, {"driver": "u1", "remaining_ms": 3000}) or EMPTY
    assert ydoc.meta_of(state) == {"driver": "u1", "remaining_ms": 3000.0}
    assert ydoc.set_meta(state, {"driver": "u1", "remaining_ms": 3000}) is None
    doc: Doc = Doc()
    doc.apply_update(state)
    doc.apply_update(ydoc.chat_append(state, {"id": "m1", "text": "hi"}) or EMPTY)
    with_message = doc.get_update()
    assert [m["id"] for m in ydoc.chat_of(with_message)] == ["m1"]
    doc.apply_update(ydoc.chat_remove(with_message, "m1") or EMPTY)
    assert ydoc.chat_of(doc.get_update()) == []
    assert ydoc.chat_remove(doc.get_update(), "m1") is None


NAME = "Zelda Quux"  # the departed member's name, as it was
ZELDA, OWNER = "u-zelda", "u-owner"


def _message(n: int, user_id: str, name: str) -> dict[str, str]:
    return {"id": f"m{n}", "user_id": user_id, "name": name, "text": f"say {n}", "at": f"t{n}"}


def _room(*, skip_gc: bool = False) -> tuple[Doc, list[bytes]]:
    """A room where the member wrote two messages around the owner's and drives, written as
    the service writes it: one update per change (what the engine's log keeps)."""
    doc: Doc = Doc(skip_gc=skip_gc)
    updates: list[bytes] = []
    for change in (
        lambda s: ydoc.chat_append(s, _message(1, ZELDA, NAME)),
        lambda s: ydoc.chat_append(s, _message(2, OWNER, "Owner Person")),
        lambda s: ydoc.chat_append(s, _message(3, ZELDA, NAME)),
        lambda s: ydoc.set_meta(
            s,
            {
                "driver": ZELDA,
                "driver_name": NAME,
                "next_driver": OWNER,
                "next_driver_name": "Owner Person",
            },
        ),
    ):
        update = change(doc.get_update())
        assert update is not None
        doc.apply_update(update)
        updates.append(update)
    return doc, updates


@pytest.mark.parametrize("attempt", range(8))  # client ids, and so ties, vary per document
def test_renaming_an_author_keeps_their_messages_where_they_were(attempt: int) -> None:
    room, _ = _room()
    state = room.get_update()
    # Posted after the service read the state, before its update arrives.
    room.get("chat", type=Array).append(_message(4, OWNER, "Owner Person"))
    rename = ydoc.rename_author(state, ZELDA, "Former member")
    assert rename is not None
    assert NAME.encode() not in rename
    room.apply_update(rename)
    after = room.get_update()
    assert ydoc.chat_of(after) == [
        _message(1, ZELDA, "Former member"),
        _message(2, OWNER, "Owner Person"),
        _message(3, ZELDA, "Former member"),
        _message(4, OWNER, "Owner Person"),
    ]
    assert ydoc.meta_of(after) == {
        "driver": ZELDA,
        "driver_name": "Former member",
        "next_driver": OWNER,
        "next_driver_name": "Owner Person",
    }
    # The room's document collected the replaced entries: its state no longer names them.
    assert NAME.encode() not in after
    assert ydoc.rename_author(after, ZELDA, "Former member") is None
    assert ydoc.rename_author(after, OWNER, "Owner Person") is None


def test_a_large_feed_is_renamed_in_updates_of_a_bounded_size() -> None:
    state = EMPTY
    for n in range(40):
        entry = {**_message(n, ZELDA if n % 4 else OWNER, NAME), "text": "x" * 2000}
        state = _applied(state, ydoc.chat_append(state, entry))
    updates = 0
    while (rename := ydoc.rename_author(state, ZELDA, "Former member", limit=10_000)) is not None:
        assert len(rename) < 2 * 10_000  # (an entry is about 2 KB: a few a round)
        state = _applied(state, rename)
        updates += 1
    assert updates > 5
    names = [(m["id"], m["name"]) for m in ydoc.chat_of(state)]
    assert names == [
        (f"m{n}", "Former member" if n % 4 else NAME) for n in range(40)
    ]  # (the owner's entries keep the name given: this one is only a fixture)


def _applied(state: bytes, update: bytes | None) -> bytes:
    doc: Doc = Doc()
    doc.apply_update(state)
    if update is not None:
        doc.apply_update(update)
    return doc.get_update()


def test_a_rename_again_mends_what_racing_renames_and_a_deletion_left() -> None:
    room, _ = _room()
    state = room.get_update()
    # Two erasures read the same state, and a moderator deleted m3 meanwhile: each rename
    # copies the entries, and m3's copy outlives the deletion.
    for update in (
        ydoc.rename_author(state, ZELDA, "Former member"),
        ydoc.rename_author(state, ZELDA, "Former member"),
        ydoc.chat_remove(state, "m3"),
    ):
        assert update is not None
        room.apply_update(update)
    raced = [m["id"] for m in ydoc.chat_of(room.get_update())]
    assert raced.count("m1") == 2
    assert "m3" in raced
    mend = ydoc.rename_author(room.get_update(), ZELDA, "Former member", kept={"m1"})
    assert mend is not None
    room.apply_update(mend)
    assert ydoc.chat_of(room.get_update()) == [
        _message(1, ZELDA, "Former member"),
        _message(2, OWNER, "Owner Person"),
    ]
    assert ydoc.rename_author(room.get_update(), ZELDA, "Former member", kept={"m1"}) is None


def test_the_next_driver_is_renamed_too_and_no_one_else() -> None:
    meta = {"driver": OWNER, "driver_name": NAME, "next_driver": ZELDA, "next_driver_name": NAME}
    state = ydoc.set_meta(EMPTY, meta) or EMPTY
    renamed = ydoc.meta_of(ydoc.renamed_state(state, ZELDA, "Former member") or EMPTY)
    # The driver's name is left: ``driver`` is someone else, whatever their name.
    assert renamed == {**meta, "next_driver_name": "Former member"}
    assert ydoc.rename_author(EMPTY, ZELDA, "Former member") is None


@pytest.mark.parametrize("skip_gc", [False, True])
def test_a_renamed_snapshot_holds_no_byte_of_the_old_name(skip_gc: bool) -> None:
    room, _ = _room(skip_gc=skip_gc)
    # A message of theirs that was deleted (in a document that keeps deleted content, its
    # bytes are still in the state).
    removed = ydoc.chat_remove(room.get_update(), "m3")
    assert removed is not None
    room.apply_update(removed)
    state = room.get_update()
    assert state.count(NAME.encode()) == (3 if skip_gc else 2)
    rewritten = ydoc.renamed_state(state, ZELDA, "Former member")
    assert rewritten is not None
    assert NAME.encode() not in rewritten
    assert ydoc.chat_of(rewritten) == [
        _message(1, ZELDA, "Former member"),
        _message(2, OWNER, "Owner Person"),
    ]
    assert ydoc.meta_of(rewritten)["driver_name"] == "Former member"
    assert ydoc.text_of(rewritten) == ydoc.text_of(state)
    # A merge of the state and the delta would still carry the deleted entries whole.
    delta = ydoc.rename_author(state, ZELDA, "Former member")
    assert delta is not None
    assert NAME.encode() in merge_updates(state, delta)
    assert ydoc.renamed_state(rewritten, ZELDA, "Former member") is None


def test_compacting_the_room_log_after_a_rename_drops_the_old_name() -> None:
    """The collab engine's log keeps the update that added each message; its compaction
    re-encodes the document they make, in which the replaced entries are collected."""
    room, updates = _room()
    rename = ydoc.rename_author(room.get_update(), ZELDA, "Former member")
    assert rename is not None
    assert any(NAME.encode() in update for update in updates)
    assert NAME.encode() not in compact_updates([*updates, rename])


@given(
    st.lists(
        st.tuples(st.sampled_from([ZELDA, OWNER, "u-other"]), st.sampled_from([NAME, "Ana", ""])),
        max_size=12,
    )
)
def test_renaming_changes_only_the_author_s_names(authors: list[tuple[str, str]]) -> None:
    doc: Doc = Doc()
    for n, (user_id, name) in enumerate(authors):
        doc.apply_update(ydoc.chat_append(doc.get_update(), _message(n, user_id, name)) or EMPTY)
    state = doc.get_update()
    rewritten = ydoc.renamed_state(state, ZELDA, "Former member") or state
    expected = [
        _message(n, user_id, "Former member" if user_id == ZELDA else name)
        for n, (user_id, name) in enumerate(authors)
    ]
    assert ydoc.chat_of(rewritten) == expected
    delta = ydoc.rename_author(state, ZELDA, "Former member")
    assert (delta is None) == all(user_id != ZELDA for user_id, _ in authors)


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
        ("**bold** and *it* and _it_", "<strong>bold</strong> and <em>it</em> and <em>it</em>"),
        ("`<b>**x**</b>`", "<code>&lt;b&gt;**x**&lt;/b&gt;</code>"),
        ("a `b", "a `b"),
        ('"quotes" & amps', "&quot;quotes&quot; &amp; amps"),
        ("line\nbreak", "line<br>break"),
        ("[link](javascript:alert(1))", "[link](javascript:alert(1))"),
        ("2 * 3 * 4", "2 * 3 * 4"),
    ],
)
def test_chat_markdown_is_escaped_first(text: str, html: str) -> None:
    assert render(text) == html


@given(st.text())
def test_chat_output_never_holds_markup_of_its_own(text: str) -> None:
    out = render(text)
    for tag in ("<code>", "</code>", "<strong>", "</strong>", "<em>", "</em>", "<br>"):
        out = out.replace(tag, "")
    assert "<" not in out
    assert ">" not in out


def test_attribution_follows_the_driver_of_each_interval() -> None:
    bill, ana = uuid.uuid4(), uuid.uuid4()
    snaps = [
        {"code": "def f():\n    pass\n", "driver_id": None},  # the starting code
        {"code": "def f():\n    return 1\n", "driver_id": bill},
        {"code": "# doc\ndef f():\n    return 1\n", "driver_id": ana},
        {"code": "# doc\ndef f():\n    return 1\n", "driver_id": bill},  # no change
    ]
    assert attribute(snaps) == [("# doc", ana), ("def f():", None), ("    return 1", bill)]


def test_timer_arithmetic() -> None:
    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    now = datetime.now(UTC)
    dojo = {
        "format": "randori",
        "status": "active",
        "rotation_order": [a, b, c],
        "driver_id": c,
        "timer_state": "running",
        "turn_due_at": now + timedelta(seconds=90),
        "turn_remaining_ms": None,
    }
    assert next_driver(dojo) == a
    assert remaining_ms(dojo, now) == 90_000  # type: ignore[arg-type]
    assert remaining_ms({**dojo, "turn_due_at": now - timedelta(seconds=1)}, now) == 0  # type: ignore[arg-type]
    paused = {**dojo, "timer_state": "paused", "turn_remaining_ms": 1234}
    assert remaining_ms(paused, now) == 1234  # type: ignore[arg-type]
    assert next_driver({**dojo, "driver_id": uuid.uuid4()}) == a
    assert next_driver({**dojo, "format": "free"}) is None
    assert next_driver({**dojo, "rotation_order": []}) is None
    assert next_driver({**dojo, "status": "ended"}) is None  # nobody drives an ended dojo


def test_a_diff_marks_a_last_line_without_its_newline() -> None:
    text = unified_diff("a\nb", "a\nb\nc\n", "before", "after")
    assert text.splitlines() == [
        "--- before",
        "+++ after",
        "@@ -1,2 +1,3 @@",
        " a",
        "-b",
        "\\ No newline at end of file",
        "+b",
        "+c",
    ]
    # What diff -u says; a line break inside a line (\r) is not the end of a line.
    assert unified_diff("x\ry\n", "x\ry\n", "1", "2") == ""
    assert "+x\ry\n" in unified_diff("", "x\ry\n", "1", "2")
