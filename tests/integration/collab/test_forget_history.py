"""A room's history: forgotten on request (LGPD: compact now, keep one snapshot, hold nothing
the document deleted), and trimmed by every compaction to its latest snapshots; on the real
database, the snapshot folder and a node's internal API."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pycrdt
import pytest

import crdt
from platform_api.kernel import create_pool
from platform_api.kernel.db import tenant_transaction
from platform_api.kernel.provision import ServiceDatabase
from rooms import (
    LocalSnapshotStore,
    MemoryBus,
    PostgresUpdateLog,
    RoomId,
    RoomLimits,
    RoomManager,
    RoomMetrics,
    StoredState,
    TenantErased,
    new_node_id,
)

from .conftest import Connect, Mint, StartNode

NAME = b"Ana Souza"


@pytest.fixture
async def log(collab_db: ServiceDatabase, tmp_path: Path) -> AsyncIterator[PostgresUpdateLog]:
    pool = await create_pool(collab_db.app_dsn, min_size=1, max_size=4)
    async with PostgresUpdateLog(pool, LocalSnapshotStore(tmp_path)) as log:
        yield log
    await pool.close()


def _session() -> tuple[list[bytes], list[bytes]]:
    """A room large enough for a snapshot blob, with an emoji (so it is merged, not
    re-encoded): the updates that name the member, then the rename."""
    doc: pycrdt.Doc[Any] = pycrdt.Doc(client_id=3)
    sent: list[bytes] = []
    doc.observe(lambda event: sent.append(event.update))
    doc.get("code", type=pycrdt.Text).insert(0, "# 😀\n" + "x = 1\n" * 20_000)
    doc.get("state", type=pycrdt.Map)["driver_name"] = NAME.decode()
    named = list(sent)
    doc.get("state", type=pycrdt.Map)["driver_name"] = "Former member"
    return named, sent[len(named) :]


def _blob_files(folder: Path) -> list[Path]:
    return list(folder.rglob("*.ydoc"))


def _driver(state: bytes) -> str:
    doc: pycrdt.Doc[Any] = pycrdt.Doc()
    doc.apply_update(state)
    return str(doc.get("state", type=pycrdt.Map)["driver_name"])


async def _stored(log: PostgresUpdateLog, room: RoomId) -> list[bytes]:
    """Every byte string the log holds for the room: snapshots (blobs read) and rows."""
    assert log._pool is not None
    async with tenant_transaction(log._pool, room.tenant) as conn:
        rows = await conn.fetch(
            "SELECT seq_upto, inline_state, blob_key FROM room_snapshots WHERE room = $1",
            room.name,
        )
        updates = await conn.fetch("SELECT update FROM room_updates WHERE room = $1", room.name)
    held = [await log._snapshot_bytes(row) for row in rows]
    return held + [bytes(row["update"]) for row in updates]


async def test_the_rooms_history_is_compacted_to_one_snapshot_without_the_old_name(
    log: PostgresUpdateLog, tmp_path: Path
) -> None:
    room = RoomId(uuid.uuid4(), "dojo-forget")
    named, rename = _session()
    for update in named:
        await log.append(room, update)
    first = await log.compact(room, crdt.compact_updates)
    assert first is not None
    assert first.size > 64 * 1024
    blobs = _blob_files(tmp_path)
    assert len(blobs) == 1
    assert NAME in blobs[0].read_bytes()
    for update in rename:
        await log.append(room, update)

    kept = await log.forget_history(room, crdt.compact_updates)

    assert kept is not None
    assert kept.seq > first.seq
    assert [s.seq for s in await log.snapshots(room)] == [kept.seq]
    assert await log.snapshot_at(room, first.seq) is None
    assert not blobs[0].exists()
    stored = await _stored(log, room)
    assert len(stored) == 1
    assert NAME not in stored[0]
    loaded = await log.load(room)
    assert loaded.updates == []
    assert _driver(loaded.snapshot or b"") == "Former member"
    # Again: nothing to merge, nothing to forget; the snapshot stays.
    again = await log.forget_history(room, crdt.compact_updates)
    assert again == kept
    assert [s.seq for s in await log.snapshots(room)] == [kept.seq]


@pytest.mark.parametrize("blob", [True, False])
async def test_a_snapshot_merged_with_what_it_deleted_is_rewritten_in_place(
    log: PostgresUpdateLog, tmp_path: Path, blob: bool
) -> None:
    """A snapshot made by a plain merge (as before deleted content was dropped from
    merges) still holds the old name with nothing left to compact: it is compacted alone."""
    room = RoomId(uuid.uuid4(), f"dojo-old-{blob}")
    named, rename = _session()
    if not blob:  # small enough to stay inline in the database
        doc: pycrdt.Doc[Any] = pycrdt.Doc(client_id=4)
        named, rename = [], []
        doc.observe(lambda event: rename.append(event.update))
        doc.get("state", type=pycrdt.Map)["driver_name"] = NAME.decode()
        doc.get("state", type=pycrdt.Map)["driver_name"] = "😀 Former member"
    for update in named + rename:
        await log.append(room, update)
    old = await log.compact(room, crdt.merge_updates)
    assert old is not None
    assert any(NAME in held for held in await _stored(log, room))
    assert bool(_blob_files(tmp_path)) is blob

    kept = await log.forget_history(room, crdt.compact_updates)

    assert kept is not None
    assert kept.seq == old.seq
    assert kept.size < old.size
    stored = await _stored(log, room)
    assert len(stored) == 1
    assert NAME not in stored[0]
    assert _driver(stored[0]).endswith("Former member")
    assert [(s.seq, s.size) for s in await log.snapshots(room)] == [(kept.seq, kept.size)]


async def test_a_room_with_nothing_stored_has_nothing_to_forget(log: PostgresUpdateLog) -> None:
    assert await log.forget_history(RoomId(uuid.uuid4(), "empty"), crdt.compact_updates) is None


async def test_the_internal_api_forgets_a_live_rooms_history(
    start_node: StartNode, connect: Connect, mint: Mint, room_key: str, log: PostgresUpdateLog
) -> None:
    base = await start_node(update_log=log)
    peer = await connect(base, room_key)
    await peer.insert("print('secret 😀')")  # (an emoji: merged, then scrubbed)
    await peer.edit(lambda text: text.__delitem__(slice(0, len(text))))
    await peer.insert("print('kept')")
    await peer.handled()  # (committed)
    http = base.replace("ws://", "http://").removesuffix("/collab")
    url = f"{http}/internal/rooms/{room_key}"
    service = {"Authorization": f"Bearer {mint(room_key, role='service')}"}
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{url}/forget-history") as refused:
            assert refused.status == 401
            assert refused.content_type == "application/problem+json"
        async with session.post(f"{url}/forget-history", headers=service) as response:
            assert response.status == 200
            kept = (await response.json())["snapshot"]
        async with session.get(f"{url}/snapshots", headers=service) as listed:
            assert [s["seq"] for s in (await listed.json())["items"]] == [kept["seq"]]
    room = RoomId.parse(room_key)
    stored = await _stored(log, room)
    assert len(stored) == 1
    assert b"secret" not in stored[0]
    # The peer goes on editing the same room.
    await peer.insert("!")
    await peer.handled()
    assert (await log.load(room)).updates


async def test_compactions_keep_the_latest_snapshots_only(
    log: PostgresUpdateLog, tmp_path: Path
) -> None:
    """Every compaction adds a snapshot of the whole document; a node keeps the room's
    ``snapshots_kept`` latest and deletes the ones before, rows and blobs."""
    manager = RoomManager(
        log,
        MemoryBus().node(),
        node_id=new_node_id(),
        limits=RoomLimits(),
        metrics=RoomMetrics(),
        compact_after=2,
        snapshots_kept=2,
    )
    room_id = RoomId(uuid.uuid4(), "dojo-kept")
    room = await manager.open(room_id)
    editor: pycrdt.Doc[Any] = pycrdt.Doc(client_id=8)
    sent: list[bytes] = []
    editor.observe(lambda event: sent.append(event.update))
    code = editor.get("code", type=pycrdt.Text)
    code.insert(0, "x = 1\n" * 15_000)  # each snapshot a blob
    for round_ in range(5):
        code.insert(len(code), f"# round {round_}\n")
        for update in sent:
            await room.apply_and_share(update, origin=None)
        sent.clear()
        await manager.maintain_once()

    snapshots = await log.snapshots(room_id)
    assert len(snapshots) == 2
    assert sorted(p.stem for p in _blob_files(tmp_path)) == sorted(str(s.seq) for s in snapshots)
    loaded = await log.load(room_id)
    assert loaded.snapshot_seq == snapshots[-1].seq
    again: pycrdt.Doc[Any] = pycrdt.Doc()
    again.apply_update(loaded.snapshot or b"")
    assert str(again.get("code", type=pycrdt.Text)) == str(code)
    await manager.discard(room, 1001, "test over")


async def test_forgetting_waits_for_a_compaction_under_way_elsewhere(
    log: PostgresUpdateLog, collab_db: ServiceDatabase
) -> None:
    room = RoomId(uuid.uuid4(), "dojo-busy")
    named, rename = _session()
    for update in named + rename:
        await log.append(room, update)
    other = await asyncpg.connect(collab_db.app_dsn)
    try:
        async with other.transaction():  # another node compacting the room
            await other.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", room.key)
            forgetting = asyncio.create_task(log.forget_history(room, crdt.compact_updates))
            await asyncio.sleep(0.3)
            assert not forgetting.done()
        kept = await asyncio.wait_for(forgetting, 10)
    finally:
        await other.close()
    assert kept is not None
    stored = await _stored(log, room)
    assert len(stored) == 1
    assert NAME not in stored[0]


async def test_an_erased_organization_has_no_history_to_forget(
    log: PostgresUpdateLog,
) -> None:
    room = RoomId(uuid.uuid4(), "dojo-gone")
    await log.append(room, _session()[0][0])
    await log.erase_tenant(room.tenant)
    with pytest.raises(TenantErased):
        await log.forget_history(room, crdt.compact_updates)


class PausedReads(LocalSnapshotStore):
    """A snapshot folder whose next read waits, after the row naming it was read, until
    ``go`` is set."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.paused, self.go = asyncio.Event(), asyncio.Event()
        self.pausing = False

    async def get(self, key: str) -> bytes | None:
        if self.pausing:
            self.pausing = False
            self.paused.set()
            await self.go.wait()
        return await super().get(key)


