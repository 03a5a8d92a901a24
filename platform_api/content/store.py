"""Content data access (PostgreSQL). Every function runs on a tenant-scoped connection.

Status changes made by workers are guarded by the lease token: a worker that lost its job
(presumed dead after the visibility timeout) can no longer move it. Each change also sends a
``NOTIFY content_progress`` (delivered at commit), which wakes the live progress streams.
"""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime
from typing import Any, TypeAlias

import asyncpg

Row: TypeAlias = asyncpg.Record
CHANNEL = "content_progress"

REQUEST_COLUMNS = """request_id, tenant_id, user_id, type, status, title, from_date, to_date,
    output_language, parameters, progress, error_message, result_key, result_bytes,
    thumbnail_key, attempts,
    idempotency_key, request_hash, created_at, updated_at, started_at, completed_at,
    (SELECT count(*) FROM content_request_pocs p WHERE p.request_id = r.request_id) AS poc_count"""


async def _notify(conn: asyncpg.Connection, request_id: uuid.UUID) -> None:
    await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, str(request_id))


async def active_requests(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, user_id: uuid.UUID, *, lock: bool
) -> tuple[int, int]:
    """The requests waiting or rendering: the user's, and their organization's. With
    ``lock``, first takes a lock on the organization's count for the transaction, so that
    two requests made at once cannot both pass a limit."""
    if lock:
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 7))", str(tenant_id))
    row = await conn.fetchrow(
        """SELECT count(*) FILTER (WHERE user_id = $2) AS mine, count(*) AS ours
           FROM content_requests
           WHERE tenant_id = $1 AND status IN ('queued', 'running')""",
        tenant_id,
        user_id,
    )
    return int(row["mine"]), int(row["ours"])


async def insert_request(
    conn: asyncpg.Connection,
    *,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    type_: str,
    title: str,
    from_date: date,
    to_date: date,
    output_language: str,
    parameters: dict[str, Any],
    idempotency_key: str | None,
    request_hash: str,
) -> uuid.UUID:
    return await conn.fetchval(
        """INSERT INTO content_requests (tenant_id, user_id, type, title, from_date, to_date,
               output_language, parameters, idempotency_key, request_hash)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING request_id""",
        tenant_id,
        user_id,
        type_,
        title,
        from_date,
        to_date,
        output_language,
        parameters,
        idempotency_key,
        request_hash,
    )


async def insert_pocs(
    conn: asyncpg.Connection,
    tenant_id: uuid.UUID,
    request_id: uuid.UUID,
    pocs: list[dict[str, Any]],
    seconds_per_poc: float | None,
) -> None:
    seen: set[str] = set()
    rows: list[tuple[Any, ...]] = []
    for poc in pocs:
        if poc["poc_id"] in seen:
            continue
        seen.add(poc["poc_id"])
        rows.append(
            (
                request_id,
                tenant_id,
                uuid.UUID(poc["poc_id"]),
                len(rows) + 1,
                seconds_per_poc,
                json.dumps(poc),
            )
        )
    await conn.executemany(
        """INSERT INTO content_request_pocs
           (request_id, tenant_id, poc_id, sequence_order, duration_seconds, snapshot)
           VALUES ($1, $2, $3, $4, $5, $6::text::jsonb)""",
        rows,
    )


async def get_request(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, request_id: uuid.UUID
) -> Row | None:
    return await conn.fetchrow(
        f"SELECT {REQUEST_COLUMNS} FROM content_requests r"
        " WHERE tenant_id = $1 AND request_id = $2",
        tenant_id,
        request_id,
    )


async def get_owned(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, user_id: uuid.UUID, request_id: uuid.UUID
) -> Row | None:
    row = await get_request(conn, tenant_id, request_id)
    return row if row is not None and row["user_id"] == user_id else None


async def by_idempotency_key(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, user_id: uuid.UUID, key: str
) -> Row | None:
    return await conn.fetchrow(
        f"SELECT {REQUEST_COLUMNS} FROM content_requests r"
        " WHERE tenant_id = $1 AND user_id = $2 AND idempotency_key = $3",
        tenant_id,
        user_id,
        key,
    )


async def list_requests(
    conn: asyncpg.Connection,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    *,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None,
    type_: str | None,
    status: str | None,
) -> list[Row]:
    return await conn.fetch(
        f"""SELECT {REQUEST_COLUMNS} FROM content_requests r
            WHERE tenant_id = $1 AND user_id = $2
              AND ($3::text IS NULL OR type = $3)
              AND ($4::text IS NULL OR status = $4)
              AND ($5::timestamptz IS NULL OR (created_at, request_id) < ($5, $6))
            ORDER BY created_at DESC, request_id DESC LIMIT $7""",
        tenant_id,
        user_id,
        type_,
        status,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )


