"""Dropping deleted content from a merged update: the same document, without the old bytes.

The updates come from real Yjs (npm ``yjs``, three clients editing a text with emoji, a
map and an array) and are read back by real Yjs and by Yrs.
"""

from __future__ import annotations

import base64
import json
import subprocess
from typing import Any

import pycrdt
import pytest
from crdt_samples import YJS_UPDATES

import crdt
from crdt import ProtocolError
from crdt.scrub import scrub_deleted
from loadtests.servers import JS_DIR
from tests.harness.yjs_client import require_node

# Three clients edit in turns (seeded); every word "secret-<n>", every array entry and map
# value naming one is deleted whole by then. A "later" update, made after, builds on items
# the deletions left (and deleted ones too: inserts at random places).
_SESSION = r"""
import * as Y from 'yjs'
const seed = Number(process.argv[1])
const emoji = process.argv[2] === 'emoji' ? '😀' : 'ç'
let state = seed
const random = () => { state = (state * 1103515245 + 12345) % 2147483648; return state / 2147483648 }
const pick = (list) => list[Math.floor(random() * list.length)]
// Where an editor puts the cursor: never between the halves of a character outside the BMP.
const snap = (s, at) => (at > 0 && at < s.length && (s.charCodeAt(at) & 0xfc00) === 0xdc00 ? at - 1 : at)
// The text as positions count it: an embed is one place.
const plain = (text) => text.toDelta().map(({ insert }) => (typeof insert === 'string' ? insert : '\u0001')).join('')
const place = (text) => snap(plain(text), Math.floor(random() * (text.length + 1)))
const docs = [1, 2, 3].map((id) => { const d = new Y.Doc(); d.clientID = id; return d })
const updates = []
for (const d of docs) d.on('update', (u, origin) => {
  if (origin === 'remote') return
  updates.push(u)
  for (const other of docs) if (other !== d) Y.applyUpdate(other, u, 'remote')
})
let secrets = 0
for (let step = 0; step < 400; step++) {
  const d = pick(docs)
  const text = d.getText('code'), map = d.getMap('state'), feed = d.getArray('feed')
  const roll = random()
  if (roll < 0.35) {
    text.insert(place(text), pick(['a', 'bc ', emoji, 'é', `x${emoji}y`, '\n']))
  } else if (roll < 0.5 && text.length) {
    const s = plain(text), at = snap(s, Math.floor(random() * s.length))
    let end = Math.min(s.length, at + 1 + Math.floor(random() * 4))
    if (snap(s, end) !== end) end += 1
    text.delete(at, end - at)
  } else if (roll < 0.6) {
    const word = `secret-${secrets++}`
    text.insert(place(text), word)
    const at = plain(text).indexOf(word)
    if (random() < 0.9) text.delete(at, word.length)  // else: another client deletes it later
  } else if (roll < 0.7) {
    const name = `secret-${secrets++}`
    feed.insert(Math.floor(random() * (feed.length + 1)), [{ by: name, text: `hi ${emoji}` }, pick([1, 'ok', null])])
  } else if (roll < 0.75) {
    text.insertEmbed(place(text), { image: `secret-${secrets++}.png` })
  } else if (roll < 0.8) {
    map.set(pick(['driver_name', 'next_driver_name']), `secret-${secrets++}`)
    map.set(pick(['driver_name', 'next_driver_name']), pick(['Ana', 'Bill', emoji]))
  } else {
    const s = plain(text), at = s.indexOf('secret-')
    if (at >= 0) text.delete(at, s.slice(at).match(/^secret-\d*/)[0].length)
  }
}
// Every secret goes: the words left in the text, entries of the feed, the map's values.
for (const d of docs.slice(0, 1)) {
  const text = d.getText('code'), feed = d.getArray('feed'), map = d.getMap('state')
  for (let at; (at = plain(text).indexOf('secret-')) >= 0;)
    text.delete(at, plain(text).slice(at).match(/^secret-\d*/)[0].length)
  for (let at; (at = plain(text).indexOf('\u0001')) >= 0;) text.delete(at, 1)
  for (let i = feed.length - 1; i >= 0; i--)
    if (JSON.stringify(feed.get(i)).includes('secret-')) feed.delete(i, 1)
  for (const key of ['driver_name', 'next_driver_name']) if (map.has(key)) map.set(key, 'Former member')
}
const before = docs[0].toJSON()
const session = updates.length
for (let step = 0; step < 30; step++) {
  const text = docs[1].getText('code')
  text.insert(place(text), pick(['L', emoji, 'later ']))
}
const later = Y.mergeUpdates(updates.slice(session))
const b64 = (u) => Buffer.from(u).toString('base64')
console.log(JSON.stringify({
  updates: updates.slice(0, session).map(b64), later: b64(later),
  before, after: docs[0].toJSON(),
}))
"""

