"""Round trips through real pycrdt documents, and byte-level compatibility with pycrdt and Yjs."""

from __future__ import annotations

from typing import Any

import pycrdt
import pytest
from crdt_samples import (
    YJS_MSG_AUTH,
    YJS_MSG_AWARENESS,
    YJS_MSG_AWARENESSREMOVAL,
    YJS_MSG_QUERY,
    YJS_MSG_STEP1,
    YJS_MSG_UPDATE,
    YJS_NESTED_UPDATES,
    YJS_TEXT,
    YJS_UPDATES,
    nested_doc_updates,
    new_doc,
    sample_doc,
)
from pycrdt import (
    Awareness,
    create_awareness_message,
    create_sync_message,
    create_update_message,
    handle_sync_message,
    is_awareness_disconnect_message,
    read_message,
)

import crdt
from crdt import (
    Auth,
    AwarenessEntry,
    AwarenessUpdate,
    CloseCode,
    ProtocolError,
    QueryAwareness,
    SyncStep1,
    SyncStep2,
    SyncUpdate,
    parse_message,
)

LIMIT = 1 << 20


def parse(data: bytes) -> crdt.Message:
    return parse_message(data, max_update_bytes=LIMIT)


def text_of(doc: pycrdt.Doc[Any]) -> str:
    return str(doc.get("t", type=pycrdt.Text))


def clocks(doc: pycrdt.Doc[Any]) -> dict[int, int]:
    return crdt.decode_state_vector(crdt.state_vector(doc), max_bytes=LIMIT)


def sync(a: pycrdt.Doc[Any], b: pycrdt.Doc[Any]) -> None:
    """Run the y-websocket handshake both ways, every message through parse_message."""
    for src, dst in ((a, b), (b, a)):
        step1 = parse(crdt.sync_step1_for_doc(dst))
        assert isinstance(step1, SyncStep1)
        step2 = parse(crdt.sync_step2_for_doc(src, step1.state_vector))
        assert isinstance(step2, SyncStep2)
        crdt.apply_update_to_doc(dst, step2.update, max_bytes=None, origin="peer")


def test_two_docs_converge_through_handshake() -> None:
    a, b = sample_doc(client_id=1), new_doc(2)
    b.get("t", type=pycrdt.Text).insert(0, "B says hi. ")
    sync(a, b)
    assert text_of(a) == text_of(b)
    assert a.get("a", type=pycrdt.Array).to_py() == b.get("a", type=pycrdt.Array).to_py()
    assert clocks(a) == clocks(b) == {1: clocks(a)[1], 2: clocks(b)[2]}


def test_incremental_updates_converge() -> None:
    a, b = new_doc(1), new_doc(2)
    outbox: list[bytes] = []
    a.observe(lambda event: outbox.append(crdt.encode_update(event.update)))
    text = a.get("t", type=pycrdt.Text)
    for word in ("alpha ", "beta ", "gamma"):
        text += word
    del text[0:6]
    for wire in outbox:
        message = parse(wire)
        assert isinstance(message, SyncUpdate)
        crdt.apply_update_to_doc(b, message.update, max_bytes=LIMIT, origin="client-a")
    assert text_of(b) == "beta gamma"
    assert clocks(a) == clocks(b)


def test_server_in_the_middle_with_pycrdt_clients() -> None:
    """Clients use pycrdt's own sync functions; the server only uses this module."""
    server, client = new_doc(10), sample_doc(client_id=11)
    server.get("t", type=pycrdt.Text).insert(0, "server ")
    hello = parse(create_sync_message(client))
    assert isinstance(hello, SyncStep1)
    reply = crdt.sync_step2_for_doc(server, hello.state_vector, max_bytes=LIMIT)
    assert handle_sync_message(reply[1:], client) is None  # the client applies it
    answer = handle_sync_message(crdt.sync_step1_for_doc(server)[1:], client)
    assert answer is not None
    step2 = parse(answer)
    assert isinstance(step2, SyncStep2)
    crdt.apply_update_to_doc(server, step2.update, max_bytes=LIMIT)
    assert text_of(server) == text_of(client)
    assert clocks(server) == clocks(client)


