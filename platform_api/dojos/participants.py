"""Joining and leaving: invites, participants and their roles, and room tickets.

An invite is a link with an unguessable code (only its SHA-256 is stored, so it is shown
once), a role (navigator or observer), an optional expiry, and can be revoked. Revoking
an invite ends the access it granted: whoever joined with it leaves the dojo and is
disconnected from the room at once. Removing a participant does the same, for good.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import timedelta
from typing import Any

import asyncpg

from platform_api.kernel import Problem, forbidden, not_found, tenant_transaction
from platform_api.kernel.auth import Principal

from . import store
from .service import Dojos, Row, can_write, dojo_is, emit, load, load_managed, now
from .tickets import RoomRole, room_key
from .timer import rotate


def _hash(code: str) -> bytes:
    return hashlib.sha256(code.encode()).digest()


async def create_invite(
    ctx: Dojos, who: Principal, dojo_id: uuid.UUID, role: str, expires_in: int | None
) -> tuple[Row, str]:
    code = secrets.token_urlsafe(18)  # 144 bits
    async with tenant_transaction(ctx.pool, who.tenant_id) as conn:
        dojo = await load_managed(conn, who, dojo_id)
        if dojo["status"] in ("ended", "archived"):
            raise dojo_is(dojo["status"])
        invite = await store.insert_invite(
            conn,
            tenant_id=who.tenant_id,
            dojo_id=dojo_id,
            code_hash=_hash(code),
            role=role,
            created_by=who.user_id,
            expires_at=now() + timedelta(minutes=expires_in) if expires_in else None,
        )
    return invite, code


async def list_invites(ctx: Dojos, who: Principal, dojo_id: uuid.UUID) -> list[Row]:
    async with tenant_transaction(ctx.pool, who.tenant_id) as conn:
        await load_managed(conn, who, dojo_id)
        return await store.list_invites(conn, who.tenant_id, dojo_id)


async def revoke_invite(
    ctx: Dojos, who: Principal, dojo_id: uuid.UUID, invite_id: uuid.UUID
) -> None:
    """Revoke the link; whoever joined through it leaves and is disconnected."""
    async with tenant_transaction(ctx.pool, who.tenant_id) as conn:
        dojo = await load_managed(conn, who, dojo_id)
        if await store.get_invite(conn, who.tenant_id, dojo_id, invite_id) is None:
            raise not_found("Invite")
        await store.revoke_invite(conn, who.tenant_id, invite_id)
        people = await store.list_participants(conn, who.tenant_id, dojo_id, active_only=True)
        gone = [p["user_id"] for p in people if p["invite_id"] == invite_id]
        for user in gone:
            dojo = await _depart(ctx, conn, dojo, user, "left", who.user_id)
    await _after_departure(ctx, who.tenant_id, dojo_id, gone)


async def join(ctx: Dojos, who: Principal, code: str, name: str) -> tuple[Row, Row]:
    """Join the dojo an invite code belongs to; idempotent for active participants."""
    async with tenant_transaction(ctx.pool, who.tenant_id) as conn:
        invite = await store.invite_by_hash(conn, who.tenant_id, _hash(code))
        expired = (
            invite is not None
            and invite["expires_at"] is not None
            and invite["expires_at"] <= now()
        )
        if invite is None or invite["revoked_at"] is not None or expired:
            raise not_found("Invite")
        dojo = await store.get_dojo(conn, who.tenant_id, invite["dojo_id"], lock=True)
        assert dojo is not None  # the foreign key cascades
        if dojo["status"] in ("ended", "archived"):
            raise dojo_is(dojo["status"])
        me = await store.get_participant(conn, who.tenant_id, dojo["dojo_id"], who.user_id)
        if me is not None and me["status"] == "active":
            return dojo, me
        if me is not None and me["status"] == "removed":
            raise forbidden("You were removed from this dojo")
        if (
            await store.count_active(conn, who.tenant_id, dojo["dojo_id"])
            >= dojo["max_participants"]
        ):
            raise Problem(409, "The dojo is full")
        me = await store.upsert_participant(
            conn, who.tenant_id, dojo["dojo_id"], who.user_id,
            display_name=name, role=invite["role"], invite_id=invite["invite_id"],
        )  # fmt: skip
        order = list(dojo["rotation_order"])
        if invite["role"] != "observer" and who.user_id not in order and order:
            order.append(who.user_id)
        dojo = await store.update_dojo(
            conn, who.tenant_id, dojo["dojo_id"], rotation_order=order,
            room_sync_due=dojo["status"] == "active",
        )  # fmt: skip
        await emit(conn, "dojo.participant.joined", dojo, user_id=str(who.user_id))
    return dojo, me


async def _depart(
    ctx: Dojos,
    conn: asyncpg.Connection,
    dojo: Row,
    user: uuid.UUID,
    status: str,
    by: uuid.UUID | None,
) -> Row:
    """Mark ``user`` gone (``status``: left or removed) at the request of ``by`` (None: the
    service itself); the keyboard passes on if they were driving. The event tells the search
    index, which shows private dojos to participants."""
    await store.update_participant(
        conn, dojo["tenant_id"], dojo["dojo_id"], user, status=status, leave_time=now()
    )
    order = [u for u in dojo["rotation_order"] if u != user]
    if dojo["driver_id"] == user:
        dojo = await rotate(ctx, conn, dojo, order=order, user_id=by)
    else:
        dojo = await store.update_dojo(
            conn, dojo["tenant_id"], dojo["dojo_id"], rotation_order=order, room_sync_due=True
        )
    await emit(conn, "dojo.participant.left", dojo, user_id=str(user), reason=status)
    return dojo


async def _after_departure(
    ctx: Dojos, tenant_id: uuid.UUID, dojo_id: uuid.UUID, users: list[uuid.UUID]
) -> None:
    from .room import push_room, revoke

    await revoke(ctx, tenant_id, dojo_id, users)
    await push_room(ctx, tenant_id, dojo_id)


async def leave(ctx: Dojos, who: Principal, dojo_id: uuid.UUID) -> None:
    async with tenant_transaction(ctx.pool, who.tenant_id) as conn:
        dojo = await load(conn, who, dojo_id, lock=True)
        me = await store.get_participant(conn, who.tenant_id, dojo_id, who.user_id)
        if me is None or me["status"] != "active":
            raise not_found("Participant")
        if dojo["creator_id"] == who.user_id:
            raise Problem(409, "The facilitator cannot leave; end or archive the dojo instead")
        await _depart(ctx, conn, dojo, who.user_id, "left", who.user_id)
    await _after_departure(ctx, who.tenant_id, dojo_id, [who.user_id])


async def remove(ctx: Dojos, who: Principal, dojo_id: uuid.UUID, user_id: uuid.UUID) -> None:
    """Remove a participant for good (they cannot rejoin); disconnects them at once."""
    async with tenant_transaction(ctx.pool, who.tenant_id) as conn:
        dojo = await load_managed(conn, who, dojo_id)
        target = await store.get_participant(conn, who.tenant_id, dojo_id, user_id)
        if target is None or target["status"] == "removed":
            raise not_found("Participant")
        if user_id == dojo["creator_id"]:
            raise Problem(409, "The facilitator cannot be removed")
        await _depart(ctx, conn, dojo, user_id, "removed", who.user_id)
    await _after_departure(ctx, who.tenant_id, dojo_id, [user_id])


async def remove_departed_member(
    ctx: Dojos, tenant_id: uuid.UUID, dojo_id: uuid.UUID, user_id: uuid.UUID
) -> None:
    """Remove a member who left the organization from a dojo not ended yet, as a manager
    would (for good: a token that outlives their account cannot bring them back), so that
    neither the rotation nor the room waits for them. An erasure that runs again (its
    room call failed the first time) finds them removed and only disconnects them again;
    one who had left of their own accord, or a dojo that has ended, needs nothing."""
    async with tenant_transaction(ctx.pool, tenant_id) as conn:
        dojo = await store.get_dojo(conn, tenant_id, dojo_id, lock=True)
        me = await store.get_participant(conn, tenant_id, dojo_id, user_id)
        if dojo is None or dojo["status"] not in ("scheduled", "active") or me is None:
            return
        if me["status"] == "active":
            await _depart(ctx, conn, dojo, user_id, "removed", None)
        elif me["status"] != "removed":
            return
    await _after_departure(ctx, tenant_id, dojo_id, [user_id])


async def set_role(
    ctx: Dojos, who: Principal, dojo_id: uuid.UUID, user_id: uuid.UUID, role: str
) -> Row:
    """Make someone the driver now, a navigator or an observer."""
    from .room import push_room

    async with tenant_transaction(ctx.pool, who.tenant_id) as conn:
        dojo = await load_managed(conn, who, dojo_id)
        target = await store.get_participant(conn, who.tenant_id, dojo_id, user_id)
        if target is None or target["status"] != "active":
            raise not_found("Participant")
        base = target["role"]
        if role == "driver" and dojo["format"] == "free":
            raise Problem(409, "Free co-editing has no driver")
        if role == "observer" and base == "facilitator":
            raise Problem(409, "The facilitator cannot become an observer")
        # The lasting role: an observer made navigator (or driver) navigates from now on, and
        # so joins the rotation; anyone else keeps theirs unless made an observer.
        wanted = "observer" if role == "observer" else "navigator" if base == "observer" else base
        if wanted != base:
            target = await store.update_participant(
                conn, who.tenant_id, dojo_id, user_id, role=wanted
            )
        order = [u for u in dojo["rotation_order"] if u != user_id or role != "observer"]
        # Before the start an empty order means "by join time" (see ``default_order``): it
        # stays so, else they alone would be named in it, and drive first. A started dojo's
        # order is explicit, even empty (nobody could drive at its start).
        if role != "observer" and user_id not in order and (order or dojo["status"] == "active"):
            order.append(user_id)
        if role == "driver" and dojo["driver_id"] != user_id:
            dojo = await rotate(ctx, conn, dojo, to=user_id, order=order, user_id=who.user_id)
        elif role != "driver" and dojo["driver_id"] == user_id:
            dojo = await rotate(ctx, conn, dojo, order=order, user_id=who.user_id)
        else:
            dojo = await store.update_dojo(
                conn, who.tenant_id, dojo_id, rotation_order=order, room_sync_due=True
            )
    await push_room(ctx, who.tenant_id, dojo_id)
    return participant_view(dojo, target)


async def list_participants(ctx: Dojos, who: Principal, dojo_id: uuid.UUID) -> list[dict[str, Any]]:
    """Everyone in the tenant may see who takes part (active and past)."""
    async with tenant_transaction(ctx.pool, who.tenant_id) as conn:
        dojo = await load(conn, who, dojo_id)
        rows = await store.list_participants(conn, who.tenant_id, dojo_id, active_only=False)
    return [participant_view(dojo, p) for p in rows]


def participant_view(dojo: Row, p: Row) -> dict[str, Any]:
    from .service import effective_role

    return {**dict(p), "role": effective_role(dojo, p), "can_write": can_write(dojo, p)}


async def ticket(ctx: Dojos, who: Principal, dojo_id: uuid.UUID) -> dict[str, Any]:
    """A short-lived room ticket: ``write`` for whoever may edit now, ``read`` for the rest."""
    async with tenant_transaction(ctx.pool, who.tenant_id) as conn:
        dojo = await load(conn, who, dojo_id)
        me = await store.get_participant(conn, who.tenant_id, dojo_id, who.user_id)
        if me is None or me["status"] != "active":
            raise forbidden("Join this dojo to enter its room")
        if dojo["status"] == "archived":
            raise Problem(409, "The dojo is archived")
        await store.update_participant(
            conn, who.tenant_id, dojo_id, who.user_id, last_active_time=now()
        )
    room = room_key(who.tenant_id, dojo_id)
    role: RoomRole = "write" if can_write(dojo, me) else "read"
    issued = ctx.signer.mint(
        tenant_id=who.tenant_id, room=room, subject=str(who.user_id), role=role,
        name=me["display_name"],
    )  # fmt: skip
    return {
        "ticket": issued.token,
        "room": room,
        "url": f"{ctx.settings.collab_public_url.rstrip('/')}/{room}",
        "role": role,
        "expires_at": issued.expires_at,
        "expires_in": issued.expires_at - int(now().timestamp()),
    }
