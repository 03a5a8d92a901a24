"""Identity data access (PostgreSQL). Every function runs on a tenant-scoped connection."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, TypeAlias

import asyncpg

Row: TypeAlias = asyncpg.Record

USER_COLUMNS = (
    "user_id, tenant_id, email, full_name, role, status, created_at, updated_at, last_login_at,"
    " totp_enabled_at IS NOT NULL AS two_factor,"
    " (SELECT count(*)::int FROM recovery_codes c"
    "  WHERE c.tenant_id = users.tenant_id AND c.user_id = users.user_id) AS recovery_codes_left"
)


async def insert_tenant(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, name: str, slug: str
) -> Row:
    return await conn.fetchrow(
        "INSERT INTO tenants (tenant_id, name, slug) VALUES ($1, $2, $3) RETURNING *",
        tenant_id,
        name,
        slug,
    )


async def get_tenant(conn: asyncpg.Connection, tenant_id: uuid.UUID) -> Row | None:
    return await conn.fetchrow("SELECT * FROM tenants WHERE tenant_id = $1", tenant_id)


async def insert_user(
    conn: asyncpg.Connection,
    *,
    tenant_id: uuid.UUID,
    email: str,
    password_hash: str,
    full_name: str,
    role: str,
    digest: bytes,
) -> Row:
    # Both ways in (sign-up, an accepted invitation) log the new user in at once.
    user = await conn.fetchrow(
        f"""INSERT INTO users (tenant_id, email, password_hash, full_name, role, last_login_at)
            VALUES ($1, $2, $3, $4, $5, now()) RETURNING {USER_COLUMNS}""",
        tenant_id,
        email,
        password_hash,
        full_name,
        role,
    )
    await conn.execute(
        "INSERT INTO login_directory (email_digest, tenant_id, user_id) VALUES ($1, $2, $3)",
        digest,
        tenant_id,
        user["user_id"],
    )
    return user


async def directory_tenants(conn: asyncpg.Connection, digest: bytes) -> list[uuid.UUID]:
    rows = await conn.fetch(
        "SELECT tenant_id FROM login_directory WHERE email_digest = $1 LIMIT 5", digest
    )
    return [row["tenant_id"] for row in rows]


async def user_for_login(conn: asyncpg.Connection, tenant_id: uuid.UUID, email: str) -> Row | None:
    return await conn.fetchrow(
        """SELECT u.user_id, u.tenant_id, u.password_hash, u.role, u.status, t.status AS tenant_status,
                  u.password_changed_at, u.totp_enabled_at IS NOT NULL AS two_factor
           FROM users u JOIN tenants t USING (tenant_id)
           WHERE u.tenant_id = $1 AND u.email = $2""",
        tenant_id,
        email,
    )


async def get_user(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, user_id: uuid.UUID
) -> Row | None:
    return await conn.fetchrow(
        f"SELECT {USER_COLUMNS} FROM users WHERE tenant_id = $1 AND user_id = $2",
        tenant_id,
        user_id,
    )


async def get_password_hash(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, user_id: uuid.UUID
) -> str | None:
    return await conn.fetchval(
        "SELECT password_hash FROM users WHERE tenant_id = $1 AND user_id = $2 AND status = 'active'",
        tenant_id,
        user_id,
    )


async def list_users(
    conn: asyncpg.Connection,
    tenant_id: uuid.UUID,
    *,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None,
    status: str | None,
) -> list[Row]:
    return await conn.fetch(
        f"""SELECT {USER_COLUMNS} FROM users
            WHERE tenant_id = $1
              AND ($2::text IS NULL OR status = $2)
              AND ($3::timestamptz IS NULL OR (created_at, user_id) < ($3, $4))
            ORDER BY created_at DESC, user_id DESC LIMIT $5""",
        tenant_id,
        status,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )


_ANY_PASSWORD: Any = object()


async def update_user(
    conn: asyncpg.Connection,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    /,
    *,
    while_password: str | None = _ANY_PASSWORD,
    **fields: Any,
) -> Row | None:
    """Set ``fields`` of a user; the row as it is then, or None when none was updated.

    With ``while_password``, only while the user's password hash is still that one (the one
    just checked): a password set meanwhile (a reset, a change) wins over whatever checked
    the old one."""
    values = [tenant_id, user_id, *fields.values()]
    assignments = ", ".join(f"{name} = ${i + 3}" for i, name in enumerate(fields))
    condition = ""
    if while_password is not _ANY_PASSWORD:
        values.append(while_password)
        condition = f" AND password_hash IS NOT DISTINCT FROM ${len(values)}"
    return await conn.fetchrow(
        f"""UPDATE users SET {assignments}, updated_at = now()
            WHERE tenant_id = $1 AND user_id = $2{condition} RETURNING {USER_COLUMNS}""",
        *values,
    )


async def lock_membership(conn: asyncpg.Connection, tenant_id: uuid.UUID) -> None:
    """Serialise the changes of a tenant's owners and members until the transaction ends: two
    owners demoting, deactivating or deleting each other at once must not both see the other
    as the owner who stays (each changes a different row, so row locks would not make them
    wait). A later statement of the waiting transaction sees what the first committed."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('identity-membership:' || $1, 0))",
        str(tenant_id),
    )


