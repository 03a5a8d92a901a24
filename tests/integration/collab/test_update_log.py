"""The PostgreSQL update log on the real database: group commit across tenants, isolation,
a writer connection that dies between commits, and what shutdown does with pending updates."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any, cast

import asyncpg
import psutil
import pytest
import structlog
from alembic import command
from pycrdt import Doc, Text
from structlog.testing import capture_logs

from crdt import merge_updates
from platform_api.kernel import create_pool, migrations, tasks
from platform_api.kernel.db import tenant_transaction
from platform_api.kernel.provision import ServiceDatabase, drop_database, provision_database
from rooms import (
    Compaction,
    LocalSnapshotStore,
    PostgresUpdateLog,
    RoomId,
    StoredState,
    postgres,
)
from tests.harness.collab import appends_held, compacted_seq


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
        pool, LocalSnapshotStore(tmp_path), on_commit=lambda lags: batches.append(len(lags))
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


async def test_shutdown_commits_what_is_pending_and_in_flight(
    pool: asyncpg.Pool, collab_db: ServiceDatabase, tmp_path: Path
) -> None:
    room = RoomId(uuid.uuid4(), "log-flush")
    batches: list[int] = []
    log = PostgresUpdateLog(
        pool, LocalSnapshotStore(tmp_path), on_commit=lambda lags: batches.append(len(lags))
    )
    async with log, appends_held(collab_db) as stuck:
        appends = [asyncio.ensure_future(log.append(room, b"%d" % n)) for n in range(5)]
        await stuck()
        # Queued behind the held batch: shutdown begins just as the lock is released.
        appends += [asyncio.ensure_future(log.append(room, b"%d" % n)) for n in range(5, 10)]
    assert all(isinstance(seq, int) for seq in await asyncio.gather(*appends))
    assert batches == [5, 5]
    assert (await log.load(room)).updates == [b"%d" % n for n in range(10)]


@pytest.fixture
async def silent_database() -> AsyncIterator[tuple[str, asyncio.Event]]:
    """A DSN whose server accepts connections and never answers (a database cut off by the
    network), and an event set when something tries to connect to it."""
    tried = asyncio.Event()
    sockets: list[asyncio.StreamWriter] = []

    def accept(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sockets.append(writer)
        tried.set()

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"postgresql://collab@127.0.0.1:{port}/collab", tried
    server.close()
    for writer in sockets:
        writer.transport.abort()
    await server.wait_closed()


async def test_shutdown_with_the_database_unreachable_fails_pending_updates_in_time(
    silent_database: tuple[str, asyncio.Event], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past its flush deadline a stopping log fails what it could not commit (the senders
    resend it on reconnecting) instead of retrying for as long as the database is away."""
    dsn, tried = silent_database
    # A logger keeps the processors of its first use; a fresh one logs into the capture.
    monkeypatch.setattr(postgres, "_log", structlog.get_logger("rooms.postgres"))
    pool = await create_pool(dsn, min_size=0, max_size=2)
    room = RoomId(uuid.uuid4(), "log-unreachable")
    try:
        with capture_logs() as logs:
            async with asyncio.timeout(5):  # a regression fails here instead of hanging
                async with PostgresUpdateLog(
                    pool, LocalSnapshotStore(tmp_path), flush_seconds=0.3
                ) as log:
                    append = asyncio.ensure_future(log.append(room, b"never stored"))
                    await tried.wait()
                    stopping = time.monotonic()
            assert time.monotonic() - stopping < 0.3 + 0.5
        with pytest.raises(ConnectionError, match="stopped before committing"):
            await append
        errors = [e for e in logs if e["log_level"] == "error"]
        assert [(e["event"], e["updates"]) for e in errors] == [("update_log_flush_abandoned", 1)]
        with pytest.raises(RuntimeError, match="not running"):
            await log.append(room, b"after shutdown")
    finally:
        await pool.close()


