"""The collab server with its own clients: sync, fan-out across nodes, roles, awareness."""

from __future__ import annotations

import base64
import json

import aiohttp
from pycrdt import write_var_uint

from crdt import AwarenessEntry, decode_state_vector, encode_awareness, state_vector
from rooms import MemoryBus, MemoryUpdateLog, RoomId
from tests.harness.ywire import eventually

from .conftest import Connect, Mint, StartNode, post_update


async def test_two_clients_converge_on_one_node(
    start_node: StartNode, connect: Connect, room_key: str
) -> None:
    base = await start_node()
    a = await connect(base, room_key)
    b = await connect(base, room_key)
    await a.insert("hello ")
    await b.insert("world")
    await eventually(lambda: str(a) == str(b) and len(str(a)) == 11, what="convergence")
    assert decode_state_vector(a.doc.get_state(), max_bytes=1 << 20) == decode_state_vector(
        b.doc.get_state(), max_bytes=1 << 20
    )


async def test_updates_cross_nodes_through_the_bus(
    start_node: StartNode, connect: Connect, room_key: str
) -> None:
    hub, log = MemoryBus(), MemoryUpdateLog()
    nodes = [await start_node(bus=hub.node(), update_log=log) for _ in range(3)]
    clients = [await connect(node, room_key) for node in nodes]
    for i, client in enumerate(clients):
        await client.insert(f"[{i}]")
    await eventually(lambda: all(len(str(c)) == 9 for c in clients), what="three-node convergence")
    assert len({str(c) for c in clients}) == 1


async def test_late_joiner_gets_the_document(
    start_node: StartNode, connect: Connect, room_key: str
) -> None:
    base = await start_node()
    a = await connect(base, room_key)
    await a.insert("def kata():\n    return 42\n")
    late = await connect(base, room_key)
    await eventually(lambda: str(late) == str(a), what="late joiner sync")


async def test_large_messages_arrive_whole(
    start_node: StartNode, connect: Connect, room_key: str
) -> None:
    """Messages past 64 KiB leave as a header and the payload, not one copied buffer: an
    update that size and a late joiner's whole document arrive intact, between small ones."""
    base = await start_node()
    a = await connect(base, room_key)
    b = await connect(base, room_key)
    await a.insert("small ")
    await a.insert("x" * 200_000)
    await a.insert(" small")
    await eventually(lambda: len(str(b)) == 200_012, what="the large update")
    late = await connect(base, room_key)
    await eventually(lambda: str(late) == str(a) == str(b), what="the whole document")


async def test_read_only_peer_receives_but_cannot_write(
    start_node: StartNode, connect: Connect, room_key: str
) -> None:
    base = await start_node()
    writer = await connect(base, room_key, role="write")
    reader = await connect(base, room_key, role="read")
    await writer.insert("driver types")
    await eventually(lambda: str(reader) == "driver types", what="reader receives")
    await reader.insert(" observer tries")
    third = await connect(base, room_key)
    await eventually(lambda: str(third) == "driver types", what="third client sync")
    assert "observer" not in str(writer)


async def test_awareness_reaches_other_peers_and_is_removed_on_leave(
    start_node: StartNode, connect: Connect, room_key: str
) -> None:
    base = await start_node()
    a = await connect(base, room_key)
    b = await connect(base, room_key)
    await a.set_awareness({"user": {"name": "Ana", "color": "#f00"}, "cursor": 3})
    await eventually(lambda: a.doc.client_id in b.awareness, what="awareness relay")
    assert b.awareness[a.doc.client_id]["user"]["name"] == "Ana"
    await a.close()
    await eventually(lambda: a.doc.client_id not in b.awareness, what="awareness removal")


async def test_echoed_foreign_awareness_is_dropped_not_fatal(
    start_node: StartNode, connect: Connect, room_key: str
) -> None:
    # The browser's y-websocket provider re-broadcasts every awareness change it sees, so a
    # message may hold only other peers' entries; found by the web app's two-browser test.
    base = await start_node()
    a = await connect(base, room_key)
    b = await connect(base, room_key)
    await a.set_awareness({"user": {"name": "Ana"}})
    await eventually(lambda: a.doc.client_id in b.awareness, what="awareness relay")
    state = {"user": {"name": "Ana"}}
    echo = AwarenessEntry(a.doc.client_id, 1, json.dumps(state), state)
    await b.send_raw(encode_awareness([echo]))
    await b.set_awareness({"user": {"name": "Bia"}})
    await eventually(lambda: b.doc.client_id in a.awareness, what="b still connected")
    assert b.close_code is None


