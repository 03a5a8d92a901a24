"""Server-originated Yjs updates for a dojo room, computed from the room's current state.

Pure functions: bytes in, bytes out. Each builds a throwaway document from the room's state,
changes it, and returns only the delta, so peers' concurrent edits merge as usual;
:func:`renamed_state` returns a whole state instead, for a stored snapshot. The shared types
of a dojo room: the Y.Text ``code`` (the kata), the Y.Map ``dojo`` (status, timer, driver:
written only by the service) and the Y.Array ``chat`` (a live feed of the latest messages;
the REST list is the record).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Collection
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
    return _change(_doc(state), change)


def _change(doc: Doc[Any], change: Callable[[Doc[Any]], None]) -> bytes | None:
    """Apply ``change`` to ``doc`` in one transaction; return the delta, or None if none."""
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


RENAME_BYTES = 256 * 1024
"""How much of the feed one renaming update rewrites at most: the collab engine refuses
messages over a MiB, and a member's 200 messages of 2,000 characters (with their HTML) are
more than that."""


def rename_author(
    state: bytes,
    user_id: str,
    name: str,
    *,
    kept: Collection[str] | None = None,
    limit: int = RENAME_BYTES,
) -> bytes | None:
    """One update of at most about ``limit`` bytes of entries that gives ``user_id`` the
    name ``name`` wherever the room shows theirs, or None once nothing is left to change:
    call it again until then. Their messages in the live feed stay where they were, with
    their id, text and time; ``driver_name`` / ``next_driver_name`` in the ``dojo`` map
    change while they are that driver. It also mends what renames racing each other or a
    deletion leave: a second copy of an entry goes, and so does an entry of theirs whose
    message is not in ``kept`` (the ids of their messages that still exist), when given."""
    return _delta(state, _renaming(user_id, name, kept=kept, limit=limit))


def renamed_state(state: bytes, user_id: str, name: str) -> bytes | None:
    """The whole document with ``user_id`` named ``name`` (see :func:`rename_author`; every
    entry at once, none removed: a snapshot is history), re-encoded, or None when nothing
    names them. The encoding is a new document's: the renamed entries are new items, so a
    rewritten snapshot no longer shares them with the room's history.

    The replaced entries are deleted in the transaction, and Yrs collects deleted items
    when it commits (unless the document was made with ``skip_gc``): their content becomes
    a bare length, so the old name is not in the encoding (nor is deleted content that
    ``state`` still carried, from a document that kept it). An update-level merge
    (``pycrdt.merge_updates``) would keep it: it never integrates the structs, the delete set
    only marks them."""
    doc = _doc(state)
    if _change(doc, _renaming(user_id, name, kept=None, limit=None)) is None:
        return None
    return doc.get_update()


def _renaming(
    user_id: str, name: str, *, kept: Collection[str] | None, limit: int | None
) -> Callable[[Doc[Any]], None]:
    def change(doc: Doc[Any]) -> None:
        feed = doc.get(CHAT, type=Array)
        items = feed.to_py() or []
        first: dict[Any, int] = {}
        for index, item in enumerate(items):
            if isinstance(item, dict):
                first.setdefault(item.get("id"), index)
        spent = 0
        # From the end: a change at an index leaves the indexes before it as they were.
        for index in reversed(range(len(items))):
            item = items[index]
            if not isinstance(item, dict) or item.get("user_id") != user_id:
                continue
            if first[item.get("id")] != index or (kept is not None and item.get("id") not in kept):
                del feed[index]
                continue
            if item.get("name") == name:
                continue
            size = len(json.dumps(item))
            if limit is not None and spent and spent + size > limit:
                continue  # the next update's
            spent += size
            # A JSON entry is one item, so it is replaced whole: the new one inserted just
            # before it, whose right origin it is, then it deleted. A message appended
            # meanwhile (its left origin the old entry) still comes after.
            feed.insert(index, {**item, "name": name})
            del feed[index + 1]
        meta = doc.get(META, type=Map)
        shown = meta.to_py() or {}
        for who, named in (("driver", "driver_name"), ("next_driver", "next_driver_name")):
            if shown.get(who) == user_id and named in shown and shown[named] != name:
                meta[named] = name

    return change
