"""Dojo use cases: the context object, access rules, and the lifecycle (create ... archive).

Who may do what: the facilitator (the creator) and tenant admins manage a dojo; active
participants see its content and chat; anyone in the tenant sees it in lists, unless it is
private: then only its facilitator, active participants and tenant admins know it exists
(others get 404; an invite code still lets them join). Another tenant's dojo does not
exist (404), whatever the id.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeAlias

import asyncpg
import httpx
import structlog

from platform_api.kernel import Problem, forbidden, not_found, tenant_transaction
from platform_api.kernel.auth import Principal
from platform_api.kernel.i18n import N_
from platform_api.kernel.outbox import enqueue
from platform_api.kernel.ratelimit import RateLimiter
from rooms.ports import SnapshotStore

from . import store
from .collab import Collab
from .events import EventType, dojo_event
from .settings import DojosSettings
from .tickets import TicketSigner

_log = structlog.get_logger("dojos")
ADMIN_ROLES = ("owner", "admin")
Row: TypeAlias = asyncpg.Record


@dataclass
class Dojos:
    """Everything the use cases need, built once per process by ``create_app``."""

    settings: DojosSettings
    pool: asyncpg.Pool
    signer: TicketSigner
    collab: Collab
    blobs: SnapshotStore
    http: httpx.AsyncClient
    limiter: RateLimiter


def now() -> datetime:
    return datetime.now(UTC)


def can_manage(who: Principal, dojo: Row) -> bool:
    return who.user_id == dojo["creator_id"] or who.has_any_role(*ADMIN_ROLES)


async def load(
    conn: asyncpg.Connection, who: Principal, dojo_id: uuid.UUID, *, lock: bool = False
) -> Row:
    """The dojo, if the caller may know it exists: any dojo of their tenant, except private
    ones, which only their facilitator, active participants and tenant admins see (404)."""
    dojo = await store.get_dojo(conn, who.tenant_id, dojo_id, lock=lock)
    if dojo is None:
        raise not_found("Dojo")
    if dojo["is_private"] and not can_manage(who, dojo):
        me = await store.get_participant(conn, who.tenant_id, dojo_id, who.user_id)
        if me is None or me["status"] != "active":
            raise not_found("Dojo")
    return dojo


_DOJO_IS = {
    "scheduled": N_("The dojo has not started yet"),
    "active": N_("The dojo has already started"),
    "ended": N_("The dojo has ended"),
    "archived": N_("The dojo is archived"),
}


def dojo_is(status: str) -> Problem:
    """409: what the dojo's ``status`` rules out, said in a sentence of its own."""
    return Problem(409, _DOJO_IS[status])


async def load_managed(conn: asyncpg.Connection, who: Principal, dojo_id: uuid.UUID) -> Row:
    """The dojo, locked, when the caller is its facilitator or a tenant admin (else 403)."""
    dojo = await load(conn, who, dojo_id, lock=True)
    if not can_manage(who, dojo):
        raise forbidden("Only the facilitator or a tenant admin changes this dojo")
    return dojo


async def load_viewed(
    conn: asyncpg.Connection, who: Principal, dojo_id: uuid.UUID, *, lock: bool = False
) -> Row:
    """The dojo, when the caller takes part in it or manages it (else 403)."""
    dojo = await load(conn, who, dojo_id, lock=lock)
    if can_manage(who, dojo):
        return dojo
    me = await store.get_participant(conn, who.tenant_id, dojo_id, who.user_id)
    if me is None or me["status"] != "active":
        raise forbidden("Join this dojo to see its content")
    return dojo


def effective_role(dojo: Row, participant: Row) -> str:
    """Their role, or ``driver`` for whoever has the keyboard of a running dojo (once it has
    ended nobody drives; the last snapshot says who drove last)."""
    if (
        participant["status"] == "active"
        and dojo["status"] == "active"
        and dojo["driver_id"] == participant["user_id"]
    ):
        return "driver"
    return str(participant["role"])


def can_write(dojo: Row, participant: Row) -> bool:
    """The room accepts edits from the driver, or from every non-observer in free co-editing."""
    if participant["status"] != "active" or dojo["status"] != "active":
        return False
    if dojo["format"] == "free":
        return bool(participant["role"] != "observer")
    return bool(dojo["driver_id"] == participant["user_id"])


async def emit(conn: asyncpg.Connection, kind: EventType, dojo: Row, **extra: Any) -> None:
    """Write the event of this change to the outbox, in the change's transaction."""
    people = await store.active_ids(conn, dojo["tenant_id"], dojo["dojo_id"])
    await enqueue(conn, [dojo_event(kind, dojo, people, **extra)])


async def display_name(ctx: Dojos, who: Principal, token: str) -> str:
    """The caller's full name from the identity service (``GET /me`` with their token)."""
    fallback = f"Member {who.user_id.hex[:8]}"
    if not ctx.settings.identity_url:
        return fallback
    try:
        response = await ctx.http.get(
            f"{ctx.settings.identity_url.rstrip('/')}/me",
            headers={"Authorization": f"Bearer {token}"},
        )
        if response.status_code == 200:
            return str(response.json()["user"]["full_name"])[:100]
        _log.warning("identity_lookup_refused", status=response.status_code)
    except (httpx.HTTPError, ValueError, KeyError) as exc:
        _log.warning("identity_lookup_failed", error=repr(exc))
    return fallback


# -- lifecycle -----------------------------------------------------------------------------