async def count_active_owners(conn: asyncpg.Connection, tenant_id: uuid.UUID) -> int:
    return await conn.fetchval(
        "SELECT count(*) FROM users WHERE tenant_id = $1 AND role = 'owner' AND status = 'active'",
        tenant_id,
    )


async def count_users(conn: asyncpg.Connection, tenant_id: uuid.UUID) -> int:
    return await conn.fetchval("SELECT count(*) FROM users WHERE tenant_id = $1", tenant_id)


async def delete_user(conn: asyncpg.Connection, tenant_id: uuid.UUID, user_id: uuid.UUID) -> None:
    await conn.execute(
        "DELETE FROM users WHERE tenant_id = $1 AND user_id = $2", tenant_id, user_id
    )


async def delete_tenant(conn: asyncpg.Connection, tenant_id: uuid.UUID) -> None:
    await conn.execute("DELETE FROM tenants WHERE tenant_id = $1", tenant_id)


# --- refresh tokens -------------------------------------------------------------------------


async def insert_refresh_token(
    conn: asyncpg.Connection,
    *,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    family_id: uuid.UUID,
    token_hash: bytes,
    expires_at: datetime,
) -> None:
    await conn.execute(
        """INSERT INTO refresh_tokens (token_id, tenant_id, user_id, family_id, token_hash, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        uuid.uuid4(),
        tenant_id,
        user_id,
        family_id,
        token_hash,
        expires_at,
    )


async def lock_refresh_token(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, token_hash: bytes
) -> Row | None:
    """The refresh token with its user's role and status and its tenant's status, locked for
    rotation.

    The user's row is locked first (shared), then the token's. A password change, a role
    change and a deactivation update the user's row and then revoke the user's tokens, in
    that order, so the two serialise without a deadlock: a refresh that got there first
    commits its new token before they revoke (so they revoke it too); one that comes second
    waits, and then finds its token revoked or its user changed. Locking only the token, a
    refresh in flight during a password change inserted a token the change could not see,
    and that session outlived the change."""
    owner = await conn.fetchval(
        "SELECT user_id FROM refresh_tokens WHERE tenant_id = $1 AND token_hash = $2",
        tenant_id,
        token_hash,
    )
    if owner is None:
        return None
    await conn.execute(
        "SELECT 1 FROM users WHERE tenant_id = $1 AND user_id = $2 FOR SHARE",
        tenant_id,
        owner,
    )
    return await conn.fetchrow(
        """SELECT r.*, u.role, u.status AS user_status, t.status AS tenant_status
           FROM refresh_tokens r JOIN users u USING (tenant_id, user_id)
           JOIN tenants t USING (tenant_id)
           WHERE r.tenant_id = $1 AND r.token_hash = $2 FOR UPDATE OF r""",
        tenant_id,
        token_hash,
    )


async def mark_refresh_used(conn: asyncpg.Connection, token_id: uuid.UUID) -> None:
    await conn.execute("UPDATE refresh_tokens SET used_at = now() WHERE token_id = $1", token_id)


async def revoke_family(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, family_id: uuid.UUID
) -> None:
    await conn.execute(
        """UPDATE refresh_tokens SET revoked_at = now()
           WHERE tenant_id = $1 AND family_id = $2 AND revoked_at IS NULL""",
        tenant_id,
        family_id,
    )


async def revoke_user_tokens(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, user_id: uuid.UUID
) -> None:
    await conn.execute(
        """UPDATE refresh_tokens SET revoked_at = now()
           WHERE tenant_id = $1 AND user_id = $2 AND revoked_at IS NULL""",
        tenant_id,
        user_id,
    )


async def user_sessions(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, user_id: uuid.UUID
) -> list[Row]:
    return await conn.fetch(
        """SELECT family_id, created_at, expires_at, used_at, revoked_at FROM refresh_tokens
           WHERE tenant_id = $1 AND user_id = $2 ORDER BY created_at""",
        tenant_id,
        user_id,
    )


# --- invitations ----------------------------------------------------------------------------

INVITATION_COLUMNS = (
    "invitation_id, email, role, invited_by, created_at, expires_at, accepted_at, revoked_at"
)


async def insert_invitation(
    conn: asyncpg.Connection,
    *,
    tenant_id: uuid.UUID,
    email: str,
    role: str,
    token_hash: bytes,
    invited_by: uuid.UUID,
    expires_at: datetime,
) -> Row:
    return await conn.fetchrow(
        f"""INSERT INTO invitations (tenant_id, email, role, token_hash, invited_by, expires_at)
            VALUES ($1, $2, $3, $4, $5, $6) RETURNING {INVITATION_COLUMNS}""",
        tenant_id,
        email,
        role,
        token_hash,
        invited_by,
        expires_at,
    )


async def list_pending_invitations(
    conn: asyncpg.Connection,
    tenant_id: uuid.UUID,
    *,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None,
) -> list[Row]:
    return await conn.fetch(
        f"""SELECT {INVITATION_COLUMNS} FROM invitations
            WHERE tenant_id = $1 AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > now()
              AND ($2::timestamptz IS NULL OR (created_at, invitation_id) < ($2, $3))
            ORDER BY created_at DESC, invitation_id DESC LIMIT $4""",
        tenant_id,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )


async def revoke_invitation(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, invitation_id: uuid.UUID
) -> bool:
    result = await conn.execute(
        """UPDATE invitations SET revoked_at = now()
           WHERE tenant_id = $1 AND invitation_id = $2 AND accepted_at IS NULL AND revoked_at IS NULL""",
        tenant_id,
        invitation_id,
    )
    return result.endswith(" 1")


async def lock_invitation(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, token_hash: bytes
) -> Row | None:
    return await conn.fetchrow(
        """SELECT * FROM invitations
           WHERE tenant_id = $1 AND token_hash = $2 AND accepted_at IS NULL AND revoked_at IS NULL
             AND expires_at > now()
           FOR UPDATE""",
        tenant_id,
        token_hash,
    )


async def accept_invitation(conn: asyncpg.Connection, invitation_id: uuid.UUID) -> None:
    await conn.execute(
        "UPDATE invitations SET accepted_at = now() WHERE invitation_id = $1", invitation_id
    )


async def invitations_sent_by(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, user_id: uuid.UUID
) -> list[Row]:
    return await conn.fetch(
        f"SELECT {INVITATION_COLUMNS} FROM invitations WHERE tenant_id = $1 AND invited_by = $2",
        tenant_id,
        user_id,
    )


async def tenant_name(conn: asyncpg.Connection, tenant_id: uuid.UUID) -> str | None:
    return await conn.fetchval("SELECT name FROM tenants WHERE tenant_id = $1", tenant_id)


async def insert_password_reset(
    conn: asyncpg.Connection,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    token_hash: bytes,
    expires_at: datetime,
) -> None:
    await conn.execute(
        """INSERT INTO password_resets (tenant_id, user_id, token_hash, expires_at)
           VALUES ($1, $2, $3, $4)""",
        tenant_id,
        user_id,
        token_hash,
        expires_at,
    )


async def password_reset_user(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, token_hash: bytes
) -> uuid.UUID | None:
    """The user a link names, whether or not it may still be used."""
    return await conn.fetchval(
        "SELECT user_id FROM password_resets WHERE tenant_id = $1 AND token_hash = $2",
        tenant_id,
        token_hash,
    )


async def lock_user(conn: asyncpg.Connection, tenant_id: uuid.UUID, user_id: uuid.UUID) -> None:
    await conn.execute(
        "SELECT 1 FROM users WHERE tenant_id = $1 AND user_id = $2 FOR UPDATE",
        tenant_id,
        user_id,
    )


async def usable_password_reset(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, token_hash: bytes
) -> Row | None:
    """The reset a link names, if it is unused and current, with its user's status and their
    organization's (read under the user's lock: see ``reset_password``)."""
    return await conn.fetchrow(
        """SELECT r.reset_id, r.user_id, u.status, t.status AS tenant_status
           FROM password_resets r
           JOIN users u USING (tenant_id, user_id)
           JOIN tenants t USING (tenant_id)
           WHERE r.tenant_id = $1 AND r.token_hash = $2
             AND r.used_at IS NULL AND r.expires_at > now()""",
        tenant_id,
        token_hash,
    )


async def forget_spent_password_resets(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, user_id: uuid.UUID
) -> None:
    """Drop a user's links that can no longer be used: the table keeps only live ones."""
    await conn.execute(
        """DELETE FROM password_resets
           WHERE tenant_id = $1 AND user_id = $2 AND (used_at IS NOT NULL OR expires_at <= now())""",
        tenant_id,
        user_id,
    )