@pytest.mark.parametrize("read", ["load", "snapshot_at"])
async def test_a_snapshot_trimmed_while_it_is_read_is_gone_not_damaged(
    collab_db: ServiceDatabase, tmp_path: Path, read: str
) -> None:
    """A read takes the row, then the blob: a forget-history committed in between deleted
    both. A load reads the room again; a snapshot asked for by seq is no longer there."""
    store = PausedReads(tmp_path)
    pool = await create_pool(collab_db.app_dsn, min_size=1, max_size=4)
    try:
        async with PostgresUpdateLog(pool, store) as log:
            room = RoomId(uuid.uuid4(), f"dojo-race-{read}")
            named, rename = _session()
            for update in named:
                await log.append(room, update)
            first = await log.compact(room, crdt.compact_updates)  # a blob
            assert first is not None
            store.pausing = True
            reading = asyncio.create_task(
                log.load(room) if read == "load" else log.snapshot_at(room, first.seq)
            )
            await store.paused.wait()
            for update in rename:
                await log.append(room, update)
            kept = await log.forget_history(room, crdt.compact_updates)
            store.go.set()
            result = await reading
    finally:
        await pool.close()
    assert kept is not None
    if read == "load":
        assert isinstance(result, StoredState)
        assert result.snapshot_seq == kept.seq
        assert _driver(result.snapshot or b"") == "Former member"
    else:
        assert result is None
