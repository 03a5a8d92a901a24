"""Pushing a dojo's state into its collab room: roles of live connections, the ``dojo`` map.

The database is the authority. A change that the room must see sets ``room_sync_due`` in
the same transaction; :func:`push_room` then sends every participant's role (collab
``/control``, applied to live connections on every node at once) and writes the status and
timer into the room's ``dojo`` map, and clears the flag. Both are idempotent, so when a
collab node is unreachable the worker simply pushes again on its next tick.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import asyncpg
import structlog

from platform_api.kernel import Problem, tenant_transaction

from . import store, store_content, ydoc
from .service import Dojos, Row, can_write, now
from .tickets import room_key
from .timer import driving, next_driver, remaining_ms

_log = structlog.get_logger("dojos.room")


def _ms(at: datetime | None) -> int | None:
    return int(at.timestamp() * 1000) if at is not None else None


def room_meta(dojo: Row, participants: list[Row], at: datetime) -> dict[str, Any]:
    """What every client sees in the ``dojo`` map: status, driver, next driver, timer."""
    names = {p["user_id"]: p["display_name"] for p in participants}
    driver = driving(dojo)
    upcoming = next_driver(dojo)
    return {
        "dojo_id": str(dojo["dojo_id"]),
        "name": dojo["name"],
        "format": dojo["format"],
        "status": dojo["status"],
        "driver": str(driver) if driver else None,
        "driver_name": names.get(driver),
        "next_driver": str(upcoming) if upcoming else None,
        "next_driver_name": names.get(upcoming),
        "order": [str(u) for u in dojo["rotation_order"]],
        "turn": dojo["turn"],
        "timer_state": dojo["timer_state"],
        "rotation_seconds": dojo["rotation_seconds"],
        "remaining_ms": remaining_ms(dojo, at),
        "due_at_ms": _ms(dojo["turn_due_at"]),
        "server_time_ms": _ms(at),
        "version": dojo["version"],
    }


async def room_state(ctx: Dojos, dojo: Row) -> bytes | None:
    """The room's document, or None (logged) when the collab engine cannot be reached."""
    try:
        return await ctx.collab.state(room_key(dojo["tenant_id"], dojo["dojo_id"]))
    except Problem as exc:
        _log.warning("room_state_unavailable", dojo_id=str(dojo["dojo_id"]), error=exc.detail)
        return None


async def seed_code(ctx: Dojos, room: str, code: str) -> bytes:
    """Put the starting code into an empty room; return the room's state afterwards."""
    state = await ctx.collab.state(room)
    if code and not ydoc.text_of(state):
        update = ydoc.set_text(state, code)
        if update is not None:
            await ctx.collab.apply(room, update)
            state = await ctx.collab.state(room)
    return state


async def change_room(ctx: Dojos, room: str, change: Callable[[bytes], bytes | None]) -> bool:
    """Apply the update ``change`` makes of the room's state (a :mod:`.ydoc` function), if
    it makes one; return whether it did. An unreachable collab engine raises
    :class:`Problem`: the caller decides whether that is worth a retry."""
    update = change(await ctx.collab.state(room))
    if update is None:
        return False
    await ctx.collab.apply(room, update)
    return True


async def write_meta(ctx: Dojos, room: str, meta: dict[str, Any]) -> None:
    await change_room(ctx, room, lambda state: ydoc.set_meta(state, meta))


async def seed_once(ctx: Dojos, tenant_id: uuid.UUID, dojo_id: uuid.UUID) -> None:
    """Once per dojo, after its start: the starting code into the room, and the ``start``
    snapshot. The dojo's row lock serializes concurrent pushers (API and workers)."""
    from .snapshots import take_snapshot

    async with tenant_transaction(ctx.pool, tenant_id) as conn:
        dojo = await store.get_dojo(conn, tenant_id, dojo_id, lock=True)
        if dojo is None or dojo["status"] != "active":
            return
        if await store_content.has_snapshot(conn, tenant_id, dojo_id, "start"):
            return
        state = await seed_code(ctx, room_key(tenant_id, dojo_id), dojo["initial_code"])
        await take_snapshot(
            ctx, conn, dojo, "start", user_id=dojo["creator_id"], driver_id=None, state=state
        )


