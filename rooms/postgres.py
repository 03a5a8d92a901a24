"""PostgreSQL update log with group commit, snapshots and compaction (database ``collab``).

``append`` returns only after the update is committed. Appends that arrive while a commit
is in flight are written together by the next one, so throughput grows with load while an
idle room pays one round trip. Rows carry their tenant and the tables force row-level
security: each batch sets ``app.tenant_id`` per tenant group inside its transaction.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Callable

import asyncpg
import structlog

from platform_api.kernel.db import tenant_transaction

from .ids import RoomId
from .ports import SnapshotInfo, SnapshotStore, StoredState

_log = structlog.get_logger("rooms.postgres")
INLINE_SNAPSHOT_BYTES = 64 * 1024


class PostgresUpdateLog:
    def __init__(
        self,
        pool: asyncpg.Pool,
        snapshots: SnapshotStore,
        *,
        max_batch: int = 1024,
        on_commit: Callable[[float, int], None] | None = None,
    ) -> None:
        self._pool = pool
        self._snapshots = snapshots
        self._max_batch = max_batch
        self._pending: list[tuple[RoomId, bytes, float, asyncio.Future[int]]] = []
        self._wakeup = asyncio.Event()
        self._on_commit = on_commit
        self._writer: asyncio.Task[None] | None = None

    async def __aenter__(self) -> PostgresUpdateLog:
        self._writer = asyncio.create_task(self._write_loop(), name="update-log-writer")
        return self

    async def __aexit__(self, *exc: object) -> None:
        """Flush what is pending, then stop the writer."""
        while self._pending:
            self._wakeup.set()
            await asyncio.sleep(0.001)
        if self._writer:
            self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)

    async def append(self, room: RoomId, update: bytes) -> int:
        if self._writer is None or self._writer.done():
            raise RuntimeError("the update log is not running")
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._pending.append((room, update, time.perf_counter(), future))
        self._wakeup.set()
        return await future

    async def _write_loop(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._pending:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                try:
                    seqs = await self._commit(batch)
                except Exception as exc:  # every waiter learns of the failure
                    _log.error("update_log_commit_failed", error=repr(exc), batch=len(batch))
                    for *_, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                now = time.perf_counter()
                for (_, _, started, future), seq in zip(batch, seqs, strict=True):
                    if self._on_commit:
                        self._on_commit(now - started, len(batch))
                    if not future.done():
                        future.set_result(seq)

    async def _commit(
        self, batch: list[tuple[RoomId, bytes, float, asyncio.Future[int]]]
    ) -> list[int]:
        by_tenant: dict[str, list[int]] = defaultdict(list)
        for index, (room, *_rest) in enumerate(batch):
            by_tenant[str(room.tenant)].append(index)
        seqs = [0] * len(batch)
        async with self._pool.acquire() as conn, conn.transaction():
            for tenant, indexes in by_tenant.items():
                await conn.execute("SELECT set_config('app.tenant_id', $1, true)", tenant)
                rows = await conn.fetch(
                    """INSERT INTO room_updates (tenant_id, room, update)
                       SELECT $1::uuid, r, u FROM unnest($2::text[], $3::bytea[]) AS t(r, u)
                       RETURNING seq""",
                    tenant,
                    [batch[i][0].name for i in indexes],
                    [batch[i][1] for i in indexes],
                )
                # INSERT ... SELECT unnest keeps input order for RETURNING in practice; sort
                # both so the mapping does not depend on it (seqs ascend with insertion).
                for i, row in zip(indexes, sorted(r["seq"] for r in rows), strict=True):
                    seqs[i] = row
        return seqs

    async def ping(self) -> None:
        async with self._pool.acquire() as conn:
            await conn.fetchval("SELECT 1")

    async def load(self, room: RoomId) -> StoredState:
        async with tenant_transaction(self._pool, room.tenant) as conn:
            snapshot, snapshot_seq, rows = await self._read(conn, room)
        return StoredState(
            snapshot=snapshot,
            snapshot_seq=snapshot_seq,
            updates=[r["update"] for r in rows],
            last_seq=rows[-1]["seq"] if rows else snapshot_seq,
        )

    async def since(self, room: RoomId, seconds: float) -> list[bytes]:
        async with tenant_transaction(self._pool, room.tenant) as conn:
            rows = await conn.fetch(
                """SELECT update FROM room_updates WHERE tenant_id = $1 AND room = $2
                   AND created_at >= now() - make_interval(secs => $3) ORDER BY seq""",
                room.tenant,
                room.name,
                seconds,
            )
        return [r["update"] for r in rows]

    async def compact(self, room: RoomId, merge: Callable[[list[bytes]], bytes]) -> int | None:
        """Merge snapshot + log into a new snapshot and delete exactly the merged rows.

        Rows committed after the read stay in the log, so nothing can fall between the
        snapshot and the log. An advisory lock keeps two nodes from compacting one room.
        """
        async with tenant_transaction(self._pool, room.tenant) as conn:
            locked = await conn.fetchval(
                "SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0))", room.key
            )
            if not locked:
                return None
            snapshot, _, rows = await self._read(conn, room)
            if not rows:
                return None
            seq = rows[-1]["seq"]
            merged = await asyncio.to_thread(
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
        return seq

    async def _read(
        self, conn: asyncpg.Connection, room: RoomId
    ) -> tuple[bytes | None, int, list[asyncpg.Record]]:
        snap = await conn.fetchrow(
            """SELECT seq_upto, inline_state, blob_key FROM room_snapshots
               WHERE tenant_id = $1 AND room = $2 ORDER BY seq_upto DESC LIMIT 1""",
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
            raise RuntimeError(f"snapshot blob {snap['blob_key']} is missing")
        return data

    async def snapshots(self, room: RoomId) -> list[SnapshotInfo]:
        async with tenant_transaction(self._pool, room.tenant) as conn:
            rows = await conn.fetch(
                """SELECT seq_upto, size, extract(epoch FROM created_at) AS at FROM room_snapshots
                   WHERE tenant_id = $1 AND room = $2 ORDER BY seq_upto""",
                room.tenant,
                room.name,
            )
        return [SnapshotInfo(r["seq_upto"], r["size"], float(r["at"])) for r in rows]

    async def snapshot_at(self, room: RoomId, seq: int) -> bytes | None:
        async with tenant_transaction(self._pool, room.tenant) as conn:
            snap = await conn.fetchrow(
                """SELECT seq_upto, inline_state, blob_key FROM room_snapshots
                   WHERE tenant_id = $1 AND room = $2 AND seq_upto = $3""",
                room.tenant,
                room.name,
                seq,
            )
        return await self._snapshot_bytes(snap) if snap else None
