"""Tenant membership use cases: users, invitations, data export and account deletion."""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from platform_api.kernel import Problem, forbidden, not_found, tenant_transaction
from platform_api.kernel.auth import Principal
from platform_api.kernel.erasure import tenant_deleted, user_deleted
from platform_api.kernel.events import Event
from platform_api.kernel.outbox import enqueue

from . import store, twofactor
from .security import new_opaque_token, parse_opaque_token
from .service import ADMIN_ROLES, Identity, Session, _start_session, acting_role, password_attempt

# The second erasure waits out the access tokens' lifetime and this much more (clock skew
# between services, the relay's polling).
ERASURE_SWEEP_MARGIN_SECONDS = 60


async def get_user(idn: Identity, who: Principal, user_id: uuid.UUID) -> asyncpg.Record:
    async with tenant_transaction(idn.pool, who.tenant_id) as conn:
        user = await store.get_user(conn, who.tenant_id, user_id)
    if user is None:
        raise not_found("User")
    return user


async def set_user_status(
    idn: Identity, who: Principal, user_id: uuid.UUID, status: str
) -> asyncpg.Record:
    """Deactivate (revoking every session) or reactivate a member; owners/admins only."""
    async with tenant_transaction(idn.pool, who.tenant_id) as conn:
        await store.lock_membership(conn, who.tenant_id)
        target = await store.get_user(conn, who.tenant_id, user_id)
        if target is None:
            raise not_found("User")
        acting = await acting_role(conn, who)
        if acting not in ADMIN_ROLES:
            raise forbidden("Only owners and admins manage members")
        if user_id == who.user_id:
            raise Problem(409, "You cannot change your own status")
        if target["role"] == "owner" and acting != "owner":
            raise forbidden("Only an owner can change another owner")
        user = await store.update_user(conn, who.tenant_id, user_id, status=status)
        if status == "deactivated":
            await store.revoke_user_tokens(conn, who.tenant_id, user_id)
            await store.use_password_resets(conn, who.tenant_id, user_id)  # void on return too
    return user


async def change_role(
    idn: Identity, who: Principal, user_id: uuid.UUID, role: str
) -> asyncpg.Record:
    async with tenant_transaction(idn.pool, who.tenant_id) as conn:
        await store.lock_membership(conn, who.tenant_id)
        target = await store.get_user(conn, who.tenant_id, user_id)
        if target is None:
            raise not_found("User")
        if await acting_role(conn, who) != "owner":
            raise forbidden("Only an owner changes roles")
        if (
            target["role"] == "owner"
            and target["status"] == "active"
            and role != "owner"
            and await store.count_active_owners(conn, who.tenant_id) <= 1
        ):
            raise Problem(409, "A tenant needs at least one active owner")
        user = await store.update_user(conn, who.tenant_id, user_id, role=role)
        await store.revoke_user_tokens(conn, who.tenant_id, user_id)
    return user


async def invite(
    idn: Identity, who: Principal, email: str, role: str
) -> tuple[asyncpg.Record, str]:
    token, token_hash = new_opaque_token(who.tenant_id)
    async with tenant_transaction(idn.pool, who.tenant_id) as conn:
        acting = await acting_role(conn, who)
        if acting not in ADMIN_ROLES:
            raise forbidden("Only owners and admins invite members")
        if role == "admin" and acting != "owner":
            raise forbidden("Only an owner invites admins")
        if await conn.fetchval(
            "SELECT 1 FROM users WHERE tenant_id = $1 AND email = $2", who.tenant_id, email
        ):
            raise Problem(409, "This person is already a member")
        invitation = await store.insert_invitation(
            conn,
            tenant_id=who.tenant_id,
            email=email,
            role=role,
            token_hash=token_hash,
            invited_by=who.user_id,
            expires_at=datetime.now(UTC) + timedelta(days=idn.settings.invitation_ttl_days),
        )
    return invitation, token


async def pending_invitations(
    idn: Identity, who: Principal, *, limit: int, after: tuple[datetime, uuid.UUID] | None
) -> list[asyncpg.Record]:
    """Who was invited and as what: for the owners and admins who manage invitations."""
    async with tenant_transaction(idn.pool, who.tenant_id) as conn:
        if await acting_role(conn, who) not in ADMIN_ROLES:
            raise forbidden("Only owners and admins see pending invitations")
        return await store.list_pending_invitations(conn, who.tenant_id, limit=limit, after=after)


async def revoke_invitation(idn: Identity, who: Principal, invitation_id: uuid.UUID) -> None:
    async with tenant_transaction(idn.pool, who.tenant_id) as conn:
        exists = await conn.fetchval(
            "SELECT 1 FROM invitations WHERE tenant_id = $1 AND invitation_id = $2",
            who.tenant_id,
            invitation_id,
        )
        if not exists:
            raise not_found("Invitation")
        if await acting_role(conn, who) not in ADMIN_ROLES:
            raise forbidden("Only owners and admins revoke invitations")
        if not await store.revoke_invitation(conn, who.tenant_id, invitation_id):
            raise Problem(409, "The invitation was already accepted or revoked")