async def cancel(conn: asyncpg.Connection, tenant_id: uuid.UUID, request_id: uuid.UUID) -> bool:
    """Cancel a queued or running request; False if it had already finished."""
    done = await conn.fetchval(
        """UPDATE content_requests
           SET status = 'cancelled', lease_token = NULL, updated_at = now(), completed_at = now()
           WHERE tenant_id = $1 AND request_id = $2 AND status IN ('queued', 'running')
           RETURNING true""",
        tenant_id,
        request_id,
    )
    if done:
        await _notify(conn, request_id)
    return bool(done)


async def delete(conn: asyncpg.Connection, tenant_id: uuid.UUID, request_id: uuid.UUID) -> None:
    await conn.execute(
        "DELETE FROM content_requests WHERE tenant_id = $1 AND request_id = $2",
        tenant_id,
        request_id,
    )
    await _notify(conn, request_id)


async def erase_requests(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, user_id: uuid.UUID | None = None
) -> int:
    """Delete every request of the tenant, or only ``user_id``'s; their POC snapshots go
    with them (ON DELETE CASCADE). Each one's notice tells its live progress streams that it
    is gone, and a worker rendering it loses its lease. Returns how many."""
    erased = await conn.fetch(
        """DELETE FROM content_requests
           WHERE tenant_id = $1 AND ($2::uuid IS NULL OR user_id = $2)
           RETURNING request_id""",
        tenant_id,
        user_id,
    )
    await conn.execute(
        "SELECT pg_notify($1, id::text) FROM unnest($2::uuid[]) AS id",
        CHANNEL,
        [row["request_id"] for row in erased],
    )
    return len(erased)


# --- used by the media workers ------------------------------------------------------------


async def claim(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, request_id: uuid.UUID, lease: uuid.UUID
) -> Row | None:
    """Take the job (queued, or running under a worker presumed dead); None if it is over."""
    row = await conn.fetchrow(
        """UPDATE content_requests
           SET status = 'running', lease_token = $3, attempts = attempts + 1, progress = 0,
               started_at = coalesce(started_at, now()), updated_at = now()
           WHERE tenant_id = $1 AND request_id = $2 AND status IN ('queued', 'running')
           RETURNING request_id""",
        tenant_id,
        request_id,
        lease,
    )
    if row is None:
        return None
    await _notify(conn, request_id)
    return await get_request(conn, tenant_id, request_id)


async def snapshot(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, request_id: uuid.UUID
) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT snapshot FROM content_request_pocs
           WHERE tenant_id = $1 AND request_id = $2 ORDER BY sequence_order""",
        tenant_id,
        request_id,
    )
    return [row["snapshot"] for row in rows]


async def set_progress(
    conn: asyncpg.Connection,
    tenant_id: uuid.UUID,
    request_id: uuid.UUID,
    lease: uuid.UUID,
    pct: int,
) -> bool:
    """Record progress; False when the job was cancelled, deleted or taken over."""
    ok = await conn.fetchval(
        """UPDATE content_requests SET progress = GREATEST(progress, $4), updated_at = now()
           WHERE tenant_id = $1 AND request_id = $2 AND lease_token = $3 AND status = 'running'
           RETURNING true""",
        tenant_id,
        request_id,
        lease,
        max(0, min(100, pct)),
    )
    if ok:
        await _notify(conn, request_id)
    return bool(ok)


async def finish(
    conn: asyncpg.Connection,
    tenant_id: uuid.UUID,
    request_id: uuid.UUID,
    lease: uuid.UUID,
    *,
    status: str,
    result_key: str | None = None,
    result_bytes: int | None = None,
    thumbnail_key: str | None = None,
    error: str | None = None,
) -> bool:
    """Move a running job to ``status`` once; False if this worker no longer holds it."""
    ok = await conn.fetchval(
        """UPDATE content_requests
           SET status = $4::text,
               progress = CASE WHEN $4::text = 'succeeded' THEN 100 ELSE progress END,
               result_key = $5, result_bytes = $6, error_message = $7, thumbnail_key = $8,
               lease_token = NULL,
               completed_at = now(), updated_at = now()
           WHERE tenant_id = $1 AND request_id = $2 AND lease_token = $3 AND status = 'running'
           RETURNING true""",
        tenant_id,
        request_id,
        lease,
        status,
        result_key,
        result_bytes,
        error,
        thumbnail_key,
    )
    if ok:
        await _notify(conn, request_id)
    return bool(ok)
