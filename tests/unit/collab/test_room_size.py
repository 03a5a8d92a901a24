"""A room's size, which the document limit is judged by, counts every update's bytes until
a compaction: then it is the snapshot's size (plus what came meanwhile). Without that, a
room occupied all day would refuse edits once its keystrokes added up to the limit, however
small its text."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from pycrdt import Doc, Text

from rooms import (
    DocumentTooLarge,
    MemoryBus,
    MemoryUpdateLog,
    RoomId,
    RoomLimits,
    RoomManager,
    RoomMetrics,
    new_node_id,
)

LIMIT = 65_536


def _keystrokes(count: int) -> list[bytes]:
    """Type a short line and erase it, over and over: one update per keystroke."""
    doc: Doc[Any] = Doc(client_id=3)
    text = doc.get("code", type=Text)
    updates: list[bytes] = []
    doc.observe(lambda event: updates.append(event.update))
    while len(updates) < count:
        for char in "print(1)":
            text.insert(len(text), char)
        del text[0 : len(text)]
    return updates[:count]


async def test_compaction_brings_the_size_back_to_the_document() -> None:
    manager = RoomManager(
        MemoryUpdateLog(),
        MemoryBus().node(),
        node_id=new_node_id(),
        limits=RoomLimits(max_document_bytes=LIMIT),
        metrics=RoomMetrics(),
        compact_after=500,
        idle_seconds=3600,  # a slow run must not unload the room this test holds
    )
    room = await manager.open(RoomId(uuid.uuid4(), "dojo"))
    updates = _keystrokes(15_000)
    assert sum(map(len, updates)) > 2 * LIMIT  # far more keystroke bytes than the limit
    for number, update in enumerate(updates, 1):
        await room.apply_and_share(update, origin=None)
        if number % 500 == 0:
            await manager.maintain_once()
    assert room.size < 2_000
    assert room.size == len((await manager._log.load(room.id)).snapshot or b"")

    # The limit still holds for a document that is large.
    writer: Doc[Any] = Doc()
    pasted = writer.get("code", type=Text)
    for _ in range(LIMIT // 1024 - 2):
        before = writer.get_state()
        pasted.insert(0, "x" * 1024)
        await room.apply_and_share(writer.get_update(before), origin=None)
    before = writer.get_state()
    pasted.insert(0, "x" * 4096)
    with pytest.raises(DocumentTooLarge):
        await room.apply_and_share(writer.get_update(before), origin=None)
