"""Erasure (LGPD): an organization deleted in identity loses every room, on every node.

The node consumes ``identity.tenant.deleted`` from Redis Streams (a fresh prefix per test):
its room's peers are closed with 4410, the updates, snapshots and snapshot blobs are gone,
and the rooms can be neither joined again nor written by a node that still held one in
memory. Another organization's rooms are untouched.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from pycrdt import Doc, Text

from crdt import merge_updates
from platform_api.kernel.erasure import tenant_deleted
from platform_api.kernel.events_redis import RedisStreamsPublisher
from platform_api.kernel.provision import ServiceDatabase
from rooms import LocalSnapshotStore, PostgresUpdateLog, RoomId, TenantErased
from tests.harness.collab import compacted_seq
from tests.harness.polling import eventually

from .conftest import Connect, Mint, StartNode, first_message, post_update

GONE = 4410


async def _rows(db: ServiceDatabase, tenant: uuid.UUID) -> tuple[int, int]:
    conn = await asyncpg.connect(db.app_dsn)
    try:
        async with conn.transaction():
            await conn.execute("SELECT set_config('app.tenant_id', $1, true)", str(tenant))
            updates = await conn.fetchval("SELECT count(*) FROM room_updates")
            snapshots = await conn.fetchval("SELECT count(*) FROM room_snapshots")
    finally:
        await conn.close()
    return updates, snapshots


async def test_a_deleted_organization_loses_its_rooms_on_every_node(
    start_node: StartNode,
    connect: Connect,
    mint: Mint,
    collab_db: ServiceDatabase,
    redis_url: str,
    tmp_path: Path,
) -> None:
    prefix = f"test-erasure-{uuid.uuid4().hex[:8]}"
    db = {"database_url": collab_db.app_dsn, "redis_url": redis_url}
    consuming = await start_node(**db, event_bus="redis", event_stream_prefix=prefix)
    other_node = await start_node(**db)  # no consumer: its room learns from the database
    tenant = uuid.uuid4()
    here, there, kept = f"{tenant}:dojo-here", f"{tenant}:dojo-there", f"{uuid.uuid4()}:dojo-kept"
    writer = await connect(consuming, here)
    await writer.synced.wait()
    await writer.insert("x" * 70_000)  # past the inline limit: its snapshot is a blob
    late = await connect(other_node, there)
    await late.synced.wait()
    await late.insert("held in memory by the other node")
    bystander = await connect(consuming, kept)
    await bystander.synced.wait()
    await bystander.insert("another organization's code")
    for client in (writer, late, bystander):
        await client.handled()
    pool = await asyncpg.create_pool(collab_db.app_dsn, min_size=1, max_size=2)
    try:
        async with PostgresUpdateLog(pool, LocalSnapshotStore(tmp_path / "snapshots")) as log:
            await compacted_seq(log, RoomId.parse(here))
    finally:
        await pool.close()
    blobs = list((tmp_path / "snapshots").rglob("*.ydoc"))
    assert [b.parent.parent.name for b in blobs] == ["dojo-here"]

    publisher = RedisStreamsPublisher.from_url(redis_url, prefix=prefix)
    try:
        await publisher.publish([tenant_deleted(tenant)])
    finally:
        await publisher.aclose()

    # The consuming node closes its room's peers at once; the other node, which still held
    # its room in memory, at its next maintenance pass (every second).
    assert await writer.wait_closed(timeout=10) == GONE
    assert await late.wait_closed(timeout=10) == GONE
    await eventually(lambda: _rows(collab_db, tenant), lambda rows: rows == (0, 0))
    assert not any(b.exists() for b in blobs)
    # Nobody joins again, on any node.
    for node, room in ((consuming, here), (other_node, here), (other_node, there)):
        refused = await first_message(f"{node}/{room}?ticket={mint(room)}")
        assert (refused.type, refused.data) == (aiohttp.WSMsgType.CLOSE, GONE)
    # A service writing to one is told so (problem+json), and nothing is stored.
    late_doc = Doc()
    late_doc.get("code", type=Text).insert(0, "written by a service")
    status, problem = await post_update(other_node, mint, here, late_doc.get_update())
    assert (status, problem["status"]) == (410, 410), problem
    assert "deleted" in problem["detail"]
    assert await _rows(collab_db, tenant) == (0, 0)
    # Another organization carries on.
    await bystander.insert(", still here")
    await bystander.handled()
    again = await connect(other_node, kept)
    await again.synced.wait()
    assert str(again.text) == "another organization's code, still here"


async def test_nothing_writes_an_erased_organization_back(
    collab_db: ServiceDatabase, tmp_path: Path
) -> None:
    """A node that has not heard of the erasure yet still holds the room: neither its next
    append nor its compaction stores anything, and it reads the refusal as TenantErased."""
    tenant = uuid.uuid4()
    room = RoomId.parse(f"{tenant}:dojo-held")
    pool = await asyncpg.create_pool(collab_db.app_dsn, min_size=1, max_size=3)
    try:
        async with PostgresUpdateLog(pool, LocalSnapshotStore(tmp_path)) as log:
            doc = Doc()
            text = doc.get("code", type=Text)
            text += "before"
            await log.append(room, doc.get_update())
            assert await log.erase_tenant(tenant) == 1
            assert await log.erased({tenant, uuid.uuid4()}) == {tenant}
            text += " after"
            with pytest.raises(TenantErased):
                await log.append(room, doc.get_update())
            with pytest.raises(TenantErased):
                await log.compact(room, merge_updates)
            with pytest.raises(TenantErased):
                await log.load(room)
            assert await log.erase_tenant(tenant) == 0  # again: nothing left, no error
    finally:
        await pool.close()
    assert await _rows(collab_db, tenant) == (0, 0)


async def test_an_erasure_waits_for_writes_under_way_without_holding_up_new_ones(
    collab_db: ServiceDatabase, tmp_path: Path
) -> None:
    """A compaction under way holds the organization's lock (shared): the erasure waits for
    it, yet without queueing for the lock, so appends (the node's one writer serves every
    organization) go on meanwhile; they are erased with the rest."""
    tenant = uuid.uuid4()
    room = RoomId.parse(f"{tenant}:dojo-busy")
    doc = Doc()
    text = doc.get("code", type=Text)
    pool = await asyncpg.create_pool(collab_db.app_dsn, min_size=1, max_size=3)
    compaction = await asyncpg.connect(collab_db.app_dsn)
    try:
        async with PostgresUpdateLog(pool, LocalSnapshotStore(tmp_path)) as log:
            held = compaction.transaction()
            await held.start()
            await compaction.execute("SELECT collab_tenant_writable($1)", tenant)
            erasing = asyncio.create_task(log.erase_tenant(tenant))
            await asyncio.sleep(0.3)  # a few of its tries, while the lock is held
            text += "typed meanwhile"
            await asyncio.wait_for(log.append(room, doc.get_update()), timeout=2)
            assert not erasing.done()
            await held.rollback()
            assert await asyncio.wait_for(erasing, timeout=10) == 1
            with pytest.raises(TenantErased):
                await log.append(room, doc.get_update())
    finally:
        await compaction.close()
        await pool.close()
