"""Data access for what a dojo produces: code snapshots and chat messages (tenant-scoped)."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from .store import Cursor, Row, insert_row


async def insert_snapshot(conn: asyncpg.Connection, **values: Any) -> Row:
    return await insert_row(conn, "dojo_code_snapshots", values)


async def list_snapshots(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, dojo_id: uuid.UUID, *, limit: int, after: Cursor
) -> list[Row]:
    """Newest first, without the code."""
    return await conn.fetch(
        """SELECT snapshot_id, dojo_id, timestamp, user_id, driver_id, reason, turn,
                  char_length(code) AS size
           FROM dojo_code_snapshots
            WHERE tenant_id = $1 AND dojo_id = $2
              AND ($3::timestamptz IS NULL OR (timestamp, snapshot_id) < ($3, $4))
            ORDER BY timestamp DESC, snapshot_id DESC LIMIT $5""",
        tenant_id,
        dojo_id,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )


async def all_snapshots(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, dojo_id: uuid.UUID
) -> list[Row]:
    """Oldest first, with the code (attribution, export)."""
    return await conn.fetch(
        """SELECT * FROM dojo_code_snapshots WHERE tenant_id = $1 AND dojo_id = $2
           ORDER BY timestamp, snapshot_id""",
        tenant_id,
        dojo_id,
    )


async def get_snapshot(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, dojo_id: uuid.UUID, snapshot_id: uuid.UUID
) -> Row | None:
    return await conn.fetchrow(
        """SELECT * FROM dojo_code_snapshots
           WHERE tenant_id = $1 AND dojo_id = $2 AND snapshot_id = $3""",
        tenant_id,
        dojo_id,
        snapshot_id,
    )


async def latest_snapshot(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, dojo_id: uuid.UUID
) -> Row | None:
    return await conn.fetchrow(
        """SELECT * FROM dojo_code_snapshots WHERE tenant_id = $1 AND dojo_id = $2
           ORDER BY timestamp DESC, snapshot_id DESC LIMIT 1""",
        tenant_id,
        dojo_id,
    )


async def insert_message(conn: asyncpg.Connection, **values: Any) -> Row:
    return await insert_row(conn, "dojo_chat_messages", values)


async def list_messages(
    conn: asyncpg.Connection,
    tenant_id: uuid.UUID,
    dojo_id: uuid.UUID,
    *,
    limit: int | None,
    after: Cursor,
) -> list[Row]:
    """Newest first (all of them when ``limit`` is None)."""
    return await conn.fetch(
        """SELECT * FROM dojo_chat_messages
           WHERE tenant_id = $1 AND dojo_id = $2
             AND ($3::timestamptz IS NULL OR (timestamp, message_id) < ($3, $4))
           ORDER BY timestamp DESC, message_id DESC LIMIT $5""",
        tenant_id,
        dojo_id,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )


async def get_message(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, dojo_id: uuid.UUID, message_id: uuid.UUID
) -> Row | None:
    return await conn.fetchrow(
        """SELECT * FROM dojo_chat_messages
           WHERE tenant_id = $1 AND dojo_id = $2 AND message_id = $3""",
        tenant_id,
        dojo_id,
        message_id,
    )


async def delete_message(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, message_id: uuid.UUID
) -> None:
    await conn.execute(
        "DELETE FROM dojo_chat_messages WHERE tenant_id = $1 AND message_id = $2",
        tenant_id,
        message_id,
    )


async def has_snapshot(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, dojo_id: uuid.UUID, reason: str
) -> bool:
    return bool(
        await conn.fetchval(
            """SELECT EXISTS (SELECT 1 FROM dojo_code_snapshots
                              WHERE tenant_id = $1 AND dojo_id = $2 AND reason = $3)""",
            tenant_id,
            dojo_id,
            reason,
        )
    )


async def message_ids(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, dojo_id: uuid.UUID, user_id: uuid.UUID
) -> set[str]:
    """The ids of ``user_id``'s chat messages in the dojo that still exist."""
    rows = await conn.fetch(
        """SELECT message_id FROM dojo_chat_messages
           WHERE tenant_id = $1 AND dojo_id = $2 AND user_id = $3""",
        tenant_id,
        dojo_id,
        user_id,
    )
    return {str(r["message_id"]) for r in rows}


async def snapshot_keys(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, dojo_id: uuid.UUID | None = None
) -> list[str]:
    """The object keys of every code snapshot of the tenant, or of one of its dojos (erasure)."""
    rows = await conn.fetch(
        """SELECT object_key FROM dojo_code_snapshots
           WHERE tenant_id = $1 AND ($2::uuid IS NULL OR dojo_id = $2) ORDER BY object_key""",
        tenant_id,
        dojo_id,
    )
    return [r["object_key"] for r in rows]
