"""Search bookkeeping (PostgreSQL): indexed versions per document, tenants seen, dead letters."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg


@dataclass(frozen=True)
class Indexed:
    """A document version the index now holds (or has removed)."""

    doc_id: uuid.UUID
    version: int
    deleted: bool
    event_id: uuid.UUID | None = None
    occurred_at: datetime | None = None


async def versions(
    conn: asyncpg.Connection, kind: str, doc_ids: Iterable[uuid.UUID] | None = None
) -> dict[uuid.UUID, asyncpg.Record]:
    """Stored versions of the transaction's tenant, of ``doc_ids`` or of every document."""
    if doc_ids is None:
        rows = await conn.fetch(
            "SELECT doc_id, version, deleted, indexed_at FROM index_versions WHERE kind = $1", kind
        )
    else:
        rows = await conn.fetch(
            """SELECT doc_id, version, deleted, indexed_at FROM index_versions
               WHERE kind = $1 AND doc_id = ANY($2::uuid[])""",
            kind,
            list(doc_ids),
        )
    return {row["doc_id"]: row for row in rows}


async def record(
    conn: asyncpg.Connection,
    tenant_id: uuid.UUID,
    kind: str,
    entries: Sequence[Indexed],
    *,
    force: bool = False,
) -> None:
    """Remember what the index holds; never moves a version backwards unless ``force``."""
    guard = "" if force else "WHERE index_versions.version < EXCLUDED.version"
    await conn.executemany(
        f"""INSERT INTO index_versions
                (tenant_id, kind, doc_id, version, deleted, event_id, occurred_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            ON CONFLICT (tenant_id, kind, doc_id) DO UPDATE SET
                version = EXCLUDED.version, deleted = EXCLUDED.deleted,
                event_id = EXCLUDED.event_id, occurred_at = EXCLUDED.occurred_at,
                indexed_at = now()
            {guard}""",
        [
            (tenant_id, kind, e.doc_id, e.version, e.deleted, e.event_id, e.occurred_at)
            for e in entries
        ],
    )
    await conn.execute(
        "INSERT INTO known_tenants (tenant_id) VALUES ($1) ON CONFLICT DO NOTHING", tenant_id
    )


async def known_tenants(conn: asyncpg.Connection) -> list[uuid.UUID]:
    return [r["tenant_id"] for r in await conn.fetch("SELECT tenant_id FROM known_tenants")]


async def park(
    conn: asyncpg.Connection, event: dict[str, Any], *, reason: str, attempts: int
) -> None:
    """Keep an event (its JSON envelope) the consumer gave up on; once per event id. Not
    for an erased organization: its late events carry data that must not be kept."""
    tenant_id = uuid.UUID(event["tenant_id"])
    if await erased_tenants(conn, [tenant_id]):
        return
    await conn.execute(
        """INSERT INTO dead_letters
               (tenant_id, event_id, type, aggregate_id, version, attempts, reason, event)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           ON CONFLICT (tenant_id, event_id) DO UPDATE SET
               attempts = EXCLUDED.attempts, reason = EXCLUDED.reason, parked_at = now()""",
        tenant_id,
        uuid.UUID(event["id"]),
        event["type"],
        uuid.UUID(event["aggregate_id"]),
        event["version"],
        attempts,
        reason[:2000],
        event,
    )
    await conn.execute(
        "INSERT INTO known_tenants (tenant_id) VALUES ($1) ON CONFLICT DO NOTHING", tenant_id
    )


async def parked(conn: asyncpg.Connection, limit: int = 1000) -> list[asyncpg.Record]:
    """The transaction's tenant's dead letters, oldest first."""
    return await conn.fetch(
        "SELECT * FROM dead_letters ORDER BY parked_at, event_id LIMIT $1", limit
    )


async def unpark(conn: asyncpg.Connection, event_id: uuid.UUID) -> None:
    await conn.execute("DELETE FROM dead_letters WHERE event_id = $1", event_id)


async def erase_tenant(conn: asyncpg.Connection, tenant_id: uuid.UUID) -> None:
    """Forget the transaction's tenant (versions, dead letters: their events carry its data)
    and remember that it was erased, so that its late events index nothing again."""
    await conn.execute("DELETE FROM index_versions WHERE tenant_id = $1", tenant_id)
    await conn.execute("DELETE FROM dead_letters WHERE tenant_id = $1", tenant_id)
    await conn.execute("DELETE FROM known_tenants WHERE tenant_id = $1", tenant_id)
    await conn.execute(
        "INSERT INTO erased_tenants (tenant_id) VALUES ($1) ON CONFLICT DO NOTHING", tenant_id
    )


async def erased_tenants(
    conn: asyncpg.Connection, tenant_ids: Iterable[uuid.UUID]
) -> set[uuid.UUID]:
    """Which of ``tenant_ids`` were erased."""
    rows = await conn.fetch(
        "SELECT tenant_id FROM erased_tenants WHERE tenant_id = ANY($1::uuid[])", list(tenant_ids)
    )
    return {r["tenant_id"] for r in rows}
