"""PostgreSQL update log with group commit, snapshots and compaction (database ``collab``).

``append`` returns only after the update is committed. Appends that arrive while a commit
is in flight are written together by the next one, so throughput grows with load while an
idle room pays one round trip: one autocommitted statement per tenant in the batch, on a
connection the writer keeps. Rows carry their tenant and the tables force row-level
security: that statement (``append_room_updates``, migration 0002) sets ``app.tenant_id``
for its own transaction before it inserts.

An erased organization (``erase_tenant``) can be neither loaded nor written again: the
append function and compactions check it under a lock the erasure takes exclusively
(migration 0004), and fail with :class:`~rooms.ports.TenantErased`.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import asyncpg
import structlog

from platform_api.kernel.db import tenant_transaction, usable
from platform_api.kernel.processes import exit_with_parent
from platform_api.kernel.tasks import stop

from .ids import RoomId
from .ports import (
    Compaction,
    SnapshotInfo,
    SnapshotMissing,
    SnapshotStore,
    StoredState,
    TenantErased,
)

_log = structlog.get_logger("rooms.postgres")
INLINE_SNAPSHOT_BYTES = 64 * 1024
_Pending = tuple[RoomId, bytes, float, "asyncio.Future[int]"]  # room, update, since, waiter
# Failures of the connection itself, not of the statement: a fresh connection may succeed.
_CONNECTION_LOST = (
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,  # admin/crash shutdown, failover
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    ConnectionError,
    OSError,
)


class PostgresUpdateLog:
    def __init__(
        self,
        pool: asyncpg.Pool,
        snapshots: SnapshotStore,
        *,
        max_batch: int = 1024,
        on_commit: Callable[[list[float]], None] | None = None,
        flush_seconds: float = 5.0,
    ) -> None:
        self._pool = pool
        self._snapshots = snapshots
        self._max_batch = max_batch
        self._flush_seconds = flush_seconds
        self._pending: list[_Pending] = []
        # The batch being committed, one group per tenant, each dropped once committed.
        self._committing: list[tuple[uuid.UUID, list[_Pending]]] = []
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()  # nothing pending, nothing being committed
        self._idle.set()
        self._on_commit = on_commit
        self._writer: asyncio.Task[None] | None = None
        # The writer's own connection, held between commits: no pool round trip, no reset.
        self._conn: asyncpg.pool.PoolConnectionProxy | None = None
        self._merger: ProcessPoolExecutor | None = None  # the compactions' merge process

    async def __aenter__(self) -> PostgresUpdateLog:
        self._writer = asyncio.create_task(self._write_loop(), name="update-log-writer")
        self._writer.add_done_callback(self._writer_ended)
        # Start the merge process now, beside the node's own start, not in the first
        # compaction's way (its result is not waited for).
        self._merge_process().submit(int)
        return self

    async def __aexit__(self, *exc: object) -> None:
        """Commit what is pending, then stop the writer.

        A stopping node must not wait on an unreachable database: past ``flush_seconds``
        the updates not yet committed fail instead. None of them was fanned out yet, and
        their senders send them again when they reconnect and sync.
        """
        if self._writer is not None:
            flushed = await self._flushed(self._writer)
            writer, self._writer = self._writer, None  # appends from now on are refused
            writer.cancel()
            if not flushed:
                self._fail_unwritten(
                    ConnectionError(
                        "the update log stopped before committing this update "
                        f"({self._flush_seconds} s to flush at shutdown)"
                    )
                )
            if not writer.done():  # (one that failed was logged when it failed)
                await stop(writer)
        await self._drop_connection()
        if self._merger is not None:
            self._merger.shutdown(wait=False, cancel_futures=True)

    async def _flushed(self, writer: asyncio.Task[None]) -> bool:
        """Whether everything appended got committed (or failed) within ``flush_seconds``."""
        idle = asyncio.ensure_future(self._idle.wait())
        try:
            await asyncio.wait(
                {idle, writer}, timeout=self._flush_seconds, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            idle.cancel()
        return self._idle.is_set()

    def _writer_ended(self, writer: asyncio.Task[None]) -> None:
        """A writer that failed (it never ends otherwise) leaves no append waiting for ever:
        each fails, its room reloads, and the node is not ready (see ``ping``)."""
        if writer.cancelled() or (error := writer.exception()) is None:
            return
        _log.error("update_log_writer_failed", error=repr(error))
        self._fail_unwritten(RuntimeError(f"the update log's writer failed: {error!r}"))
        self._idle.set()

    def _fail_unwritten(self, error: Exception) -> None:
        """Fail the waiters of every update not committed yet and log how many updates that
        is, counting those whose waiters were cancelled meanwhile."""
        unwritten = [entry for _, group in self._committing for entry in group] + self._pending
        self._committing, self._pending = [], []
        for *_, future in unwritten:
            if not future.done():
                future.set_exception(error)
        if unwritten:
            _log.error("update_log_flush_abandoned", updates=len(unwritten), error=str(error))

    async def append(self, room: RoomId, update: bytes) -> int:
        if self._writer is None or self._writer.done():
            raise RuntimeError("the update log is not running")
        # The writer's loop is this one; asking asyncio for it costs a getpid() call per
        # update (its fork check), a syscall on the hottest path of the node.
        future: asyncio.Future[int] = self._writer.get_loop().create_future()
        self._pending.append((room, update, time.perf_counter(), future))
        self._idle.clear()
        self._wakeup.set()
        return await future

    async def _write_loop(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._pending:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                by_tenant: dict[uuid.UUID, list[_Pending]] = defaultdict(list)
                for entry in batch:
                    by_tenant[entry[0].tenant].append(entry)
                self._committing = list(by_tenant.items())
                while self._committing:
                    tenant, group = self._committing[0]
                    await self._commit_group(tenant, group)
                    del self._committing[0]
            self._idle.set()

    async def _commit_group(self, tenant: uuid.UUID, group: list[_Pending]) -> None:
        """Append one tenant's share of a batch in one statement (one commit); tell its
        waiters, and ``on_commit`` how long each update waited for it."""
        try:
            seqs = await self._append(tenant, group)
        except Exception as exc:  # every waiter learns of the failure
            error = _erased(exc) or exc
            _log.error("update_log_commit_failed", error=repr(error), batch=len(group))
            for *_, future in group:
                if not future.done():
                    future.set_exception(error)
            return
        if self._on_commit:
            now = time.perf_counter()
            try:
                self._on_commit([now - started for _, _, started, _ in group])
            except Exception as exc:  # a metric must not stop the writer
                _log.error("update_log_on_commit_failed", error=repr(exc))
        for (*_, future), seq in zip(group, seqs, strict=True):
            if not future.done():
                future.set_result(seq)

    async def _append(self, tenant: uuid.UUID, group: list[_Pending]) -> list[int]:
        """One autocommitted statement; on a lost connection, again on a fresh one.

        After a database restart or failover every idle pooled connection is dead, so the
        retry goes on past them (bounded). Retrying may store an update twice if the lost
        reply was a commit: harmless, since applying a Yjs update again changes nothing.
        """
        for attempt in range(self._pool.get_max_size() + 3):
            try:
                if not usable(self._conn):
                    await self._drop_connection()
                    self._conn = await self._pool.acquire(timeout=5)
                assert self._conn is not None
                # Autocommit: the function sets the tenant for its own transaction and inserts.
                rows = await self._conn.fetch(
                    "SELECT seq FROM append_room_updates($1, $2::text[], $3::bytea[]) AS seq",
                    tenant,
                    [room.name for room, *_ in group],
                    [update for _, update, *_ in group],
                )
            except (*_CONNECTION_LOST, TimeoutError) as exc:
                await self._drop_connection()
                _log.warning("update_log_connection_lost", error=repr(exc), attempt=attempt + 1)
                if attempt:  # the first retry at once (a dead idle connection), then back off
                    await asyncio.sleep(min(2.0, 0.05 * 2**attempt))
                continue
            except BaseException:
                await self._drop_connection()  # back to the pool, which resets or discards it
                raise
            # INSERT ... SELECT unnest keeps input order for RETURNING in practice; sort so
            # the mapping does not depend on it (seqs ascend with insertion).
            return sorted(row["seq"] for row in rows)
        raise ConnectionError("the update log's database connections keep failing")

    async def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await self._pool.release(conn, timeout=5)

    async def ping(self) -> None:
        """The database answers, and the writer runs (raises otherwise)."""
        if self._writer is not None and self._writer.done():
            raise RuntimeError("the update log's writer has stopped")
        async with self._pool.acquire() as conn:
            await conn.fetchval("SELECT 1")

    async def load(self, room: RoomId) -> StoredState:
        """The latest snapshot and the rows after it, read as of one moment (REPEATABLE
        READ): between two READ COMMITTED reads another node's compaction could commit, and
        the rows it merged would be in neither the snapshot read nor the log read. Read-only,
        the transaction never fails to serialize, and it blocks no append or compaction.

        A snapshot's blob is read outside that moment: compactions committed meanwhile may
        have trimmed it (``drop_snapshots``). Then the room is read again, once."""
        try:
            return await self._load(room)
        except SnapshotMissing:
            return await self._load(room)

    async def _load(self, room: RoomId) -> StoredState:
        async with tenant_transaction(
            self._pool, room.tenant, isolation="repeatable_read", readonly=True
        ) as conn:
            erased = await conn.fetchval(
                "SELECT EXISTS (SELECT 1 FROM erased_tenants WHERE tenant_id = $1)", room.tenant
            )
            if erased:
                raise TenantErased(f"organization {room.tenant} was erased")
            snapshot, snapshot_seq, rows = await self._read(conn, room)
        return StoredState(
            snapshot=snapshot,
            snapshot_seq=snapshot_seq,
            updates=[r["update"] for r in rows],
            last_seq=rows[-1]["seq"] if rows else snapshot_seq,
        )

    async def compact(
        self, room: RoomId, merge: Callable[[list[bytes]], bytes], *, wait: bool = False
    ) -> Compaction | None:
        """Merge snapshot + log into a new snapshot and delete exactly the merged rows.

        Rows committed after the read stay in the log, so nothing can fall between the
        snapshot and the log. An advisory lock keeps two nodes from compacting one room:
        one that finds it taken does nothing, unless told to ``wait`` for it.

        READ COMMITTED is what keeps its two reads consistent: the lock is free only once
        the previous compaction has committed, so each statement after it sees that
        snapshot and those deletions, and no other compaction commits until this one does;
        appends committed between the reads only add rows, merged now or by the next one.
        REPEATABLE READ would see the database as of before the lock (the tenant is set
        first) and redo a compaction that committed meanwhile, then fail on its snapshot's
        key or on deleting the rows it deleted.
        """
        async with tenant_transaction(self._pool, room.tenant) as conn:
            await _writable(conn, room.tenant)  # until it commits: no erasure meanwhile
            if not await _room_lock(conn, room, wait=wait):
                return None
            snapshot, _, rows = await self._read(conn, room)
            if not rows:
                return None
            seq = rows[-1]["seq"]
            merged = await self._merge(
                merge, ([snapshot] if snapshot else []) + [r["update"] for r in rows]
            )
            inline: bytes | None = merged
            blob_key: str | None = None
            if len(merged) > INLINE_SNAPSHOT_BYTES:
                blob_key = f"dojos/{room.tenant}/{room.name}/snapshots/{seq}.ydoc"
                await self._snapshots.put(blob_key, merged)
                inline = None
            await conn.execute(
                """INSERT INTO room_snapshots (tenant_id, room, seq_upto, inline_state, blob_key, size)
                   VALUES ($1, $2, $3, $4, $5, $6)""",
                room.tenant,
                room.name,
                seq,
                inline,
                blob_key,
                len(merged),
            )
            await conn.execute(
                "DELETE FROM room_updates WHERE tenant_id = $1 AND seq = ANY($2::bigint[])",
                room.tenant,
                [r["seq"] for r in rows],
            )
        return Compaction(seq, len(merged))

    async def forget_history(
        self, room: RoomId, merge: Callable[[list[bytes]], bytes]
    ) -> Compaction | None:
        """Compact the room now (after a compaction under way elsewhere), then delete every
        snapshot before the latest, with its blob: what the room's document has deleted
        is then nowhere in the log (LGPD). With no row to merge, the latest snapshot is
        compacted alone and rewritten where that changes it (one made before deleted
        content was dropped from merges). Returns the snapshot kept (None: the room has
        none).

        The earlier snapshots go after the compaction commits (``drop_snapshots``): a
        failure there leaves the room loadable from the snapshot just made."""
        if await self.compact(room, merge, wait=True) is None:
            await self._recompact(room, merge)
        forgotten = dropped = await self.drop_snapshots(room, keep=1)
        while dropped:
            dropped = await self.drop_snapshots(room, keep=1)
            forgotten += dropped
        if forgotten:
            _log.info("room_history_forgotten", room=room.key, snapshots=forgotten)
        # The one kept: another node's compaction may have come between.
        kept = (await self.snapshots(room))[-1:]
        return Compaction(kept[0].seq, kept[0].size) if kept else None

    async def drop_snapshots(
        self, room: RoomId, *, keep: int, wait: bool = True, limit: int = 100
    ) -> int:
        """Delete the room's snapshots but the ``keep`` latest, each with its blob; return
        how many went (none if the room's compaction lock is taken and not to be waited
        for). Under the room's compaction lock, in a transaction of its own: the
        blobs go before the rows commit, so a failure leaves every row naming its blob, and
        running it again finds them (a missing blob is no error). A room loads from its
        latest snapshot only, which stays. At most ``limit`` at a time, the oldest of them
        last: a room with a long backlog (from before snapshots were trimmed) is trimmed
        over several compactions, none holding the room's lock for long."""
        async with tenant_transaction(self._pool, room.tenant) as conn:
            await _writable(conn, room.tenant)
            if not await _room_lock(conn, room, wait=wait):
                return 0
            earlier = await conn.fetch(
                """SELECT id, blob_key FROM room_snapshots WHERE tenant_id = $1 AND room = $2
                   ORDER BY id DESC OFFSET $3 LIMIT $4""",
                room.tenant,
                room.name,
                max(keep, 1),
                limit,
            )
            for row in earlier:
                if row["blob_key"] is not None:
                    await self._snapshots.delete(row["blob_key"])
            await conn.execute(
                "DELETE FROM room_snapshots WHERE tenant_id = $1 AND id = ANY($2::bigint[])",
                room.tenant,
                [row["id"] for row in earlier],
            )
        return len(earlier)

    async def _recompact(
        self, room: RoomId, merge: Callable[[list[bytes]], bytes]
    ) -> Compaction | None:
        """Rewrite the latest snapshot in place as ``merge`` of it alone, if that differs."""
        async with tenant_transaction(self._pool, room.tenant) as conn:
            await _writable(conn, room.tenant)
            await _room_lock(conn, room, wait=True)
            snap = await conn.fetchrow(
                """SELECT id, seq_upto, inline_state, blob_key FROM room_snapshots
                   WHERE tenant_id = $1 AND room = $2 ORDER BY id DESC LIMIT 1""",
                room.tenant,
                room.name,
            )
            if snap is None:
                return None
            state = await self._snapshot_bytes(snap)
            merged = await self._merge(merge, [state])
            if merged != state:
                if snap["blob_key"] is not None:
                    await self._snapshots.put(snap["blob_key"], merged)  # (atomic replace)
                await conn.execute(
                    """UPDATE room_snapshots SET inline_state = $3, size = $4
                       WHERE tenant_id = $1 AND id = $2""",
                    room.tenant,
                    snap["id"],
                    None if snap["blob_key"] is not None else merged,
                    len(merged),
                )
        return Compaction(snap["seq_upto"], len(merged))

    async def _merge(self, merge: Callable[[list[bytes]], bytes], updates: list[bytes]) -> bytes:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._merge_process(), merge, updates)
        except BrokenProcessPool:
            # The worker died (killed, out of memory): without a new one every compaction
            # would fail until the node restarts.
            _log.warning("merge_process_lost")
            if self._merger is not None:
                self._merger.shutdown(wait=False, cancel_futures=True)
            self._merger = None
            return await loop.run_in_executor(self._merge_process(), merge, updates)

    def _merge_process(self) -> ProcessPoolExecutor:
        """The process that merges for compactions. Yrs keeps the GIL while it merges (some
        milliseconds for a large document), so a merge on a thread of this process would
        stall every room's fan-out just the same; a process of its own costs a copy of the
        bytes each way. Spawned, not forked (this process runs threads): it imports only
        what a merge needs, and exits with this process."""
        if self._merger is None:
            self._merger = ProcessPoolExecutor(
                1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=exit_with_parent,
                initargs=(os.getpid(),),
            )
        return self._merger

    async def _read(
        self, conn: asyncpg.Connection, room: RoomId
    ) -> tuple[bytes | None, int, list[asyncpg.Record]]:
        # The last snapshot made, not the one with the highest seq: an append may commit
        # after a higher seq was compacted, and the snapshot merging it then has a lower
        # ``seq_upto`` (and everything the one before it had).
        snap = await conn.fetchrow(
            """SELECT seq_upto, inline_state, blob_key FROM room_snapshots
               WHERE tenant_id = $1 AND room = $2 ORDER BY id DESC LIMIT 1""",
            room.tenant,
            room.name,
        )
        rows = await conn.fetch(
            "SELECT seq, update FROM room_updates WHERE tenant_id = $1 AND room = $2 ORDER BY seq",
            room.tenant,
            room.name,
        )
        snapshot = await self._snapshot_bytes(snap) if snap else None
        return snapshot, snap["seq_upto"] if snap else 0, rows

    async def _snapshot_bytes(self, snap: asyncpg.Record) -> bytes:
        if snap["inline_state"] is not None:
            return bytes(snap["inline_state"])
        data = await self._snapshots.get(snap["blob_key"])
        if data is None:
            raise SnapshotMissing(f"snapshot blob {snap['blob_key']} is missing")
        return data

    async def snapshots(self, room: RoomId) -> list[SnapshotInfo]:
        async with tenant_transaction(self._pool, room.tenant) as conn:
            rows = await conn.fetch(
                """SELECT seq_upto, size, extract(epoch FROM created_at) AS at FROM room_snapshots
                   WHERE tenant_id = $1 AND room = $2 ORDER BY id""",
                room.tenant,
                room.name,
            )
        return [SnapshotInfo(r["seq_upto"], r["size"], float(r["at"])) for r in rows]

    async def snapshot_at(self, room: RoomId, seq: int) -> bytes | None:
        """The snapshot whose ``seq_upto`` is ``seq``. There is at most one: each compaction
        deletes the rows it merged, one compaction of a room at a time, so no two merge the
        same row, and ``seq_upto`` is the highest seq a compaction merged (the primary key
        holds it to that too)."""
        async with tenant_transaction(self._pool, room.tenant) as conn:
            snap = await conn.fetchrow(
                """SELECT seq_upto, inline_state, blob_key FROM room_snapshots
                   WHERE tenant_id = $1 AND room = $2 AND seq_upto = $3""",
                room.tenant,
                room.name,
                seq,
            )
            if snap is None:
                return None
        try:
            return await self._snapshot_bytes(snap)
        except SnapshotMissing:
            if seq in {s.seq for s in await self.snapshots(room)}:
                raise
            return None  # trimmed since it was read: gone, not damaged

    async def erase_tenant(self, tenant: uuid.UUID) -> int:
        """Erase every room of ``tenant`` (LGPD): updates, snapshots and their blobs; mark it
        erased so that no node loads or writes its rooms again. Returns the rows deleted.

        First the mark, alone in a short transaction under the tenant's erasure lock: the
        appends and compactions under way finish first, and every later one fails. The lock
        is only tried, never queued for: a waiting exclusive request would hold up every
        new append of the tenant, and with them the node's other tenants' (one writer per
        node). Then the rows and blobs, which nothing can add to any more. Blobs go before
        the rows commit: a failure rolls back, and the erasure, run again, finds every key
        still recorded (a missing blob is no error).
        """
        await self._mark_erased(tenant)
        async with tenant_transaction(self._pool, tenant) as conn:
            keys = await conn.fetch(
                "SELECT blob_key FROM room_snapshots WHERE tenant_id = $1 AND blob_key IS NOT NULL",
                tenant,
            )
            for row in keys:
                await self._snapshots.delete(row["blob_key"])
            snapshots = await conn.fetch(
                "DELETE FROM room_snapshots WHERE tenant_id = $1 RETURNING 1", tenant
            )
            updates = await conn.fetch(
                "DELETE FROM room_updates WHERE tenant_id = $1 RETURNING 1", tenant
            )
        return len(snapshots) + len(updates)

    async def _mark_erased(self, tenant: uuid.UUID, *, tries: int = 100) -> None:
        """Insert the erased mark once no write of the tenant is under way. Tried without
        waiting every 50 ms for 5 s; writes that keep the lock busy all along (compactions
        back to back on several nodes) then get a short wait in the queue, 200 ms at a time,
        so the erasure gets through while no append waits behind it for longer than that."""
        key = f"collab-erasure:{tenant}"
        for attempt in range(2 * tries):
            with contextlib.suppress(asyncpg.LockNotAvailableError):  # (rolled back)
                async with tenant_transaction(self._pool, tenant) as conn:
                    if attempt < tries:
                        locked = await conn.fetchval(
                            "SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0))", key
                        )
                    else:
                        await conn.execute("SET LOCAL lock_timeout = '200ms'")
                        await conn.execute(
                            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", key
                        )
                        locked = True
                    if locked:
                        await conn.execute(
                            "INSERT INTO erased_tenants (tenant_id) VALUES ($1)"
                            " ON CONFLICT DO NOTHING",
                            tenant,
                        )
                        return
            await asyncio.sleep(0.05)
        raise TimeoutError(f"writes of organization {tenant} kept its erasure waiting")

    async def erased(self, tenants: set[uuid.UUID]) -> set[uuid.UUID]:
        """Which of ``tenants`` were erased (a node's maintenance pass asks for its rooms')."""
        if not tenants:
            return set()
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT tenant_id FROM erased_tenants WHERE tenant_id = ANY($1::uuid[])",
                list(tenants),
            )
        return {r["tenant_id"] for r in rows}


_ERASED = "MB410"  # SQLSTATE raised for an erased tenant (migration 0004)


def _erased(exc: BaseException) -> TenantErased | None:
    """The database's refusal to write an erased tenant, as the port's exception."""
    if isinstance(exc, asyncpg.PostgresError) and exc.sqlstate == _ERASED:
        return TenantErased(str(exc))
    return None


async def _writable(conn: asyncpg.Connection, tenant: uuid.UUID) -> None:
    """Hold the tenant's erasure lock (shared) for the transaction; raise if it was erased."""
    try:
        await conn.execute("SELECT collab_tenant_writable($1)", tenant)
    except asyncpg.PostgresError as exc:
        raise (_erased(exc) or exc) from None


async def _room_lock(conn: asyncpg.Connection, room: RoomId, *, wait: bool) -> bool:
    """Take the room's compaction lock for the transaction: wait for it, or only try."""
    if wait:
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", room.key)
        return True
    locked: bool = await conn.fetchval(
        "SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0))", room.key
    )
    return locked
