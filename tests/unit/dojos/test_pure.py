"""The dojo service's pure parts: Yjs edits, chat rendering, attribution, timer arithmetic."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pycrdt import Doc, Text

from platform_api.dojos import ydoc
from platform_api.dojos.chat import render
from platform_api.dojos.snapshots import attribute
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