async def accept_invitation(
    idn: Identity, *, token: str, full_name: str, password: str
) -> tuple[asyncpg.Record, Session]:
    parsed = parse_opaque_token(token)
    if parsed is None:
        raise not_found("Invitation")
    tenant_id, token_hash = parsed
    password_hash = await idn.passwords.hash(password)
    async with tenant_transaction(idn.pool, tenant_id) as conn:
        # Membership first, as every change of it takes its locks: an organization being
        # deleted meanwhile is gone when this goes on (else each would wait for the other:
        # this on the organization's row, the deletion on this invitation's).
        await store.lock_membership(conn, tenant_id)
        invitation = await store.lock_invitation(conn, tenant_id, token_hash)
        if invitation is None:
            raise not_found("Invitation")
        try:
            async with conn.transaction():
                user = await store.insert_user(
                    conn,
                    tenant_id=tenant_id,
                    email=invitation["email"],
                    password_hash=password_hash,
                    full_name=full_name,
                    role=invitation["role"],
                    digest=idn.digest(invitation["email"]),
                )
        except asyncpg.UniqueViolationError as exc:
            raise Problem(409, "This person is already a member") from exc
        await store.accept_invitation(conn, invitation["invitation_id"])
        session = await _start_session(
            idn, conn, tenant_id=tenant_id, user_id=user["user_id"], role=user["role"]
        )
    return user, session


async def export_my_data(idn: Identity, who: Principal) -> dict[str, Any]:
    """LGPD art. 18: everything this service holds about the caller, as JSON."""
    async with tenant_transaction(idn.pool, who.tenant_id) as conn:
        user = await store.get_user(conn, who.tenant_id, who.user_id)
        if user is None:
            raise not_found("User")
        tenant = await store.get_tenant(conn, who.tenant_id)
        sessions = await store.user_sessions(conn, who.tenant_id, who.user_id)
        invitations = await store.invitations_sent_by(conn, who.tenant_id, who.user_id)
    return {
        "exported_at": datetime.now(UTC).isoformat(),
        "user": dict(user),
        "organization": {"tenant_id": tenant["tenant_id"], "name": tenant["name"]}
        if tenant
        else None,
        "sessions": [dict(s) for s in sessions],
        "invitations_sent": [dict(i) for i in invitations],
    }


async def delete_my_account(
    idn: Identity, who: Principal, password: str, code: str | None = None
) -> None:
    """LGPD erasure. The last owner of a tenant with other members must hand over first.
    With two-step verification on, it takes a code too (``twofactor.second_factor``)."""
    await password_attempt(idn, who)
    async with tenant_transaction(idn.pool, who.tenant_id) as conn:
        await store.lock_membership(conn, who.tenant_id)
        # The role as it is now (the token's may predate a promotion or a demotion); a
        # deactivated account is told so, not "wrong password".
        role = await acting_role(conn, who)
        password_hash = await store.get_password_hash(conn, who.tenant_id, who.user_id)
        ok, _ = await idn.passwords.verify(password_hash, password)
        if not ok:
            raise Problem(403, "The password is wrong")
        await twofactor.require_second_factor(idn, conn, who, code)
        if role == "owner" and await store.count_active_owners(conn, who.tenant_id) <= 1:
            if await store.count_users(conn, who.tenant_id) > 1:
                raise Problem(
                    409,
                    "Make another member an owner before deleting your account, "
                    "or delete the organization",
                )
            await store.delete_tenant(conn, who.tenant_id)
            # The outbox row is not the tenant's child: it stays to be relayed.
            await _erase_everywhere(idn, conn, lambda: tenant_deleted(who.tenant_id))
            return
        await store.delete_user(conn, who.tenant_id, who.user_id)
        await _erase_everywhere(idn, conn, lambda: user_deleted(who.tenant_id, who.user_id))


NOT_AN_OWNER = "https://mrbill.dev/problems/not-an-owner"
NAME_MISMATCH = "https://mrbill.dev/problems/confirmation-mismatch"


def _as_read(name: str) -> str:
    """A name as a reader sees and types it: the same letters however they are encoded,
    spaces collapsed (a page shows two as one), any case (phones capitalise)."""
    return " ".join(unicodedata.normalize("NFC", name).split()).casefold()


async def delete_organization(
    idn: Identity, who: Principal, password: str, organization: str, code: str | None = None
) -> None:
    """LGPD erasure of a whole organization, by one of its owners: every account (those
    deactivated too), and in every other service everything it holds. Confirmed with the
    owner's password (and a code, with two-step verification on) and the organization's
    name, typed as it is."""
    await password_attempt(idn, who)
    async with tenant_transaction(idn.pool, who.tenant_id) as conn:
        await store.lock_membership(conn, who.tenant_id)
        role = await acting_role(conn, who)
        if role != "owner":
            raise Problem(403, "Only an owner deletes the organization", type_=NOT_AN_OWNER)
        password_hash = await store.get_password_hash(conn, who.tenant_id, who.user_id)
        ok, _ = await idn.passwords.verify(password_hash, password)
        if not ok:
            raise Problem(403, "The password is wrong")
        await twofactor.require_second_factor(idn, conn, who, code)
        tenant = await store.get_tenant(conn, who.tenant_id)
        if tenant is None:
            raise not_found("Organization")
        if _as_read(organization) != _as_read(tenant["name"]):
            raise Problem(
                422, "Type the organization's name as it is to confirm", type_=NAME_MISMATCH
            )
        await store.delete_tenant(conn, who.tenant_id)
        await _erase_everywhere(idn, conn, lambda: tenant_deleted(who.tenant_id))


async def _erase_everywhere(
    idn: Identity, conn: asyncpg.Connection, event: Callable[[], Event]
) -> None:
    """Ask every other service to erase, now and once more when every access token issued
    before now has expired: such a token still works elsewhere for minutes, and whatever it
    wrote after the first erasure goes with the second."""
    await enqueue(conn, [event()])
    sweep = idn.settings.access_token_ttl_seconds + ERASURE_SWEEP_MARGIN_SECONDS
    await enqueue(conn, [event()], delay=timedelta(seconds=sweep))
