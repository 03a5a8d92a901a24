"""Dojo data access (PostgreSQL). Every function runs on a tenant-scoped connection,
except :func:`due_dojos`, which runs on the worker's owner connection."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, TypeAlias

import asyncpg

Row: TypeAlias = asyncpg.Record
Cursor = tuple[datetime, uuid.UUID] | None

DOJO_FIELDS = {
    "name", "description", "language", "format", "initial_code", "planned_minutes",
    "rotation_seconds", "max_participants", "scheduled_start_time", "status", "started_at",
    "ended_at", "archived_at", "driver_id", "rotation_order", "timer_state", "turn_due_at",
    "turn_remaining_ms", "turn", "next_snapshot_at", "room_sync_due", "is_private", "tags",
}  # fmt: skip
PARTICIPANT_FIELDS = {"role", "status", "leave_time", "last_active_time", "display_name"}


async def insert_row(conn: asyncpg.Connection, table: str, values: dict[str, Any]) -> Row:
    """INSERT ``values`` into ``table`` (a constant of this package) and return the row."""
    columns = ", ".join(values)
    placeholders = ", ".join(f"${i}" for i in range(1, len(values) + 1))
    return await conn.fetchrow(
        f"INSERT INTO {table} ({columns}) VALUES ({placeholders}) RETURNING *", *values.values()
    )


async def insert_dojo(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, creator_id: uuid.UUID, fields: dict[str, Any]
) -> Row:
    columns = ["tenant_id", "creator_id", *fields]
    values = [tenant_id, creator_id, *fields.values()]
    placeholders = ", ".join(f"${i}" for i in range(1, len(values) + 1))
    return await conn.fetchrow(
        f"INSERT INTO dojos ({', '.join(columns)}) VALUES ({placeholders}) RETURNING *",
        *values,
    )


async def get_dojo(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, dojo_id: uuid.UUID, *, lock: bool = False
) -> Row | None:
    suffix = " FOR UPDATE" if lock else ""
    return await conn.fetchrow(
        f"SELECT * FROM dojos WHERE tenant_id = $1 AND dojo_id = $2{suffix}", tenant_id, dojo_id
    )


async def lock_dojo_if_free(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, dojo_id: uuid.UUID
) -> Row | None:
    """The dojo, locked; None when another worker holds it (it is doing the job)."""
    return await conn.fetchrow(
        "SELECT * FROM dojos WHERE tenant_id = $1 AND dojo_id = $2 FOR UPDATE SKIP LOCKED",
        tenant_id,
        dojo_id,
    )


async def update_dojo(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, dojo_id: uuid.UUID, **fields: Any
) -> Row:
    """Change ``fields`` and bump the version (events carry it)."""
    unknown = set(fields) - DOJO_FIELDS
    if unknown:
        raise ValueError(f"not updatable: {unknown}")
    sets = ", ".join(f"{name} = ${i}" for i, name in enumerate(fields, start=3))
    prefix = f"{sets}, " if sets else ""
    return await conn.fetchrow(
        f"""UPDATE dojos SET {prefix}version = version + 1, updated_at = now()
            WHERE tenant_id = $1 AND dojo_id = $2 RETURNING *""",
        tenant_id,
        dojo_id,
        *fields.values(),
    )


async def list_dojos(
    conn: asyncpg.Connection,
    tenant_id: uuid.UUID,
    *,
    limit: int,
    after: Cursor,
    status: str | None,
    language: str | None,
    since: datetime | None,
    until: datetime | None,
    viewer_id: uuid.UUID,
    sees_private: bool,
) -> list[Row]:
    """Newest first. ``since``/``until`` bound the dojo's date: started, else scheduled,
    else created. Private dojos only for their creator, active participants, or
    ``sees_private`` (tenant admins)."""
    return await conn.fetch(
        """SELECT d.*, (SELECT count(*) FROM dojo_participants p
                        WHERE p.dojo_id = d.dojo_id AND p.status = 'active') AS participant_count
           FROM dojos d
           WHERE d.tenant_id = $1
             AND ($2::text IS NULL OR d.status = $2)
             AND ($2::text IS NOT NULL OR d.status <> 'archived')
             AND ($3::text IS NULL OR lower(d.language) = lower($3))
             AND ($4::timestamptz IS NULL
                  OR coalesce(d.started_at, d.scheduled_start_time, d.created_at) >= $4)
             AND ($5::timestamptz IS NULL
                  OR coalesce(d.started_at, d.scheduled_start_time, d.created_at) < $5)
             AND ($6::timestamptz IS NULL OR (d.created_at, d.dojo_id) < ($6, $7))
             AND (NOT d.is_private OR $9 OR d.creator_id = $10 OR EXISTS (
                  SELECT 1 FROM dojo_participants p
                  WHERE p.dojo_id = d.dojo_id AND p.user_id = $10 AND p.status = 'active'))
           ORDER BY d.created_at DESC, d.dojo_id DESC LIMIT $8""",
        tenant_id,
        status,
        language,
        since,
        until,
        after[0] if after else None,
        after[1] if after else None,
        limit,
        sees_private,
        viewer_id,
    )


async def feed(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, *, limit: int, after: uuid.UUID | None
) -> list[Row]:
    """Every dojo of the tenant, archived ones too, in id order, with its active
    participants (``participant_ids``): the search index's rebuild feed."""
    return await conn.fetch(
        """SELECT d.*, ARRAY(SELECT p.user_id FROM dojo_participants p
                             WHERE p.dojo_id = d.dojo_id AND p.status = 'active'
                             ORDER BY p.join_time, p.user_id) AS participant_ids
           FROM dojos d
           WHERE d.tenant_id = $1 AND ($2::uuid IS NULL OR d.dojo_id > $2)
           ORDER BY d.dojo_id LIMIT $3""",
        tenant_id,
        after,
        limit,
    )