async def push_room(ctx: Dojos, tenant_id: uuid.UUID, dojo_id: uuid.UUID) -> bool:
    """Send roles and timer to the room; clear ``room_sync_due`` if nothing changed since.

    Returns False (and leaves the flag for the worker) when the collab engine is away.
    """
    try:
        await seed_once(ctx, tenant_id, dojo_id)
    except Problem as exc:
        return await _push_failed(ctx, tenant_id, dojo_id, exc)
    async with tenant_transaction(ctx.pool, tenant_id) as conn:
        dojo = await store.get_dojo(conn, tenant_id, dojo_id)
        if dojo is None:
            return True
        participants = await store.list_participants(conn, tenant_id, dojo_id, active_only=True)
    room = room_key(tenant_id, dojo_id)
    requests = [
        asyncio.ensure_future(
            ctx.collab.control(
                room,
                {
                    "type": "role",
                    "user": str(p["user_id"]),
                    "role": "write" if can_write(dojo, p) else "read",
                },
            )
        )
        for p in participants
    ]
    failure: Problem | None = None
    try:
        await asyncio.gather(*requests)
        await write_meta(ctx, room, room_meta(dojo, participants, now()))
    except Problem as exc:
        failure = exc
    finally:
        # However the push ended, none of its requests goes on (a failed push is retried
        # whole). Not a TaskGroup: on Python 3.11 one whose task fails leaves its parent
        # marked as being cancelled, which confuses a timeout further up.
        for request in requests:
            request.cancel()
        if requests:
            await asyncio.wait(requests)
    if failure is not None:
        return await _push_failed(ctx, tenant_id, dojo_id, failure)
    async with tenant_transaction(ctx.pool, tenant_id) as conn:
        await conn.execute(
            """UPDATE dojos SET room_sync_due = false, room_sync_retry_at = NULL
               WHERE tenant_id = $1 AND dojo_id = $2 AND version = $3""",
            tenant_id,
            dojo_id,
            dojo["version"],
        )
    return True


async def _push_failed(ctx: Dojos, tenant_id: uuid.UUID, dojo_id: uuid.UUID, exc: Problem) -> bool:
    """Leave the push to the worker, a little later. The flag is set here too: a push that
    was not asked for by a change (the one giving access back after a failed end, whose
    change was rolled back) must be retried all the same."""
    _log.warning("room_push_failed", dojo_id=str(dojo_id), error=exc.detail)
    async with tenant_transaction(ctx.pool, tenant_id) as conn:
        await conn.execute(
            """UPDATE dojos SET room_sync_due = true,
                                room_sync_retry_at = now() + interval '2 seconds'
               WHERE tenant_id = $1 AND dojo_id = $2""",
            tenant_id,
            dojo_id,
        )
    return False


async def withdraw_writes(ctx: Dojos, conn: asyncpg.Connection, dojo: Row) -> bool:
    """Make everyone who writes in the room read-only now, before its state is read for the
    dojo's last snapshot, so that the snapshot holds all the room accepted; what they send
    meanwhile is refused (their clients start again from the room's code). Return whether
    anyone was concerned: should the change then be rolled back, :func:`push_room` gives
    them back what the database says. Every writer is asked (one, but in free co-editing),
    whatever happens to the others; one the engine could not reach is logged: the push after
    the end makes them read-only."""
    people = await store.list_participants(
        conn, dojo["tenant_id"], dojo["dojo_id"], active_only=True
    )
    writers = [p["user_id"] for p in people if can_write(dojo, p)]
    room = room_key(dojo["tenant_id"], dojo["dojo_id"])
    results = await asyncio.gather(
        *(
            ctx.collab.control(room, {"type": "role", "user": str(user), "role": "read"})
            for user in writers
        ),
        return_exceptions=True,
    )
    for user, result in zip(writers, results, strict=True):
        if isinstance(result, Problem):
            _log.warning(
                "room_writes_not_withdrawn",
                dojo_id=str(dojo["dojo_id"]),
                user_id=str(user),
                error=result.detail,
            )
        elif isinstance(result, BaseException):
            raise result
    return bool(writers)


async def revoke(
    ctx: Dojos, tenant_id: uuid.UUID, dojo_id: uuid.UUID, users: list[uuid.UUID]
) -> None:
    """Disconnect ``users`` from the room now (close 4403 on every node)."""
    room = room_key(tenant_id, dojo_id)
    try:
        await asyncio.gather(
            *(ctx.collab.control(room, {"type": "revoke", "user": str(u)}) for u in users)
        )
    except Problem as exc:
        # Their tickets can no longer be renewed; they drop at expiry at the latest.
        _log.warning("room_revoke_failed", dojo_id=str(dojo_id), error=exc.detail)
