"""GET state of the internal API: JSON, or the update's raw bytes when the caller asks for
them (what the dojo service does: the JSON of a large document stalls the node's loop)."""

from __future__ import annotations

import base64
import json

import aiohttp
import pytest
from pycrdt import Doc, Text

from crdt import merge_updates
from rooms import MemoryUpdateLog, RoomId

from .conftest import Connect, Mint, StartNode

BYTES = "application/octet-stream"


def _text(update: bytes) -> str:
    doc: Doc = Doc()
    doc.apply_update(update)
    return str(doc.get("code", type=Text))


@pytest.mark.parametrize(
    ("accept", "raw"),
    [
        (BYTES, True),
        ("application/json;q=0.5, application/octet-stream", True),
        ("Application/Octet-Stream; q=1", True),
        (f"*/*;q=0.5, {BYTES}", True),
        (None, False),
        ("*/*", False),
        ("application/json", False),
        (f"{BYTES};q=0, application/json", False),
        (f"{BYTES};q=0.0", False),
        (f"application/json, {BYTES};q=0.1", False),
        (f"*/*, {BYTES};q=0.5", False),
        (f"application/*;q=0.9, {BYTES};q=0.5", False),
    ],
)
async def test_the_state_is_the_raw_update_only_when_the_caller_prefers_bytes(
    start_node: StartNode,
    connect: Connect,
    mint: Mint,
    room_key: str,
    accept: str | None,
    raw: bool,
) -> None:
    base = await start_node()
    peer = await connect(base, room_key)
    await peer.insert("print('hi')")
    http = base.replace("ws://", "http://").removesuffix("/collab")
    headers = {"Authorization": f"Bearer {mint(room_key, role='service')}"}
    if accept is not None:
        headers["Accept"] = accept
    async with aiohttp.ClientSession() as session:
        response = await session.get(f"{http}/internal/rooms/{room_key}/state", headers=headers)
        assert response.status == 200
        content_type = response.headers["Content-Type"]
        body = await response.read()
    if raw:
        # The update itself, no base64 or JSON around it: it is a document's whole state.
        assert content_type == BYTES
        assert _text(body) == "print('hi')"
        return
    assert content_type.startswith("application/json")
    state = json.loads(body)
    assert state["text"] == "print('hi')"
    assert _text(base64.b64decode(state["update"])) == "print('hi')"
    assert set(state) == {"text", "state_vector", "update"}


async def test_a_snapshot_is_its_stored_bytes_when_the_caller_asks_for_bytes(
    start_node: StartNode, mint: Mint, room_key: str
) -> None:
    """A stored state is an update already: answered as it is, without loading it into a
    document (JSON answers still do, for the text)."""
    log = MemoryUpdateLog()
    room = RoomId.parse(room_key)
    writer: Doc = Doc()
    text = writer.get("code", type=Text)
    for part in ("def kata():", "\n    pass\n"):
        before = writer.get_state()
        text += part
        await log.append(room, writer.get_update(before))
    compaction = await log.compact(room, merge_updates)
    assert compaction is not None
    stored = await log.snapshot_at(room, compaction.seq)
    assert stored is not None
    base = await start_node(update_log=log)
    http = base.replace("ws://", "http://").removesuffix("/collab")
    service = {"Authorization": f"Bearer {mint(room_key, role='service')}"}
    url = f"{http}/internal/rooms/{room_key}/state"
    query = {"snapshot": str(compaction.seq)}
    async with aiohttp.ClientSession() as session:
        raw = await session.get(url, params=query, headers={**service, "Accept": BYTES})
        assert raw.status == 200
        assert raw.headers["Content-Type"] == BYTES
        assert await raw.read() == stored
        as_json = await (await session.get(url, params=query, headers=service)).json()
        assert as_json["snapshot"] == compaction.seq
        assert as_json["text"] == "def kata():\n    pass\n"
        missing = await session.get(
            url, params={"snapshot": str(compaction.seq + 1)}, headers={**service, "Accept": BYTES}
        )
        assert missing.status == 404
        assert missing.headers["Content-Type"].startswith("application/problem+json")