# -- participants ------------------------------------------------------------------------


async def get_participant(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, dojo_id: uuid.UUID, user_id: uuid.UUID
) -> Row | None:
    return await conn.fetchrow(
        "SELECT * FROM dojo_participants WHERE tenant_id = $1 AND dojo_id = $2 AND user_id = $3",
        tenant_id,
        dojo_id,
        user_id,
    )


async def upsert_participant(
    conn: asyncpg.Connection,
    tenant_id: uuid.UUID,
    dojo_id: uuid.UUID,
    user_id: uuid.UUID,
    *,
    display_name: str,
    role: str,
    invite_id: uuid.UUID | None,
) -> Row:
    return await conn.fetchrow(
        """INSERT INTO dojo_participants (tenant_id, dojo_id, user_id, display_name, role, invite_id)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (dojo_id, user_id) DO UPDATE
             SET display_name = EXCLUDED.display_name, role = EXCLUDED.role,
                 invite_id = EXCLUDED.invite_id, status = 'active', join_time = now(),
                 leave_time = NULL
           RETURNING *""",
        tenant_id,
        dojo_id,
        user_id,
        display_name,
        role,
        invite_id,
    )


async def update_participant(
    conn: asyncpg.Connection,
    tenant_id: uuid.UUID,
    dojo_id: uuid.UUID,
    user_id: uuid.UUID,
    **fields: Any,
) -> Row:
    if set(fields) - PARTICIPANT_FIELDS:
        raise ValueError("not updatable")
    sets = ", ".join(f"{name} = ${i}" for i, name in enumerate(fields, start=4))
    return await conn.fetchrow(
        f"""UPDATE dojo_participants SET {sets}
            WHERE tenant_id = $1 AND dojo_id = $2 AND user_id = $3 RETURNING *""",
        tenant_id,
        dojo_id,
        user_id,
        *fields.values(),
    )


async def list_participants(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, dojo_id: uuid.UUID, *, active_only: bool
) -> list[Row]:
    return await conn.fetch(
        """SELECT * FROM dojo_participants
           WHERE tenant_id = $1 AND dojo_id = $2 AND (NOT $3 OR status = 'active')
           ORDER BY join_time, user_id""",
        tenant_id,
        dojo_id,
        active_only,
    )


async def active_ids(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, dojo_id: uuid.UUID
) -> list[uuid.UUID]:
    """Who takes part now, in joining order."""
    rows = await conn.fetch(
        """SELECT user_id FROM dojo_participants
           WHERE tenant_id = $1 AND dojo_id = $2 AND status = 'active'
           ORDER BY join_time, user_id""",
        tenant_id,
        dojo_id,
    )
    return [r["user_id"] for r in rows]


async def count_active(conn: asyncpg.Connection, tenant_id: uuid.UUID, dojo_id: uuid.UUID) -> int:
    return int(
        await conn.fetchval(
            """SELECT count(*) FROM dojo_participants
               WHERE tenant_id = $1 AND dojo_id = $2 AND status = 'active'""",
            tenant_id,
            dojo_id,
        )
    )


# -- invites -----------------------------------------------------------------------------


async def insert_invite(conn: asyncpg.Connection, **values: Any) -> Row:
    columns = list(values)
    placeholders = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
    return await conn.fetchrow(
        f"INSERT INTO dojo_invites ({', '.join(columns)}) VALUES ({placeholders}) RETURNING *",
        *values.values(),
    )


async def invite_by_hash(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, code_hash: bytes
) -> Row | None:
    return await conn.fetchrow(
        "SELECT * FROM dojo_invites WHERE tenant_id = $1 AND code_hash = $2", tenant_id, code_hash
    )


async def get_invite(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, dojo_id: uuid.UUID, invite_id: uuid.UUID
) -> Row | None:
    return await conn.fetchrow(
        """SELECT * FROM dojo_invites WHERE tenant_id = $1 AND dojo_id = $2 AND invite_id = $3""",
        tenant_id,
        dojo_id,
        invite_id,
    )


async def list_invites(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, dojo_id: uuid.UUID
) -> list[Row]:
    return await conn.fetch(
        """SELECT * FROM dojo_invites WHERE tenant_id = $1 AND dojo_id = $2
           ORDER BY created_at DESC, invite_id DESC LIMIT 100""",
        tenant_id,
        dojo_id,
    )