async def use_password_resets(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, user_id: uuid.UUID
) -> None:
    """Spend every open reset link of a user: one new password makes all of them void."""
    await conn.execute(
        """UPDATE password_resets SET used_at = now()
           WHERE tenant_id = $1 AND user_id = $2 AND used_at IS NULL""",
        tenant_id,
        user_id,
    )


async def two_factor_state(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, user_id: uuid.UUID
) -> Row | None:
    """A user's password and two-step verification, locked until the transaction ends."""
    return await conn.fetchrow(
        """SELECT u.email, u.password_hash, u.password_changed_at,
                  u.totp_secret, u.totp_enabled_at, u.totp_last_step, t.name AS tenant_name,
                  t.status AS tenant_status
           FROM users u JOIN tenants t USING (tenant_id)
           WHERE u.tenant_id = $1 AND u.user_id = $2 AND u.status = 'active'
           FOR UPDATE OF u""",
        tenant_id,
        user_id,
    )


async def replace_recovery_codes(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, user_id: uuid.UUID, hashes: list[bytes]
) -> None:
    await conn.execute(
        "DELETE FROM recovery_codes WHERE tenant_id = $1 AND user_id = $2", tenant_id, user_id
    )
    await conn.execute(
        """INSERT INTO recovery_codes (tenant_id, user_id, code_hash)
           SELECT $1, $2, h FROM unnest($3::bytea[]) AS h""",
        tenant_id,
        user_id,
        hashes,
    )