async def create(ctx: Dojos, who: Principal, fields: dict[str, Any], name: str) -> Row:
    """Create a dojo with the caller as its facilitator."""
    async with tenant_transaction(ctx.pool, who.tenant_id) as conn:
        dojo = await store.insert_dojo(conn, who.tenant_id, who.user_id, fields)
        await store.upsert_participant(
            conn,
            who.tenant_id,
            dojo["dojo_id"],
            who.user_id,
            display_name=name,
            role="facilitator",
            invite_id=None,
        )
        await emit(conn, "dojo.created", dojo)
    return dojo


async def update(ctx: Dojos, who: Principal, dojo_id: uuid.UUID, fields: dict[str, Any]) -> Row:
    async with tenant_transaction(ctx.pool, who.tenant_id) as conn:
        dojo = await load_managed(conn, who, dojo_id)
        if dojo["status"] in ("ended", "archived"):
            raise dojo_is(dojo["status"])
        if dojo["status"] != "scheduled" and {"initial_code", "format"} & set(fields):
            raise Problem(409, "The format and the starting code change only before the start")
        if not fields:
            return dojo
        dojo = await store.update_dojo(
            conn, who.tenant_id, dojo_id, **fields, room_sync_due=dojo["status"] == "active"
        )
        await emit(conn, "dojo.updated", dojo)
    return dojo


def default_order(dojo: Row, participants: list[Row]) -> list[uuid.UUID]:
    """Who drives, in turn: the explicit order (still eligible), then others by join time."""
    eligible = [
        p["user_id"] for p in participants if p["status"] == "active" and p["role"] != "observer"
    ]
    order = [u for u in dojo["rotation_order"] if u in eligible]
    return order + [u for u in eligible if u not in order]


async def start(ctx: Dojos, who: Principal, dojo_id: uuid.UUID) -> Row:
    """Start: pick the first driver, start the timer (randori); the room gets the starting
    code with the first push (retried by the worker if the collab engine is away)."""
    from .room import push_room

    async with tenant_transaction(ctx.pool, who.tenant_id) as conn:
        dojo = await load_managed(conn, who, dojo_id)
        if dojo["status"] != "scheduled":
            raise dojo_is(dojo["status"])
        participants = await store.list_participants(conn, who.tenant_id, dojo_id, active_only=True)
        order = default_order(dojo, participants)
        driver: uuid.UUID | None = None
        if dojo["format"] == "randori" and order:
            driver = order[0]
        elif dojo["format"] == "prepared" and order:
            driver = dojo["creator_id"] if dojo["creator_id"] in order else order[0]
        at = now()
        running = dojo["format"] == "randori" and driver is not None
        dojo = await store.update_dojo(
            conn,
            who.tenant_id,
            dojo_id,
            status="active",
            started_at=at,
            driver_id=driver,
            rotation_order=order,
            timer_state="running" if running else "stopped",
            turn_due_at=at + timedelta(seconds=dojo["rotation_seconds"]) if running else None,
            next_snapshot_at=at + timedelta(seconds=ctx.settings.snapshot_every_seconds),
            room_sync_due=True,
        )
        await emit(conn, "dojo.started", dojo)
    await push_room(ctx, who.tenant_id, dojo_id)
    return dojo


async def end(ctx: Dojos, who: Principal, dojo_id: uuid.UUID) -> Row:
    """End: a final snapshot, the timer stops, everyone becomes read-only."""
    from .room import push_room, room_state, withdraw_writes
    from .snapshots import take_snapshot

    withdrawn = False
    try:
        async with tenant_transaction(ctx.pool, who.tenant_id) as conn:
            dojo = await load_managed(conn, who, dojo_id)
            if dojo["status"] != "active":
                raise dojo_is(dojo["status"])
            # Nobody writes from here on: the last snapshot is the code the room ends with.
            withdrawn = await withdraw_writes(ctx, conn, dojo)
            state = await room_state(ctx, dojo)
            if state is not None:
                await take_snapshot(
                    ctx,
                    conn,
                    dojo,
                    "end",
                    user_id=who.user_id,
                    driver_id=dojo["driver_id"],
                    state=state,
                )
            dojo = await store.update_dojo(
                conn,
                who.tenant_id,
                dojo_id,
                status="ended",
                ended_at=now(),
                timer_state="stopped",
                turn_due_at=None,
                turn_remaining_ms=None,
                next_snapshot_at=None,
                room_sync_due=True,
            )
            await emit(conn, "dojo.ended", dojo)
    except Exception:
        if withdrawn:  # the dojo runs on: its writers get their access back
            try:
                # The engine away: the push is left to the worker (``room_sync_due``).
                await push_room(ctx, who.tenant_id, dojo_id)
            except Exception:  # the database away too: the failed end is what is said
                _log.exception("room_access_not_restored", dojo_id=str(dojo_id))
        raise
    await push_room(ctx, who.tenant_id, dojo_id)
    return dojo


async def archive(ctx: Dojos, who: Principal, dojo_id: uuid.UUID) -> Row:
    """Archive a scheduled (i.e. cancel it) or ended dojo: hidden from default lists."""
    async with tenant_transaction(ctx.pool, who.tenant_id) as conn:
        dojo = await load_managed(conn, who, dojo_id)
        if dojo["status"] == "active":
            raise Problem(409, "End the dojo before archiving it")
        if dojo["status"] == "archived":
            return dojo
        dojo = await store.update_dojo(
            conn, who.tenant_id, dojo_id, status="archived", archived_at=now()
        )
        await emit(conn, "dojo.archived", dojo)
    return dojo
