"""POC data access (PostgreSQL). Every function runs on a tenant-scoped connection (RLS)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeAlias

import asyncpg

Row: TypeAlias = asyncpg.Record

# Tags and frameworks come back as ordered arrays beside the POC's own columns.
SNAPSHOT = """
    p.poc_id, p.tenant_id, p.user_id AS owner_id, p.name, p.description, p.language,
    p.repository_url, p.status, p.visibility, p.started_on, p.finished_on, p.created_at,
    p.updated_at, p.deleted_at, p.version,
    ARRAY(SELECT t.tag FROM poc_tags t WHERE t.poc_id = p.poc_id ORDER BY t.position) AS tags,
    ARRAY(SELECT f.framework FROM poc_frameworks f WHERE f.poc_id = p.poc_id
          ORDER BY f.position) AS frameworks
"""
COLUMNS = (
    "name",
    "description",
    "language",
    "repository_url",
    "status",
    "visibility",
    "started_on",
    "finished_on",
)
# sort name -> (SQL key expression, direction)
SORTS: dict[str, tuple[str, str]] = {
    "newest": ("p.created_at", "DESC"),
    "oldest": ("p.created_at", "ASC"),
    "updated": ("p.updated_at", "DESC"),
    "name": ("poc_name_key(p.name)", "ASC"),  # accents aside (migration 0003)
}


async def insert_poc(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, owner_id: uuid.UUID, fields: dict[str, Any]
) -> uuid.UUID:
    poc_id = await conn.fetchval(
        f"""INSERT INTO pocs (tenant_id, user_id, {", ".join(COLUMNS)})
            VALUES ($1, $2, {", ".join(f"${i}" for i in range(3, 3 + len(COLUMNS)))})
            RETURNING poc_id""",
        tenant_id,
        owner_id,
        *(fields.get(c) for c in COLUMNS),
    )
    await replace_labels(conn, tenant_id, poc_id, fields.get("tags"), fields.get("frameworks"))
    return poc_id


async def replace_labels(
    conn: asyncpg.Connection,
    tenant_id: uuid.UUID,
    poc_id: uuid.UUID,
    tags: list[str] | None,
    frameworks: list[str] | None,
) -> None:
    """Replace the tags and/or frameworks given (``None`` leaves them as they are)."""
    for table, column, values in (
        ("poc_tags", "tag", tags),
        ("poc_frameworks", "framework", frameworks),
    ):
        if values is None:
            continue
        await conn.execute(f"DELETE FROM {table} WHERE poc_id = $1", poc_id)
        await conn.executemany(
            f"INSERT INTO {table} (tenant_id, poc_id, {column}, position) VALUES ($1, $2, $3, $4)",
            [(tenant_id, poc_id, value, i) for i, value in enumerate(values)],
        )


async def get_poc(
    conn: asyncpg.Connection, poc_id: uuid.UUID, *, for_update: bool = False
) -> Row | None:
    """A POC by id, trashed or not (RLS limits it to the transaction's tenant)."""
    lock = " FOR UPDATE OF p" if for_update else ""
    return await conn.fetchrow(f"SELECT {SNAPSHOT} FROM pocs p WHERE p.poc_id = $1{lock}", poc_id)


async def update_poc(conn: asyncpg.Connection, poc_id: uuid.UUID, fields: dict[str, Any]) -> None:
    """Set ``fields``, bump the version; tags/frameworks in ``fields`` replace the old ones."""
    columns = [c for c in COLUMNS if c in fields]
    assignments = [f"{c} = ${i}" for i, c in enumerate(columns, start=2)]
    row = await conn.fetchrow(
        f"""UPDATE pocs SET {", ".join([*assignments, "version = version + 1", "updated_at = clock_timestamp()"])}
            WHERE poc_id = $1 RETURNING tenant_id""",
        poc_id,
        *(fields[c] for c in columns),
    )
    await replace_labels(
        conn, row["tenant_id"], poc_id, fields.get("tags"), fields.get("frameworks")
    )


async def set_deleted(conn: asyncpg.Connection, poc_id: uuid.UUID, deleted: bool) -> None:
    await conn.execute(
        """UPDATE pocs SET deleted_at = CASE WHEN $2 THEN now() END,
                  version = version + 1, updated_at = clock_timestamp()
           WHERE poc_id = $1""",
        poc_id,
        deleted,
    )


@dataclass(frozen=True)
class ListFilter:
    viewer_id: uuid.UUID
    mine_only: bool = False
    language: str | None = None
    status: str | None = None
    visibility: str | None = None
    tags: tuple[str, ...] = ()
    name_contains: str | None = None


def _where(f: ListFilter, args: list[Any]) -> list[str]:
    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    viewer = arg(f.viewer_id)
    clauses = [
        f"p.user_id = {viewer}"
        if f.mine_only
        else f"(p.visibility = 'tenant' OR p.user_id = {viewer})"
    ]
    if f.language:
        clauses.append(f"lower(p.language) = lower({arg(f.language)})")
    if f.status:
        clauses.append(f"p.status = {arg(f.status)}")
    if f.visibility:
        clauses.append(f"p.visibility = {arg(f.visibility)}")
    if f.tags:
        clauses.append(
            f"""p.poc_id IN (SELECT t.poc_id FROM poc_tags t WHERE t.tag = ANY({arg(list(f.tags))})
                GROUP BY t.poc_id HAVING count(*) = {arg(len(f.tags))})"""
        )
    if f.name_contains:
        escaped = f.name_contains.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        clauses.append(f"p.name ILIKE {arg(f'%{escaped}%')}")
    return clauses


async def list_pocs(
    conn: asyncpg.Connection,
    f: ListFilter,
    *,
    sort: str,
    limit: int,
    after: tuple[Any, uuid.UUID] | None,
) -> list[Row]:
    """Live POCs the viewer may see, in ``sort`` order, after the keyset ``after``."""
    key, direction = SORTS[sort]
    args: list[Any] = []
    clauses = ["p.deleted_at IS NULL", *_where(f, args)]
    op = "<" if direction == "DESC" else ">"
    if after is not None:
        args += list(after)
        clauses.append(f"({key}, p.poc_id) {op} (${len(args) - 1}, ${len(args)})")
    args.append(limit)
    return await conn.fetch(
        f"""SELECT {SNAPSHOT}, {key} AS sort_key FROM pocs p WHERE {" AND ".join(clauses)}
            ORDER BY {key} {direction}, p.poc_id {direction} LIMIT ${len(args)}""",
        *args,
    )


async def list_trash(
    conn: asyncpg.Connection,
    owner_id: uuid.UUID,
    *,
    since: datetime,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None,
) -> list[Row]:
    """The owner's POCs deleted after ``since`` (still restorable), most recent first."""
    args: list[Any] = [owner_id, since]
    clauses = ["p.user_id = $1", "p.deleted_at IS NOT NULL", "p.deleted_at > $2"]
    if after is not None:
        args += list(after)
        clauses.append("(p.deleted_at, p.poc_id) < ($3, $4)")
    args.append(limit)
    return await conn.fetch(
        f"""SELECT {SNAPSHOT} FROM pocs p WHERE {" AND ".join(clauses)}
            ORDER BY p.deleted_at DESC, p.poc_id DESC LIMIT ${len(args)}""",
        *args,
    )


async def feed(conn: asyncpg.Connection, *, limit: int, after: uuid.UUID | None) -> list[Row]:
    """Every live POC of the tenant (private ones too), by id: the index rebuild feed."""
    return await conn.fetch(
        f"""SELECT {SNAPSHOT} FROM pocs p
            WHERE p.deleted_at IS NULL AND ($1::uuid IS NULL OR p.poc_id > $1)
            ORDER BY p.poc_id LIMIT $2""",
        after,
        limit,
    )


async def purge_expired(conn: asyncpg.Connection, *, retention: timedelta, batch: int) -> list[Row]:
    """Delete trashed POCs past retention, every tenant's.

    Runs as the owner role, whose only policy on ``pocs`` (``purge_expired``) shows it the
    rows in the trash for longer than the minimum retention, and nothing else.
    """
    return await conn.fetch(
        """DELETE FROM pocs WHERE poc_id IN (
               SELECT poc_id FROM pocs WHERE deleted_at < now() - $1::interval
               ORDER BY deleted_at LIMIT $2 FOR UPDATE SKIP LOCKED)
           RETURNING poc_id, tenant_id, user_id AS owner_id, version""",
        retention,
        batch,
    )


async def erase_tenant(conn: asyncpg.Connection, tenant_id: uuid.UUID) -> int:
    """Delete every POC of the transaction's tenant (tags and frameworks go with them) and
    its outbox rows (their POC snapshots too); return how many POCs."""
    deleted = await conn.fetch("DELETE FROM pocs WHERE tenant_id = $1 RETURNING poc_id", tenant_id)
    await conn.execute("DELETE FROM outbox WHERE tenant_id = $1", tenant_id)
    return len(deleted)


async def erase_member_pocs(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, user_id: uuid.UUID
) -> list[Row]:
    """Delete the POCs of a departed member that nobody else can reach: private ones and
    those in the trash. Returns them as ``purge_expired`` does, for their events."""
    return await conn.fetch(
        """DELETE FROM pocs
           WHERE tenant_id = $1 AND user_id = $2
             AND (visibility = 'private' OR deleted_at IS NOT NULL)
           RETURNING poc_id, tenant_id, user_id AS owner_id, version""",
        tenant_id,
        user_id,
    )
