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


# Every item of the scrubbed update (decoded by Yjs) set against the item of the merged one it
# comes from: the same place (left and right origins, parent, key), its content, or deleted
# content where the delete set covers it. Prints the mismatches.
_SAME_PLACES = r"""
import * as Y from 'yjs'
import { readFileSync } from 'node:fs'
const [merged, scrubbed] = JSON.parse(readFileSync(0, 'utf8')).map((u) => Y.decodeUpdate(Buffer.from(u, 'base64')))
const id = (x) => (x ? [x.client, x.clock] : null)
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b)
const deleted = (client, clock) => merged.ds.clients.get(client)?.some((d) => d.clock <= clock && clock < d.clock + d.len)
const problems = []
let pieces = 0
for (const piece of scrubbed.structs) {
  if (!(piece instanceof Y.Item)) continue
  pieces++
  const { client, clock } = piece.id
  const from = merged.structs.find((s) => s.id.client === client && s.id.clock <= clock && clock < s.id.clock + s.length)
  const offset = clock - from.id.clock
  const origin = offset ? [client, clock - 1] : id(from.origin)
  const where = `${client}:${clock}`
  if (!same(id(piece.origin), origin)) problems.push(`${where} origin`)
  if (!same(id(piece.rightOrigin), id(from.rightOrigin))) problems.push(`${where} right origin`)
  if (piece.parentSub !== from.parentSub) problems.push(`${where} key`)
  if (!piece.origin && !piece.rightOrigin && !same(piece.parent, from.parent)) problems.push(`${where} parent`)
  if (piece.content instanceof Y.ContentDeleted) {
    for (let c = clock; c < clock + piece.length; c++) if (!deleted(client, c)) problems.push(`${where} kept ${c}`)
  } else {
    const whole = from.content.getContent(), part = piece.content.getContent()
    const expected = from.content instanceof Y.ContentString ? [from.content.str.slice(offset, offset + piece.length)] : whole.slice(offset, offset + piece.length)
    const got = piece.content instanceof Y.ContentString ? [piece.content.str] : part
    if (!same(got, expected) || piece.content.constructor !== from.content.constructor) problems.push(`${where} content`)
  }
}
const items = merged.structs.filter((s) => s instanceof Y.Item).length
console.log(JSON.stringify({ problems, pieces, items, skips: merged.structs.length - items }))
"""


# Two updates read by real Yjs, each followed by the same others: the same text (as UTF-16
# units), state vector, missing parts and delete set?
_SAME_IN_YJS = r"""
import * as Y from 'yjs'
import { readFileSync } from 'node:fs'
const [updates, ...then] = JSON.parse(readFileSync(0, 'utf8'))
const docs = updates.map((u) => {
  const doc = new Y.Doc()
  for (const update of [u, ...then]) Y.applyUpdate(doc, Buffer.from(update, 'base64'))
  const text = doc.getText('code').toString()
  return { units: Array.from(text, (c) => c.codePointAt(0)).concat([text.length]),
    sv: Array.from(Y.encodeStateVector(doc)),
    missing: Array.from(doc.store.pendingStructs?.missing ?? []),
    // (with pending parts, their encoding too: scrubbed in one of them)
    ds: Array.from(Y.encodeStateAsUpdate(doc, Y.encodeStateVector(doc))) }
})
const json = (doc, ...keys) => JSON.stringify(keys.map((key) => doc[key]))
console.log(JSON.stringify({
  same: json(docs[0], 'units', 'sv', 'missing', 'ds') === json(docs[1], 'units', 'sv', 'missing', 'ds'),
  shown: json(docs[0], 'units', 'sv', 'missing') === json(docs[1], 'units', 'sv', 'missing'), docs }))
"""


def _b64(update: bytes) -> str:
    return base64.b64encode(update).decode()


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


@pytest.mark.parametrize(("seed", "held_back"), [(5, False), (6, True), (7, True)])
def test_each_piece_keeps_the_place_of_the_item_it_comes_from(seed: int, held_back: bool) -> None:
    """Read by Yjs: every piece has its item's origins, parent and key, and its content or,
    where deleted, none. Held back: a fifth of the updates missing, so that the merge holds
    skips and pending items, as a room waiting for a lost update does."""
    session = _node(_SESSION, str(seed), "emoji")
    session_updates = [base64.b64decode(u) for u in session["updates"]]
    updates = [u for n, u in enumerate(session_updates) if not (held_back and n % 5 == 2)]
    merged = crdt.merge_updates(updates)

    scrubbed = scrub_deleted(merged)

    read = _node(_SAME_PLACES, stdin=json.dumps([_b64(merged), _b64(scrubbed)]))
    assert read["problems"] == []
    assert read["pieces"] > read["items"]  # items were cut
    assert (read["skips"] > 0) is held_back
    if held_back:  # the same document, waiting for the same parts
        same = _node(_SAME_IN_YJS, stdin=json.dumps([[_b64(merged), _b64(scrubbed)]]))
        assert same["shown"], same


def test_an_update_that_deletes_nothing_of_its_own_comes_back_as_it_is() -> None:
    for update in [*YJS_UPDATES[:3], crdt.EMPTY_UPDATE]:
        assert scrub_deleted(update) is update
    deletion = crdt.encode_deletion([crdt.ItemRange(7, 0, 5)])  # items it does not hold
    assert scrub_deleted(deletion) is deletion


@pytest.mark.parametrize(
    ("clock", "length", "gone", "emoji_kept"),
    [
        # Clocks: 0 "a", 1-6 "SECRET", 7-8 the emoji, 9 "W", 10 "d".
        pytest.param(1, 7, b"SECRET", True, id="to-the-first-half"),
        pytest.param(8, 2, b"W", True, id="from-the-second-half"),
        pytest.param(1, 8, "SECRET😀".encode(), False, id="over-the-emoji"),
    ],
)
def test_a_character_outside_the_bmp_cut_in_half_stays_whole(
    clock: int, length: int, gone: bytes, emoji_kept: bool
) -> None:
    """Yrs cannot hold half of a surrogate pair: a deletion that cuts an emoji in half
    leaves the emoji whole in the piece that keeps its content; the rest goes."""
    doc: pycrdt.Doc[Any] = pycrdt.Doc(client_id=9)
    updates: list[bytes] = []
    doc.observe(lambda event: updates.append(event.update))
    doc.get("code", type=pycrdt.Text).insert(0, "aSECRET😀Wd")
    merged = crdt.merge_updates(
        [*updates, crdt.encode_deletion([crdt.ItemRange(9, clock, length)])]
    )

    scrubbed = scrub_deleted(merged)

    assert gone in merged
    assert gone not in scrubbed
    assert ("😀".encode() in scrubbed) is emoji_kept
    crdt.validate_update(scrubbed, max_bytes=len(scrubbed))
    assert _loaded(scrubbed).get_state() == _loaded(merged).get_state()
    # (Yrs reads half a pair its own way, scrubbed or not: Yjs, the clients, is the judge.)
    read = _node(_SAME_IN_YJS, stdin=json.dumps([[_b64(merged), _b64(scrubbed)]]))
    assert read["same"], read


def test_bytes_that_are_no_update_are_refused() -> None:
    with pytest.raises(ProtocolError):
        scrub_deleted(b"\x01\x01\x05")
    with pytest.raises(ProtocolError):
        scrub_deleted(YJS_UPDATES[0] + b"\x00")
