"""The rotation timer: server-authoritative, stored in the dojo's row, computed on read.

Running: ``turn_due_at`` is when the driver's turn ends; everyone's remaining time is
``turn_due_at - now`` (the room's ``dojo`` map carries it with the server's clock, so
clients correct for their own). Paused: ``turn_remaining_ms`` holds what is left. A worker
rotates dojos whose turn is due (rows locked with SKIP LOCKED: one replica per rotation).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from platform_api.kernel import Problem, tenant_transaction
from platform_api.kernel.auth import Principal

from . import store
from .service import Dojos, Row, load_managed, now


def remaining_ms(dojo: Row, at: datetime) -> int | None:
    if dojo["timer_state"] == "running" and dojo["turn_due_at"] is not None:
        return max(0, int((dojo["turn_due_at"] - at).total_seconds() * 1000))
    if dojo["timer_state"] == "paused":
        return dojo["turn_remaining_ms"]
    return None


def next_driver(dojo: Row | dict[str, Any]) -> uuid.UUID | None:
    order: list[uuid.UUID] = list(dojo["rotation_order"])
    if not order or dojo["format"] == "free" or dojo["status"] in ("ended", "archived"):
        return None
    driver = dojo["driver_id"]
    if driver in order:
        return order[(order.index(driver) + 1) % len(order)]
    return order[0]


def driving(dojo: Row) -> uuid.UUID | None:
    """Who has the keyboard: nobody once the dojo has ended (the row keeps who drove last,
    for the end snapshot)."""
    return dojo["driver_id"] if dojo["status"] == "active" else None


def timer_view(dojo: Row, at: datetime) -> dict[str, Any]:
    return {
        "state": dojo["timer_state"],
        "rotation_seconds": dojo["rotation_seconds"],
        "remaining_ms": remaining_ms(dojo, at),
        "due_at": dojo["turn_due_at"] if dojo["timer_state"] == "running" else None,
        "server_time": at,
        "driver_id": driving(dojo),
        "next_driver_id": next_driver(dojo),
        "order": list(dojo["rotation_order"]),
        "turn": dojo["turn"],
    }


async def rotate(
    ctx: Dojos,
    conn: asyncpg.Connection,
    dojo: Row,
    *,
    to: uuid.UUID | None = None,
    order: list[uuid.UUID] | None = None,
    user_id: uuid.UUID | None = None,
) -> Row:
    """Hand the keyboard to ``to`` (default: the next in order) on the locked ``dojo``.

    The outgoing driver's work is snapshotted first: that snapshot attributes it to them.
    """
    from .room import room_state
    from .snapshots import take_snapshot

    order = list(dojo["rotation_order"]) if order is None else order
    incoming = to if to is not None else next_driver({**dict(dojo), "rotation_order": order})
    if dojo["status"] == "active" and dojo["driver_id"] is not None:
        state = await room_state(ctx, dojo)
        if state is not None:
            await take_snapshot(
                ctx,
                conn,
                dojo,
                "rotation",
                user_id=user_id,
                driver_id=dojo["driver_id"],
                state=state,
            )
    at = now()
    fields: dict[str, Any] = {
        "driver_id": incoming,
        "rotation_order": order,
        "turn": dojo["turn"] + 1,
        "room_sync_due": True,
    }
    if incoming is None or dojo["format"] != "randori":
        # Only a randori has a timer: a prepared kata's, started before that was refused,
        # stops at its first hand-over.
        fields |= {"timer_state": "stopped", "turn_due_at": None, "turn_remaining_ms": None}
    elif dojo["timer_state"] == "running":
        fields["turn_due_at"] = at + timedelta(seconds=dojo["rotation_seconds"])
    elif dojo["timer_state"] == "paused":
        fields["turn_remaining_ms"] = dojo["rotation_seconds"] * 1000
    elif dojo["format"] == "randori" and dojo["status"] == "active":
        fields |= {
            "timer_state": "running",
            "turn_due_at": at + timedelta(seconds=dojo["rotation_seconds"]),
        }
    return await store.update_dojo(conn, dojo["tenant_id"], dojo["dojo_id"], **fields)


async def _change(
    ctx: Dojos, who: Principal, dojo_id: uuid.UUID, action: str, order: list[uuid.UUID] | None
) -> Row:
    from .room import push_room

    async with tenant_transaction(ctx.pool, who.tenant_id) as conn:
        dojo = await load_managed(conn, who, dojo_id)
        if dojo["status"] != "active" and not (action == "order" and dojo["status"] == "scheduled"):
            raise Problem(409, "The dojo is not running")
        if dojo["format"] == "free":
            raise Problem(409, "Free co-editing has no driver and no timer")
        at = now()
        state = dojo["timer_state"]
        if dojo["format"] == "prepared" and action in ("pause", "resume"):
            # The facilitator hands the keyboard over by hand: no timer takes it away. One
            # started before that was refused may be stopped (pausing it stops it).
            if action == "resume" or state != "running":
                raise Problem(409, "A prepared kata has no rotation timer")
            dojo = await store.update_dojo(
                conn,
                who.tenant_id,
                dojo_id,
                timer_state="stopped",
                turn_due_at=None,
                turn_remaining_ms=None,
                room_sync_due=True,
            )
        elif action == "pause":
            if state != "running":
                raise Problem(409, "The timer is not running")
            dojo = await store.update_dojo(
                conn,
                who.tenant_id,
                dojo_id,
                timer_state="paused",
                turn_remaining_ms=remaining_ms(dojo, at),
                turn_due_at=None,
                room_sync_due=True,
            )
        elif action == "resume":
            if state != "paused" and not (state == "stopped" and dojo["driver_id"]):
                raise Problem(409, "The timer is not paused")
            left = dojo["turn_remaining_ms"] or dojo["rotation_seconds"] * 1000
            dojo = await store.update_dojo(
                conn,
                who.tenant_id,
                dojo_id,
                timer_state="running",
                turn_due_at=at + timedelta(milliseconds=left),
                turn_remaining_ms=None,
                room_sync_due=True,
            )
        elif action == "skip":
            dojo = await rotate(ctx, conn, dojo, user_id=who.user_id)
        else:
            dojo = await _reorder(ctx, conn, dojo, order or [], who.user_id)
    await push_room(ctx, who.tenant_id, dojo_id)
    return dojo


async def _reorder(
    ctx: Dojos, conn: asyncpg.Connection, dojo: Row, order: list[uuid.UUID], user: uuid.UUID
) -> Row:
    participants = await store.list_participants(
        conn, dojo["tenant_id"], dojo["dojo_id"], active_only=True
    )
    eligible = {p["user_id"] for p in participants if p["role"] != "observer"}
    unique = list(dict.fromkeys(order))
    if not set(unique) <= eligible:
        raise Problem(422, "The order may only name active drivers and navigators")
    if dojo["status"] == "active" and dojo["driver_id"] not in unique:
        return await rotate(ctx, conn, dojo, to=unique[0], order=unique, user_id=user)
    return await store.update_dojo(
        conn, dojo["tenant_id"], dojo["dojo_id"], rotation_order=unique, room_sync_due=True
    )


async def pause(ctx: Dojos, who: Principal, dojo_id: uuid.UUID) -> Row:
    return await _change(ctx, who, dojo_id, "pause", None)


async def resume(ctx: Dojos, who: Principal, dojo_id: uuid.UUID) -> Row:
    return await _change(ctx, who, dojo_id, "resume", None)


async def skip(ctx: Dojos, who: Principal, dojo_id: uuid.UUID) -> Row:
    """Hand over to the next driver now."""
    return await _change(ctx, who, dojo_id, "skip", None)


async def set_order(ctx: Dojos, who: Principal, dojo_id: uuid.UUID, order: list[uuid.UUID]) -> Row:
    return await _change(ctx, who, dojo_id, "order", order)