def test_yjs_updates_apply_to_pycrdt() -> None:
    doc = new_doc()
    for update in YJS_UPDATES:
        crdt.apply_update_to_doc(doc, update, max_bytes=LIMIT)
    assert text_of(doc) == YJS_TEXT
    merged = crdt.merge_updates(YJS_UPDATES)
    crdt.validate_update(merged, max_bytes=LIMIT)
    again = new_doc()
    crdt.apply_update_to_doc(again, merged, max_bytes=LIMIT)
    assert text_of(again) == YJS_TEXT
    assert clocks(again) == clocks(doc)


@pytest.mark.parametrize(
    "update",
    [pytest.param(update, id=name) for name, update in nested_doc_updates()]
    + [pytest.param(update, id=f"yjs_{i}") for i, update in enumerate(YJS_NESTED_UPDATES)],
)
def test_nested_shared_types_are_refused(update: bytes) -> None:
    """Rooms hold root-level types only: a type inside another one, or an item inside such
    a type, is unsupported data, as an update and as a sync message."""
    with pytest.raises(ProtocolError, match="nested shared types are not supported") as caught:
        crdt.validate_update(update, max_bytes=LIMIT)
    assert caught.value.code == CloseCode.UNSUPPORTED_DATA
    for message in (crdt.encode_update(update), crdt.encode_sync_step2(update)):
        with pytest.raises(ProtocolError) as caught:
            parse(message)
        assert caught.value.code == CloseCode.UNSUPPORTED_DATA


def test_yjs_messages_parse_and_reencode_byte_for_byte() -> None:
    step1 = parse(YJS_MSG_STEP1)
    assert isinstance(step1, SyncStep1)
    assert crdt.encode_sync_step1(step1.state_vector) == YJS_MSG_STEP1
    update = parse(YJS_MSG_UPDATE)
    assert isinstance(update, SyncUpdate)
    assert crdt.encode_update(update.update) == YJS_MSG_UPDATE
    awareness = parse(YJS_MSG_AWARENESS)
    assert isinstance(awareness, AwarenessUpdate)
    (entry,) = awareness.entries
    assert entry.state == {"user": {"name": "Zoë 😀", "color": "#f00"}, "cursor": None}
    assert crdt.encode_awareness(awareness.entries) == YJS_MSG_AWARENESS
    removal = parse(YJS_MSG_AWARENESSREMOVAL)
    assert isinstance(removal, AwarenessUpdate)
    assert removal.entries[0].removed
    assert parse(YJS_MSG_QUERY) == QueryAwareness()
    assert crdt.encode_query_awareness() == YJS_MSG_QUERY
    assert parse(YJS_MSG_AUTH) == Auth(0, "nope é")
    assert crdt.encode_permission_denied("nope é") == YJS_MSG_AUTH


def test_encoders_match_pycrdt_bytes() -> None:
    doc, peer = sample_doc(), new_doc()
    peer.get("t", type=pycrdt.Text).insert(0, "x")
    update = doc.get_update()
    assert crdt.sync_step1_for_doc(doc) == create_sync_message(doc)
    assert crdt.encode_sync_step1(crdt.state_vector(doc)) == create_sync_message(doc)
    assert crdt.encode_update(update) == create_update_message(update)
    expected_step2 = handle_sync_message(create_sync_message(peer)[1:], doc)
    assert crdt.sync_step2_for_doc(doc, peer.get_state()) == expected_step2
    payload = crdt.encode_awareness_update([AwarenessEntry.of(3, 1, {"a": 1})])
    assert crdt.encode_awareness(payload) == create_awareness_message(payload)