async def revoke_invite(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, invite_id: uuid.UUID
) -> None:
    await conn.execute(
        """UPDATE dojo_invites SET revoked_at = coalesce(revoked_at, now())
           WHERE tenant_id = $1 AND invite_id = $2""",
        tenant_id,
        invite_id,
    )


# -- worker ------------------------------------------------------------------------------


async def due_dojos(conn: asyncpg.Connection, limit: int = 50) -> list[Row]:
    """(tenant_id, dojo_id) of dojos with a rotation, snapshot or room push due, most overdue
    first (owner role: every tenant's). Only a randori rotates by the clock (a prepared kata's
    timer may have been started before that was refused: it runs for nothing)."""
    return await conn.fetch(
        """SELECT tenant_id, dojo_id FROM (
             SELECT tenant_id, dojo_id, least(
                      CASE WHEN timer_state = 'running' AND format = 'randori'
                           THEN turn_due_at END,
                      CASE WHEN status = 'active' THEN next_snapshot_at END,
                      CASE WHEN room_sync_due
                           THEN coalesce(room_sync_retry_at, '-infinity') END) AS due
             FROM dojos
             WHERE (timer_state = 'running' AND format = 'randori' AND turn_due_at <= now())
                OR (status = 'active' AND next_snapshot_at <= now())
                OR (room_sync_due AND coalesce(room_sync_retry_at, '-infinity') <= now())
           ) AS d
           ORDER BY due LIMIT $1""",
        limit,
    )


# -- erasure (platform_api.dojos.erasure) --------------------------------------------------


async def lock_dojos(conn: asyncpg.Connection, tenant_id: uuid.UUID) -> None:
    """Lock every dojo of the tenant, in one order (no deadlock between two erasures)."""
    await conn.execute(
        "SELECT 1 FROM dojos WHERE tenant_id = $1 ORDER BY dojo_id FOR UPDATE", tenant_id
    )


async def delete_tenant(conn: asyncpg.Connection, tenant_id: uuid.UUID) -> int:
    """Delete every dojo of the tenant (invites, participants, snapshots and chat cascade)
    and its outbox rows, sent or not; return how many dojos."""
    deleted = await conn.fetch("DELETE FROM dojos WHERE tenant_id = $1 RETURNING 1", tenant_id)
    await conn.execute("DELETE FROM outbox WHERE tenant_id = $1", tenant_id)
    return len(deleted)


async def dojos_taken_part_in(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, user_id: uuid.UUID
) -> list[uuid.UUID]:
    """The dojos not ended yet (scheduled or running) in which ``user_id`` takes part, or
    from which they were removed."""
    rows = await conn.fetch(
        """SELECT d.dojo_id FROM dojos d JOIN dojo_participants p USING (tenant_id, dojo_id)
           WHERE d.tenant_id = $1 AND p.user_id = $2 AND p.status IN ('active', 'removed')
             AND d.status IN ('scheduled', 'active')
           ORDER BY d.dojo_id""",
        tenant_id,
        user_id,
    )
    return [r["dojo_id"] for r in rows]


async def dojos_ever_joined(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, user_id: uuid.UUID
) -> list[uuid.UUID]:
    """Every dojo ``user_id`` joined, whatever became of it or of them since: those whose
    room and snapshot files may show their name."""
    rows = await conn.fetch(
        """SELECT dojo_id FROM dojo_participants WHERE tenant_id = $1 AND user_id = $2
           ORDER BY dojo_id""",
        tenant_id,
        user_id,
    )
    return [r["dojo_id"] for r in rows]


async def share_dojo(conn: asyncpg.Connection, tenant_id: uuid.UUID, dojo_id: uuid.UUID) -> bool:
    """Hold the dojo's row against its deletion (an organization's erasure locks every dojo
    first) until the transaction ends, letting others read it; False if it is gone."""
    row = await conn.fetchrow(
        "SELECT 1 FROM dojos WHERE tenant_id = $1 AND dojo_id = $2 FOR SHARE", tenant_id, dojo_id
    )
    return row is not None


async def rename_member(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, user_id: uuid.UUID, name: str
) -> None:
    """Give ``user_id`` the display name ``name`` in every dojo and chat message."""
    for table in ("dojo_participants", "dojo_chat_messages"):
        await conn.execute(
            f"UPDATE {table} SET display_name = $3 WHERE tenant_id = $1 AND user_id = $2",
            tenant_id,
            user_id,
            name,
        )


async def delete_pending_invites(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, created_by: uuid.UUID
) -> None:
    """Delete the invites ``created_by`` made that still let someone join (neither revoked
    nor expired). Whoever joined with one stays (``invite_id`` becomes NULL)."""
    await conn.execute(
        """DELETE FROM dojo_invites
           WHERE tenant_id = $1 AND created_by = $2 AND revoked_at IS NULL
             AND (expires_at IS NULL OR expires_at > now())""",
        tenant_id,
        created_by,
    )
