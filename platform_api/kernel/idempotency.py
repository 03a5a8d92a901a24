"""Safe retries of a ``POST``: the ``Idempotency-Key`` request header.

A client that sends a key and gets no answer (a dropped connection, a timeout) sends the
same request again with the same key, and gets the first request's result instead of doing
the work twice. A key is the caller's own (per organization and user), is kept for
``KEY_RETENTION``, and may name only one request: the same key with another body is a 422.

A service that offers it keeps the table made by
``platform_api.kernel.migrations.create_idempotency_keys`` in its own database and, in the
same transaction as the work, calls :meth:`Once.recall` first (which serializes concurrent
retries of one key) and :meth:`Once.remember` after. The work and its
record commit together, so a retry sees either both or neither.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

import asyncpg
from fastapi import Header

from .auth import Principal
from .errors import Problem

KEY_RETENTION = timedelta(hours=24)
LOCK_WAIT_SECONDS = 5  # how long a retry waits for the first request with its key
REUSED_TYPE = "https://mrbill.dev/problems/idempotency-key-reuse"

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=200,
        pattern=r"^[\x21-\x7e]+$",
        description="Makes retries safe: a retry with the same key returns the first "
        "request's result instead of doing it again",
    ),
]


def request_hash(*parts: bytes | str | Any) -> str:
    """A digest of what a request asks for: bytes as they are, other values as canonical
    JSON."""
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, str):
            part = part.encode()
        elif not isinstance(part, bytes):
            part = json.dumps(part, sort_keys=True, separators=(",", ":")).encode()
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def key_reused() -> Problem:
    return Problem(
        422,
        "This Idempotency-Key was already used with a different request",
        type_=REUSED_TYPE,
    )


@dataclass(frozen=True)
class Once:
    """A request's ``Idempotency-Key`` and the digest of what it asks for (see
    :func:`request_hash`), for the caller ``who``."""

    key: str
    digest: str

    def _lock_name(self, who: Principal) -> str:
        return f"{who.tenant_id}:{who.user_id}:{self.key}"

    async def recall(self, conn: asyncpg.Connection, who: Principal, operation: str) -> Any:
        """The result remembered for this key, or None when it is new. Holds a lock on the
        key until the transaction ends, so that a retry made while the first request is
        still at work waits for it (``LOCK_WAIT_SECONDS`` at most, then a 409) and then finds
        its result. Raises a 422 when the key was used for another request."""
        # A retry waits for the first request at work with its key, but not for ever: each
        # waiting one holds a database connection.
        before = await conn.fetchval("SELECT current_setting('lock_timeout')")
        await conn.execute("SELECT set_config('lock_timeout', $1, true)", f"{LOCK_WAIT_SECONDS}s")
        try:
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended($1, 19))", self._lock_name(who)
            )
        except asyncpg.LockNotAvailableError:
            raise Problem(
                409,
                "A request with this Idempotency-Key is still in progress; try again shortly",
                headers={"Retry-After": str(LOCK_WAIT_SECONDS)},
            ) from None
        await conn.execute("SELECT set_config('lock_timeout', $1, true)", before)
        row = await conn.fetchrow(
            """SELECT operation, request_hash, result::text AS result FROM idempotency_keys
               WHERE tenant_id = $1 AND user_id = $2 AND key = $3
                 AND created_at > now() - $4::interval""",
            who.tenant_id,
            who.user_id,
            self.key,
            KEY_RETENTION,
        )
        if row is None:
            return None
        if row["operation"] != operation or row["request_hash"] != self.digest:
            raise key_reused()
        return json.loads(row["result"])

    async def remember(
        self, conn: asyncpg.Connection, who: Principal, operation: str, result: Any
    ) -> None:
        """Record ``result`` (JSON) as the answer to this key; an expired record is
        replaced."""
        await conn.execute(
            """INSERT INTO idempotency_keys
                   (tenant_id, user_id, key, operation, request_hash, result)
               VALUES ($1, $2, $3, $4, $5, $6::text::jsonb)
               ON CONFLICT (tenant_id, user_id, key) DO UPDATE
                  SET operation = EXCLUDED.operation, request_hash = EXCLUDED.request_hash,
                      result = EXCLUDED.result, created_at = now()""",
            who.tenant_id,
            who.user_id,
            self.key,
            operation,
            self.digest,
            json.dumps(result),
        )


async def expire(conn: asyncpg.Connection) -> int:
    """Delete the records past ``KEY_RETENTION``, every tenant's (run as the database owner,
    whose ``expire_idempotency_keys`` policy shows it only those)."""
    status = await conn.execute(
        "DELETE FROM idempotency_keys WHERE created_at < now() - $1::interval", KEY_RETENTION
    )
    return int(status.split()[-1])


async def forget(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, user_id: uuid.UUID | None = None
) -> None:
    """Delete an organization's records, or one member's (an erasure)."""
    if user_id is None:
        await conn.execute("DELETE FROM idempotency_keys WHERE tenant_id = $1", tenant_id)
    else:
        await conn.execute(
            "DELETE FROM idempotency_keys WHERE tenant_id = $1 AND user_id = $2",
            tenant_id,
            user_id,
        )