def _merge_noting_the_process(note: Path, updates: list[bytes]) -> bytes:
    note.write_text(str(os.getpid()))
    return merge_updates(updates)


async def test_compaction_merges_in_a_process_of_its_own(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """Yrs keeps the GIL while it merges: on a thread of the node, a large room's merge
    would stall every other room's fan-out for as long."""
    room = RoomId(uuid.uuid4(), "compacted")
    doc = Doc()
    text = doc.get("code", type=Text)
    updates: list[bytes] = []
    doc.observe(lambda event: updates.append(event.update))
    for word in ("merged ", "elsewhere"):
        text += word
    note = tmp_path / "merger.pid"
    async with PostgresUpdateLog(pool, LocalSnapshotStore(tmp_path)) as log:
        for update in updates:
            await log.append(room, update)
        assert await log.compact(room, partial(_merge_noting_the_process, note)) is not None
        stored = await log.load(room)
    assert int(note.read_text()) != os.getpid()
    assert stored.updates == []
    assert stored.snapshot is not None
    restored = Doc()
    restored.apply_update(stored.snapshot)
    assert str(restored.get("code", type=Text)) == "merged elsewhere"


async def test_compaction_survives_the_loss_of_its_merge_process(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """The merge worker killed (out of memory, say): the next compaction starts another."""
    before = {child.pid for child in psutil.Process().children()}
    room = RoomId(uuid.uuid4(), "merged-again")
    doc = Doc()
    text = doc.get("code", type=Text)
    updates: list[bytes] = []
    doc.observe(lambda event: updates.append(event.update))
    async with PostgresUpdateLog(pool, LocalSnapshotStore(tmp_path)) as log:
        text += "first "
        await log.append(room, updates[-1])
        assert await log.compact(room, merge_updates) is not None
        for worker in [c for c in psutil.Process().children() if c.pid not in before]:
            if "spawn_main" in " ".join(worker.cmdline()):
                worker.kill()
                worker.wait(5)
        text += "second"
        await log.append(room, updates[-1])
        assert await log.compact(room, merge_updates) is not None
        stored = await log.load(room)
    assert stored.snapshot is not None
    restored = Doc()
    restored.apply_update(stored.snapshot)
    assert str(restored.get("code", type=Text)) == "first second"


def _text_update(text: str) -> bytes:
    """One client's update inserting ``text`` into the ``code`` text of an empty document."""
    doc: Doc = Doc()
    doc.get("code", type=Text).insert(0, text)
    return doc.get_update()


def _loaded_text(stored: StoredState) -> str:
    doc: Doc = Doc()
    for update in ([stored.snapshot] if stored.snapshot else []) + stored.updates:
        doc.apply_update(update)
    return str(doc.get("code", type=Text))


async def test_an_update_committed_after_a_later_ones_compaction_is_kept(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """Seqs are taken at insert, so another node's append may commit after a higher seq has
    been compacted: the snapshot that then merges it has the lower ``seq_upto``, and is the
    room's latest all the same."""
    room = RoomId(uuid.uuid4(), "late-commit")
    async with PostgresUpdateLog(pool, LocalSnapshotStore(tmp_path)) as log:
        # Another node's append: its seq is taken now, its commit comes later.
        async with tenant_transaction(pool, room.tenant) as other_node:
            held = await other_node.fetchval(
                "INSERT INTO room_updates (tenant_id, room, update) VALUES ($1, $2, $3) "
                "RETURNING seq",
                room.tenant,
                room.name,
                _text_update("A"),
            )
            newer = await log.append(room, _text_update("B"))
            assert held < newer
            assert await compacted_seq(log, room) == newer
        assert await compacted_seq(log, room) == held
        stored = await log.load(room)
        assert stored.updates == []
        assert sorted(_loaded_text(stored)) == ["A", "B"]
        # The history lists them in the order they were made; the latest is found by its seq.
        assert [s.seq for s in await log.snapshots(room)] == [newer, held]
        assert await log.snapshot_at(room, held) == stored.snapshot
        # A later compaction builds on the latest snapshot, not on the one with the highest seq.
        await log.append(room, _text_update("C"))
        assert await log.compact(room, merge_updates) is not None
        assert sorted(_loaded_text(await log.load(room))) == ["A", "B", "C"]


async def test_the_migration_numbers_existing_snapshots_in_the_order_they_were_made(
    admin_dsn: str, run_id: str, tmp_path: Path
) -> None:
    """Numbered by when they were made, not by where the table keeps them; down and up again."""
    db = await provision_database(admin_dsn, "collab", f"test_collab_0003_{run_id}", recreate=True)
    try:
        await migrations.upgrade("collab", db.owner_dsn, "0002")
        pool = await create_pool(db.app_dsn, min_size=1, max_size=4)
        try:
            room = RoomId(uuid.uuid4(), "numbered")
            async with tenant_transaction(pool, room.tenant) as conn:
                # Stored before the one made earlier, with the lower seq_upto.
                for seq, text, made in ((7, "AB", "2024-01-02"), (9, "B", "2024-01-01")):
                    await conn.execute(
                        """INSERT INTO room_snapshots
                               (tenant_id, room, seq_upto, inline_state, size, created_at)
                           VALUES ($1, $2, $3, $4, 1, $5::text::timestamptz)""",
                        room.tenant,
                        room.name,
                        seq,
                        _text_update(text),
                        made,
                    )
            # A compaction that began first but waited for the lock inserts last: its
            # snapshot (all of the other's and more) is dated before the other's.
            stalled = RoomId(room.tenant, "stalled")
            for seq, text, made in ((5, "A", "2024-01-02"), (9, "AB", "2024-01-01")):
                async with tenant_transaction(pool, room.tenant) as conn:
                    await conn.execute(
                        """INSERT INTO room_snapshots
                               (tenant_id, room, seq_upto, inline_state, size, created_at)
                           VALUES ($1, $2, $3, $4, 1, $5::text::timestamptz)""",
                        stalled.tenant,
                        stalled.name,
                        seq,
                        _text_update(text),
                        made,
                    )
            await migrations.upgrade("collab", db.owner_dsn)
            async with PostgresUpdateLog(pool, LocalSnapshotStore(tmp_path)) as log:
                assert [s.seq for s in await log.snapshots(room)] == [9, 7]
                assert _loaded_text(await log.load(room)) == "AB"
                assert [s.seq for s in await log.snapshots(stalled)] == [5, 9]
                assert _loaded_text(await log.load(stalled)) == "AB"
                await log.append(room, _text_update("C"))
                assert await log.compact(room, merge_updates) is not None  # numbered past them
                assert sorted(_loaded_text(await log.load(room))) == ["A", "B", "C"]
                assert len(await log.snapshots(room)) == 3
            owner = await asyncpg.connect(db.owner_dsn)
            try:  # row-level security is forced again: the owner sees no tenant's rows
                assert await owner.fetchval("SELECT count(*) FROM room_snapshots") == 0
            finally:
                await owner.close()
            config = migrations.alembic_config("collab", db.owner_dsn)
            await asyncio.to_thread(command.downgrade, config, "0002")
            await migrations.upgrade("collab", db.owner_dsn)
        finally:
            await pool.close()
    finally:
        await drop_database(admin_dsn, db.name)


class _SecondQueryHeld:
    """A connection whose second query first awaits ``before``: in ``_read``, between the
    snapshot's query and the log's."""

    def __init__(self, conn: asyncpg.Connection, before: Callable[[], Awaitable[object]]) -> None:
        self._conn = conn
        self._before = before
        self._queries = 0

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._conn, name)
        if name not in ("execute", "fetch", "fetchrow", "fetchval"):
            return method

        async def query(*args: Any, **kwargs: Any) -> Any:
            self._queries += 1
            if self._queries == 2:
                await self._before()
            return await method(*args, **kwargs)

        return query


class ReadsInterleaved(PostgresUpdateLog):
    """The update log, whose next read of a room runs ``between`` after its first query."""

    between: Callable[[], Awaitable[object]] | None = None

    async def _read(
        self, conn: asyncpg.Connection, room: RoomId
    ) -> tuple[bytes | None, int, list[asyncpg.Record]]:
        between, self.between = self.between, None
        if between is not None:
            conn = cast(asyncpg.Connection, _SecondQueryHeld(conn, between))
        return await super()._read(conn, room)


async def test_a_load_overlapping_another_nodes_compaction_misses_nothing(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """The snapshot and the log are read as of one moment: the rows another node's
    compaction merges between the two reads are still in the log read."""
    room = RoomId(uuid.uuid4(), "overlapped")
    log = ReadsInterleaved(pool, LocalSnapshotStore(tmp_path))
    async with PostgresUpdateLog(pool, LocalSnapshotStore(tmp_path)) as other_node, log:
        await other_node.append(room, _text_update("A"))
        assert await other_node.compact(room, merge_updates) is not None
        await other_node.append(room, _text_update("B"))
        compacted: list[Compaction | None] = []

        async def compact() -> None:
            compacted.append(await other_node.compact(room, merge_updates))

        log.between = compact
        stored = await log.load(room)
        assert len(compacted) == 1, "the other node compacted between the two reads"
        assert compacted[0] is not None
        assert sorted(_loaded_text(stored)) == ["A", "B"]
        assert len(stored.updates) == 1
        assert sorted(_loaded_text(await log.load(room))) == ["A", "B"]  # and afterwards


async def test_a_failing_on_commit_does_not_stop_the_writer(
    pool: asyncpg.Pool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_metric(lags: list[float]) -> None:
        raise ValueError("histogram gone")

    monkeypatch.setattr(postgres, "_log", structlog.get_logger("rooms.postgres"))  # as above

    room = RoomId(uuid.uuid4(), "metric")
    with capture_logs() as logs:
        async with PostgresUpdateLog(
            pool, LocalSnapshotStore(tmp_path), on_commit=broken_metric
        ) as log:
            async with asyncio.timeout(5):
                assert await log.append(room, b"first") < await log.append(room, b"second")
            await log.ping()
    assert [e["event"] for e in logs if e["log_level"] == "error"] == [
        "update_log_on_commit_failed",
        "update_log_on_commit_failed",
    ]


async def test_a_writer_that_fails_fails_its_waiters_and_the_readiness_check(
    pool: asyncpg.Pool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No append waits for ever on a writer that is gone; the node says it is not ready."""

    async def bug(self: PostgresUpdateLog, tenant: uuid.UUID, group: list[Any]) -> None:
        raise KeyError("a bug in the writer")

    monkeypatch.setattr(PostgresUpdateLog, "_commit_group", bug)
    monkeypatch.setattr(postgres, "_log", structlog.get_logger("rooms.postgres"))  # as above
    monkeypatch.setattr(tasks, "_log", structlog.get_logger("kernel.tasks"))
    room = RoomId(uuid.uuid4(), "writer")
    with capture_logs() as logs:
        async with PostgresUpdateLog(pool, LocalSnapshotStore(tmp_path)) as log:
            async with asyncio.timeout(5):
                with pytest.raises(RuntimeError, match="writer failed"):
                    await log.append(room, b"lost")
                with pytest.raises(RuntimeError, match="the update log is not running"):
                    await log.append(room, b"refused")
            with pytest.raises(RuntimeError, match="writer has stopped"):
                await log.ping()
    errors = [e["event"] for e in logs if e["log_level"] == "error"]
    assert errors.count("update_log_writer_failed") == 1
    assert "task_failed" not in errors  # the failure is logged once, not again at the stop
