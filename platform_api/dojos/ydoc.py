"""Server-originated Yjs updates for a dojo room, computed from the room's current state.

Pure functions: bytes in, bytes out. Each builds a throwaway document from the room's state,
changes it, and returns only the delta, so peers' concurrent edits merge as usual. The
shared types of a dojo room: the Y.Text ``code`` (the kata), the Y.Map ``dojo`` (status,
timer, driver: written only by the service) and the Y.Array ``chat`` (a live feed of the
latest messages; the REST list is the record).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

from pycrdt import Array, Doc, Map, Text

CODE = "code"
META = "dojo"
CHAT = "chat"
CHAT_FEED_LENGTH = 200


def _doc(state: bytes) -> Doc[Any]:
    doc: Doc[Any] = Doc()
    if state:
        doc.apply_update(state)
    return doc


def _delta(state: bytes, change: Callable[[Doc[Any]], None]) -> bytes | None:
    doc = _doc(state)
    before = doc.get_state()
    # An update "since before" still carries the whole delete set: compare with the one
    # made before the change (deletions alone leave the state vector as it was).
    unchanged = doc.get_update(before)
    with doc.transaction():
        change(doc)
    after = doc.get_update(before)
    return None if after == unchanged else after


def text_of(state: bytes) -> str:
    """The code as the room holds it."""
    return str(_doc(state).get(CODE, type=Text))


def meta_of(state: bytes) -> dict[str, Any]:
    return _doc(state).get(META, type=Map).to_py() or {}


def chat_of(state: bytes) -> list[Any]:
    return _doc(state).get(CHAT, type=Array).to_py() or []


def set_text(state: bytes, target: str) -> bytes | None:
    """The smallest line-level edit that turns the room's code into ``target`` (or None).

    Unchanged lines are kept as they are, so edits elsewhere merge and history stays useful.
    pycrdt indexes text by UTF-8 bytes, hence the byte offsets.
    """

    def change(doc: Doc[Any]) -> None:
        text = doc.get(CODE, type=Text)
        current = str(text)
        old, new = current.splitlines(keepends=True), target.splitlines(keepends=True)
        offsets = [0]
        for line in old:
            offsets.append(offsets[-1] + len(line.encode()))
        opcodes = difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes()
        for tag, i1, i2, j1, j2 in reversed(opcodes):
            if tag == "equal":
                continue
            if i2 > i1:
                del text[offsets[i1] : offsets[i2]]
            if j2 > j1:
                text.insert(offsets[i1], "".join(new[j1:j2]))

    return _delta(state, change)


def set_meta(state: bytes, values: dict[str, Any]) -> bytes | None:
    """Write ``values`` into the ``dojo`` map (only keys whose value changed)."""

    def change(doc: Doc[Any]) -> None:
        meta = doc.get(META, type=Map)
        for key, value in values.items():
            if key not in meta or _plain(meta[key]) != _plain(value):
                meta[key] = value

    return _delta(state, change)


def _plain(value: Any) -> Any:
    # Yjs stores numbers as floats: compare 3 and 3.0 as equal.
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def chat_append(state: bytes, entry: dict[str, Any]) -> bytes | None:
    """Append a message to the live feed, dropping the oldest beyond its length."""

    def change(doc: Doc[Any]) -> None:
        feed = doc.get(CHAT, type=Array)
        feed.append(entry)
        excess = len(feed) - CHAT_FEED_LENGTH
        if excess > 0:
            del feed[0:excess]

    return _delta(state, change)


def chat_remove(state: bytes, message_id: str) -> bytes | None:
    """Remove a message from the live feed (if it is still there)."""

    def change(doc: Doc[Any]) -> None:
        feed = doc.get(CHAT, type=Array)
        for index in reversed(range(len(feed))):
            item = feed[index]
            if isinstance(item, dict) and item.get("id") == message_id:
                del feed[index]

    return _delta(state, change)