def test_awareness_compatible_with_pycrdt_awareness() -> None:
    theirs = Awareness(new_doc(42))
    theirs.set_local_state({"user": {"name": "Ann"}})
    wire = create_awareness_message(theirs.encode_awareness_update([42]))
    parsed = parse(wire)
    assert isinstance(parsed, AwarenessUpdate)
    assert crdt.awareness_client_ids(wire) == crdt.awareness_client_ids(parsed) == (42,)
    assert crdt.encode_awareness(parsed.entries) == wire

    mine = Awareness(new_doc(7))
    mine.apply_awareness_update(read_message(wire[1:]), "server")
    assert mine.states[42] == {"user": {"name": "Ann"}}
    removal = crdt.encode_awareness_removal({42: parsed.entries[0].clock})
    assert is_awareness_disconnect_message(removal[1:])
    mine.apply_awareness_update(read_message(removal[1:]), "server")
    assert 42 not in mine.states


def test_restrict_awareness_drops_foreign_entries() -> None:
    entries = [AwarenessEntry.of(1, 5, {"me": True}), AwarenessEntry.of(2, 9, {"echo": 1})]
    update = parse(crdt.encode_awareness(entries))
    assert isinstance(update, AwarenessUpdate)
    assert crdt.restrict_awareness_update(update, {1, 2}) is update
    assert crdt.restrict_awareness_update(update, {3}) is None
    only_mine = crdt.restrict_awareness_update(update, {1})
    assert only_mine is not None
    assert only_mine.client_ids == (1,)
    reparsed = parse(crdt.encode_awareness(only_mine))
    assert isinstance(reparsed, AwarenessUpdate)
    assert reparsed.entries == only_mine.entries


def test_removal_bumps_clock_and_sets_null() -> None:
    removal = parse(crdt.encode_awareness_removal({1: 5, 2: 0}))
    assert isinstance(removal, AwarenessUpdate)
    assert [(e.client_id, e.clock, e.state_json) for e in removal.entries] == [
        (1, 6, "null"),
        (2, 1, "null"),
    ]


def test_doc_helpers() -> None:
    doc = sample_doc()
    assert crdt.encode_state_as_update(doc) == doc.get_update()
    peer = new_doc()
    peer.get("t", type=pycrdt.Text).insert(0, "x")
    diff = crdt.encode_state_as_update(doc, peer.get_state(), max_bytes=LIMIT)
    assert diff == doc.get_update(peer.get_state())
    assert crdt.merge_updates([]) == crdt.EMPTY_UPDATE
    empty = new_doc()
    crdt.apply_update_to_doc(empty, crdt.EMPTY_UPDATE, max_bytes=LIMIT)
    assert crdt.state_vector(empty) == crdt.EMPTY_STATE_VECTOR


def test_apply_tags_transaction_origin() -> None:
    doc, origins = new_doc(), []
    text = doc.get("t", type=pycrdt.Text)
    subscription = text.observe(lambda event: origins.append(event.transaction.origin))
    crdt.apply_update_to_doc(doc, sample_doc().get_update(), max_bytes=LIMIT, origin="bus")
    assert origins == ["bus"]
    text.unobserve(subscription)


def test_pycrdt_zero_length_string_is_accepted() -> None:
    """pycrdt emits an empty string item after deleting half of a surrogate pair."""
    doc = new_doc(1)
    text = doc.get("t", type=pycrdt.Text)
    text.insert(0, "😀")
    before = doc.get_state()
    del text[0]
    crdt.validate_update(doc.get_update(before), max_bytes=LIMIT)
    crdt.validate_update(doc.get_update(), max_bytes=LIMIT)


@pytest.mark.parametrize("state", [{}, {"cursor": {"anchor": 3}}, None])
def test_awareness_entry_roundtrip(state: dict[str, object] | None) -> None:
    entry = AwarenessEntry.of(2**53 - 1, 7, state)
    parsed = parse(crdt.encode_awareness([entry]))
    assert isinstance(parsed, AwarenessUpdate)
    assert parsed.entries == (entry,)
    assert parsed.entries[0].state == state