def _varstring(text: str) -> bytes:
    return write_var_uint(len(text.encode())) + text.encode()


def _half_applying_update() -> bytes:
    """An update that decodes, but whose second item's parent is a string item: Yrs would
    apply the first (``ZZZ`` in the text ``code``) and fail on the second. A parent named by
    id is a nested type, so the validator refuses it before Yrs sees it."""
    text_insert = b"\x04" + write_var_uint(1) + _varstring("code") + _varstring("ZZZ")
    child_of_string = (
        b"\x08"
        + write_var_uint(0)
        + write_var_uint(9)
        + write_var_uint(0)
        + write_var_uint(1)
        + b"\x7e"
    )
    return (
        write_var_uint(1)
        + write_var_uint(2)
        + write_var_uint(9)
        + write_var_uint(0)
        + text_insert
        + child_of_string
        + b"\x00"
    )


async def test_update_that_would_fail_inside_yrs_is_refused_before_it_applies(
    start_node: StartNode, connect: Connect, room_key: str
) -> None:
    """Only its sender is closed (1003): the room keeps serving, with no trace of it (no
    reload that would close everyone with 1011)."""
    from crdt import encode_update

    hub, log = MemoryBus(), MemoryUpdateLog()
    base = await start_node(bus=hub.node(), update_log=log)
    honest = await connect(base, room_key)
    await honest.insert("safe")
    await eventually(lambda: honest.received_updates >= 1, what="sync")
    poison = _half_applying_update()
    attacker = await connect(base, room_key)
    await attacker.send_raw(encode_update(poison))
    assert await attacker.wait_closed() == 1003
    await honest.insert(" and sound")
    fresh = await connect(base, room_key)
    await eventually(lambda: str(fresh) == "safe and sound", what="the room without the poison")
    assert honest.close_code is None


async def test_an_internal_update_that_would_fail_inside_yrs_is_refused(
    start_node: StartNode, connect: Connect, mint: Mint, room_key: str
) -> None:
    """Refused with 422 through the internal API too, before it touches the room."""
    base = await start_node()
    honest = await connect(base, room_key)
    await honest.insert("safe")
    await eventually(lambda: honest.received_updates >= 1, what="sync")
    http = base.replace("ws://", "http://").removesuffix("/collab")
    service = {"Authorization": f"Bearer {mint(room_key, role='service')}"}
    async with aiohttp.ClientSession() as session:
        refused = await session.post(
            f"{http}/internal/rooms/{room_key}/updates",
            data=_half_applying_update(),
            headers=service,
        )
        assert refused.status == 422
        state = await (
            await session.get(f"{http}/internal/rooms/{room_key}/state", headers=service)
        ).json()
        assert state["text"] == "safe"
    assert honest.connected


async def test_an_internal_empty_update_is_answered_and_neither_stored_nor_shared(
    start_node: StartNode, connect: Connect, mint: Mint, room_key: str
) -> None:
    """A service posting the empty update (a document with nothing new) gets the state
    vector back; no log row is written for it and no peer is sent it."""
    from crdt import EMPTY_UPDATE

    log = MemoryUpdateLog()
    base = await start_node(update_log=log)
    writer, watcher = await connect(base, room_key), await connect(base, room_key)
    await writer.insert("kept")
    await eventually(lambda: str(watcher) == "kept", what="the first edit")
    stored, heard = await log.load(RoomId.parse(room_key)), watcher.received_updates
    status, answer = await post_update(base, mint, room_key, EMPTY_UPDATE)
    assert status == 200
    assert base64.b64decode(answer["state_vector"]) == state_vector(writer.doc)
    await writer.insert("!")  # an edit after it: the watcher hears that one, and only that
    await eventually(lambda: str(watcher) == "kept!", what="the next edit")
    assert watcher.received_updates == heard + 1
    after = await log.load(RoomId.parse(room_key))
    assert after.updates == [*stored.updates, after.updates[-1]]


async def test_newcomers_get_the_document_as_it_is_when_they_join(
    start_node: StartNode, connect: Connect, room_key: str
) -> None:
    """Newcomers share one encoding of the whole document until it changes."""
    base = await start_node()
    a = await connect(base, room_key)
    await a.insert("first")
    b = await connect(base, room_key)
    await eventually(lambda: str(b) == "first", what="the first newcomer")
    c = await connect(base, room_key)
    await eventually(lambda: str(c) == "first", what="a second newcomer, same version")
    await a.insert(" second")
    await eventually(lambda: str(b) == "first second", what="the edit reaches b")
    late = await connect(base, room_key)
    await eventually(lambda: str(late) == "first second", what="a newcomer after the edit")
