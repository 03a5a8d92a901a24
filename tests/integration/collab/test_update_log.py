"""The PostgreSQL update log on the real database: group commit across tenants, isolation,
and a writer connection that dies between commits."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import asyncpg
import pytest

from platform_api.kernel import create_pool
from platform_api.kernel.db import tenant_transaction
from platform_api.kernel.provision import ServiceDatabase
from rooms import LocalSnapshotStore, PostgresUpdateLog, RoomId


@pytest.fixture
async def pool(collab_db: ServiceDatabase) -> asyncpg.Pool:
    pool = await create_pool(collab_db.app_dsn, min_size=1, max_size=4)
    yield pool
    await pool.close()


async def test_one_batch_of_many_tenants_and_rooms_keeps_each_rooms_order(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    tenants = [uuid.uuid4(), uuid.uuid4()]
    rooms = [RoomId(t, f"log-{i}") for t in tenants for i in range(3)]
    batches: list[int] = []
    log = PostgresUpdateLog(
        pool, LocalSnapshotStore(tmp_path), on_commit=lambda _lag, size: batches.append(size)
    )
    async with log:
        # Appended together, so they share batches; each room's order must survive.
        seqs = await asyncio.gather(
            *(log.append(room, f"{room.key}#{n}".encode()) for n in range(20) for room in rooms)
        )
        assert len(set(seqs)) == len(seqs)
        assert max(batches) > 1, "appends arriving together are committed together"
        for room in rooms:
            stored = await log.load(room)
            assert stored.updates == [f"{room.key}#{n}".encode() for n in range(20)]

    # Row-level security: under another tenant (or none) the rows are not there.
    async with tenant_transaction(pool, uuid.uuid4()) as conn:
        assert await conn.fetchval("SELECT count(*) FROM room_updates") == 0
    async with tenant_transaction(pool, tenants[0]) as conn:
        assert await conn.fetchval("SELECT count(*) FROM room_updates") == 60


async def test_the_append_function_scopes_the_tenant_to_its_own_statement(
    pool: asyncpg.Pool,
) -> None:
    """Called in autocommit mode, it sets the tenant for its own transaction only: the
    connection it leaves behind sees no tenant's rows."""
    tenant = uuid.uuid4()
    async with pool.acquire() as conn:
        seqs = await conn.fetch(
            "SELECT * FROM append_room_updates($1, $2, $3)", tenant, ["r1", "r2"], [b"a", b"b"]
        )
        assert len(seqs) == 2
        assert await conn.fetchval("SELECT current_setting('app.tenant_id', true)") in ("", None)
        assert await conn.fetchval("SELECT count(*) FROM room_updates") == 0
    async with tenant_transaction(pool, tenant) as conn:
        rows = await conn.fetch("SELECT tenant_id, room FROM room_updates ORDER BY seq")
    assert [(r["tenant_id"], r["room"]) for r in rows] == [(tenant, "r1"), (tenant, "r2")]


async def test_a_writer_connection_killed_between_commits_is_replaced(
    pool: asyncpg.Pool, collab_db: ServiceDatabase, admin_dsn: str, tmp_path: Path
) -> None:
    room = RoomId(uuid.uuid4(), "log-kill")
    async with PostgresUpdateLog(pool, LocalSnapshotStore(tmp_path)) as log:
        await log.append(room, b"first")
        # Open more pooled connections, idle once released: all of them will be dead.
        held = [await pool.acquire() for _ in range(3)]
        for conn in held:
            await pool.release(conn)
        admin = await asyncpg.connect(admin_dsn)
        try:
            killed = await admin.fetchval(
                """SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                   WHERE datname = $1 AND pid <> pg_backend_pid()""",
                collab_db.name,
            )
        finally:
            await admin.close()
        assert killed >= 1
        # Every idle connection of the pool died too; the next appends still succeed.
        assert isinstance(await log.append(room, b"second"), int)
        assert isinstance(await log.append(room, b"third"), int)
        stored = await log.load(room)
        assert stored.updates == [b"first", b"second", b"third"]