_READ_BACK = r"""
import * as Y from 'yjs'
import { readFileSync } from 'node:fs'
const { update, later } = JSON.parse(readFileSync(0, 'utf8'))
const doc = new Y.Doc()
for (const name of ['code']) doc.getText(name)
doc.getMap('state'); doc.getArray('feed')
Y.applyUpdate(doc, Buffer.from(update, 'base64'))
const before = doc.toJSON()
Y.applyUpdate(doc, Buffer.from(later, 'base64'))
console.log(JSON.stringify({ before, after: doc.toJSON(), pending: doc.store.pendingStructs !== null }))
"""


def _node(script: str, *args: str, stdin: str = "") -> Any:
    done = subprocess.run(
        [require_node(), "--input-type=module", "-e", script, *args],
        cwd=JS_DIR,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout)


def _view(doc: pycrdt.Doc[Any]) -> dict[str, Any]:
    return {
        "code": str(doc.get("code", type=pycrdt.Text)),
        "state": doc.get("state", type=pycrdt.Map).to_py(),
        "feed": doc.get("feed", type=pycrdt.Array).to_py(),
    }


def _loaded(*updates: bytes) -> pycrdt.Doc[Any]:
    doc: pycrdt.Doc[Any] = pycrdt.Doc()
    for update in updates:
        doc.apply_update(update)
    return doc


@pytest.mark.parametrize(("seed", "emoji"), [(1, True), (2, True), (3, True), (4, False)])
def test_a_merged_yjs_session_keeps_its_document_and_loses_what_it_deleted(
    seed: int, emoji: bool
) -> None:
    session = _node(_SESSION, str(seed), "emoji" if emoji else "bmp")
    updates = [base64.b64decode(u) for u in session["updates"]]
    later = base64.b64decode(session["later"])
    merged = crdt.merge_updates(updates)
    assert b"secret-" in merged  # merging keeps every deleted item's content

    scrubbed = scrub_deleted(merged)

    assert b"secret-" not in scrubbed
    assert len(scrubbed) < len(merged)
    crdt.validate_update(scrubbed, max_bytes=len(scrubbed))
    # Real Yjs reads the same document from it, and later edits land as on the original.
    read = _node(
        _READ_BACK,
        stdin=json.dumps(
            {"update": base64.b64encode(scrubbed).decode(), "later": session["later"]}
        ),
    )
    assert read == {"before": session["before"], "after": session["after"], "pending": False}
    # So does Yrs, with the same state vector.
    assert _loaded(scrubbed).get_state() == _loaded(merged).get_state()
    assert _view(_loaded(scrubbed)) == session["before"]
    assert _view(_loaded(scrubbed, later)) == session["after"]


def test_an_update_that_deletes_nothing_of_its_own_comes_back_as_it_is() -> None:
    for update in [*YJS_UPDATES[:3], crdt.EMPTY_UPDATE]:
        assert scrub_deleted(update) is update
    deletion = crdt.encode_deletion([crdt.ItemRange(7, 0, 5)])  # items it does not hold
    assert scrub_deleted(deletion) is deletion


def test_a_string_is_not_cut_inside_a_character_outside_the_bmp() -> None:
    """A deletion ending between the two halves of an emoji leaves that item as it was."""
    doc: pycrdt.Doc[Any] = pycrdt.Doc(client_id=9)
    updates: list[bytes] = []
    doc.observe(lambda event: updates.append(event.update))
    doc.get("code", type=pycrdt.Text).insert(0, "ab😀cd")
    # Clocks 0-1 "ab", 2-3 the emoji, 4-5 "cd": delete clocks 1 and 2 (b and half the emoji).
    half = crdt.encode_deletion([crdt.ItemRange(9, 1, 2)])
    merged = crdt.merge_updates([*updates, half])
    assert scrub_deleted(merged) == merged
    whole = crdt.merge_updates([*updates, crdt.encode_deletion([crdt.ItemRange(9, 1, 3)])])
    scrubbed = scrub_deleted(whole)
    assert "b😀".encode() not in scrubbed
    assert b"cd" in scrubbed
    assert (
        _view(_loaded(scrubbed))
        == _view(_loaded(whole))
        == {"code": "acd", "state": {}, "feed": []}
    )


def test_bytes_that_are_no_update_are_refused() -> None:
    with pytest.raises(ProtocolError):
        scrub_deleted(b"\x01\x01\x05")
    with pytest.raises(ProtocolError):
        scrub_deleted(YJS_UPDATES[0] + b"\x00")