async def use_recovery_code(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, user_id: uuid.UUID, code_hash: bytes
) -> bool:
    """Spend a recovery code: whether it was one of the user's unused ones."""
    spent = await conn.fetchval(
        """DELETE FROM recovery_codes WHERE tenant_id = $1 AND user_id = $2 AND code_hash = $3
           RETURNING 1""",
        tenant_id,
        user_id,
        code_hash,
    )
    return spent is not None


async def insert_challenge(
    conn: asyncpg.Connection,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    *,
    token_hash: bytes,
    password_changed_at: datetime,
    expires_at: datetime,
) -> None:
    # The user's row first, as everything that decides a challenge takes it (a second step,
    # a password reset, turning it off); then a user's expired challenges go as a new one
    # comes: the table keeps the live ones.
    await lock_user(conn, tenant_id, user_id)
    await conn.execute(
        """DELETE FROM two_factor_challenges
           WHERE tenant_id = $1 AND user_id = $2 AND expires_at <= now()""",
        tenant_id,
        user_id,
    )
    await conn.execute(
        """INSERT INTO two_factor_challenges
               (tenant_id, user_id, token_hash, password_changed_at, expires_at)
           VALUES ($1, $2, $3, $4, $5)""",
        tenant_id,
        user_id,
        token_hash,
        password_changed_at,
        expires_at,
    )


async def challenge_user(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, token_hash: bytes
) -> Row | None:
    """Whose challenge it is, and since when their password is theirs."""
    return await conn.fetchrow(
        "SELECT user_id, password_changed_at FROM two_factor_challenges"
        " WHERE tenant_id = $1 AND token_hash = $2",
        tenant_id,
        token_hash,
    )


async def lock_challenge(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, token_hash: bytes
) -> Row | None:
    """A challenge with what deciding it needs of its user and organization (read under the
    user's lock: see ``twofactor.complete_log_in``)."""
    return await conn.fetchrow(
        """SELECT c.challenge_id, c.user_id, c.failures, c.expires_at,
                  c.password_changed_at = u.password_changed_at AS same_password,
                  u.role, u.status, u.totp_secret, u.totp_enabled_at, u.totp_last_step,
                  t.status AS tenant_status
           FROM two_factor_challenges c
           JOIN users u USING (tenant_id, user_id)
           JOIN tenants t USING (tenant_id)
           WHERE c.tenant_id = $1 AND c.token_hash = $2
           FOR UPDATE OF c""",
        tenant_id,
        token_hash,
    )


async def count_challenge_failure(conn: asyncpg.Connection, challenge_id: uuid.UUID) -> int:
    return await conn.fetchval(
        """UPDATE two_factor_challenges SET failures = failures + 1
           WHERE challenge_id = $1 RETURNING failures""",
        challenge_id,
    )


async def delete_challenge(conn: asyncpg.Connection, challenge_id: uuid.UUID) -> None:
    await conn.execute("DELETE FROM two_factor_challenges WHERE challenge_id = $1", challenge_id)


async def turn_off_two_factor(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, user_id: uuid.UUID
) -> Row | None:
    """Forget a user's authenticator secret, recovery codes and waiting log-ins; the user's
    row as it is then (None: no such user). The row is locked first, as everywhere."""
    await lock_user(conn, tenant_id, user_id)
    for table in ("recovery_codes", "two_factor_challenges"):
        await conn.execute(
            f"DELETE FROM {table} WHERE tenant_id = $1 AND user_id = $2", tenant_id, user_id
        )
    return await update_user(
        conn, tenant_id, user_id, totp_secret=None, totp_enabled_at=None, totp_last_step=None
    )
