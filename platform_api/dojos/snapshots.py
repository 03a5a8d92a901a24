"""Code snapshots: taking them, reading them back, diffs, attribution, and restoring one.

A snapshot is taken at the start, on every rotation, on demand, at the end, and by the worker
every few minutes while the code changes. The row (``dojo_code_snapshots``) holds the code;
the object store keeps the whole Yjs state beside it at
``dojos/{tenant}/{dojo}/snapshots/{timestamp}.json`` for exact replay, except where a
member's erasure rewrote it (``rewrite_state``): its code and text are as they were, but
the entries that named them are new items, not the room's.

Attribution: in a randori only the driver can write, and every change of driver is preceded
by a snapshot, so each interval between two snapshots has one author, recorded as the
later snapshot's ``driver_id``. Walking the snapshots in order and diffing consecutive ones
line by line gives, for each line, who last wrote it. (Free co-editing has no driver:
its lines stay unattributed.)
"""

from __future__ import annotations

import base64
import difflib
import io
import json
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import asyncpg

from platform_api.kernel import Problem, not_found, tenant_transaction
from platform_api.kernel.auth import Principal

from . import store, store_content, ydoc
from .service import Dojos, Row, load_managed, load_viewed, now
from .tickets import room_key


async def take_snapshot(
    ctx: Dojos,
    conn: asyncpg.Connection,
    dojo: Row,
    reason: str,
    *,
    user_id: uuid.UUID | None,
    driver_id: uuid.UUID | None,
    state: bytes,
    code: str | None = None,
) -> Row:
    """Store the room's ``state`` (object store) and its code (row), in ``conn``'s transaction."""
    code = ydoc.text_of(state) if code is None else code
    at = now()
    snapshot_id = uuid.uuid4()
    key = (
        f"dojos/{dojo['tenant_id']}/{dojo['dojo_id']}/snapshots/"
        f"{at.strftime('%Y%m%dT%H%M%S.%fZ')}.json"
    )
    blob = {
        "snapshot_id": str(snapshot_id),
        "dojo_id": str(dojo["dojo_id"]),
        "tenant_id": str(dojo["tenant_id"]),
        "timestamp": at.isoformat(),
        "reason": reason,
        "turn": dojo["turn"],
        "driver_id": str(driver_id) if driver_id else None,
        "user_id": str(user_id) if user_id else None,
        "code": code,
        "yjs_update": base64.b64encode(state).decode(),
    }
    # Blob first: a rolled-back row leaves an orphan object, never a row without its object.
    await ctx.blobs.put(key, json.dumps(blob).encode())
    return await store_content.insert_snapshot(
        conn,
        snapshot_id=snapshot_id,
        tenant_id=dojo["tenant_id"],
        dojo_id=dojo["dojo_id"],
        timestamp=at,
        code=code,
        user_id=user_id,
        driver_id=driver_id,
        reason=reason,
        turn=dojo["turn"],
        object_key=key,
    )


async def rewrite_state(ctx: Dojos, key: str, rewrite: Callable[[bytes], bytes | None]) -> bool:
    """Replace the Yjs state of the snapshot file ``key`` with ``rewrite(state)`` (a
    :mod:`.ydoc` function; None leaves the file as it is), keeping the rest, at the same key
    (the store replaces a file atomically). Return whether the file was written."""
    data = await ctx.blobs.get(key)
    if data is None:
        return False
    blob = json.loads(data)
    state = rewrite(base64.b64decode(blob["yjs_update"]))
    if state is None:
        return False
    blob["yjs_update"] = base64.b64encode(state).decode()
    await ctx.blobs.put(key, json.dumps(blob).encode())
    return True


async def snapshot_now(ctx: Dojos, who: Principal, dojo_id: uuid.UUID) -> Row:
    """On demand, by any active participant (or a manager) of a running dojo, a few a minute
    per dojo: each holds the dojo's row until the room's state is read and stored, and so
    would a rotation that falls due meanwhile."""
    per_minute = ctx.settings.manual_snapshots_per_minute
    await ctx.limiter.hit(
        f"{per_minute}/minute",
        "snapshot",
        str(who.tenant_id),
        str(dojo_id),
        detail="This dojo takes at most {limit} snapshots a minute; try again shortly",
        params={"limit": per_minute},
    )
    async with tenant_transaction(ctx.pool, who.tenant_id) as conn:
        # Locked: an erasure of the organization waits for this snapshot's row, and so
        # deletes the file it names (the file is written before the row).
        dojo = await load_viewed(conn, who, dojo_id, lock=True)
        if dojo["status"] != "active":
            raise Problem(409, "Snapshots are taken while the dojo runs")
        state = await ctx.collab.state(room_key(who.tenant_id, dojo_id))
        row = await take_snapshot(
            ctx, conn, dojo, "manual", user_id=who.user_id, driver_id=dojo["driver_id"], state=state
        )
    return _summary(row)


async def periodic(ctx: Dojos, conn: asyncpg.Connection, dojo: Row, state: bytes | None) -> None:
    """The worker's snapshot: only when the code changed since the last one."""
    if state is None:
        return
    latest = await store_content.latest_snapshot(conn, dojo["tenant_id"], dojo["dojo_id"])
    code = ydoc.text_of(state)
    if latest is None or latest["code"] != code:
        await take_snapshot(
            ctx, conn, dojo, "periodic", user_id=None, driver_id=dojo["driver_id"], state=state
        )


def _summary(row: Row) -> Row | dict[str, Any]:
    return {**dict(row), "size": len(row["code"])} if "code" in row else row


async def get(
    ctx: Dojos, who: Principal, dojo_id: uuid.UUID, snapshot_id: uuid.UUID
) -> dict[str, Any]:
    async with tenant_transaction(ctx.pool, who.tenant_id) as conn:
        await load_viewed(conn, who, dojo_id)
        row = await store_content.get_snapshot(conn, who.tenant_id, dojo_id, snapshot_id)
    if row is None:
        raise not_found("Snapshot")
    return dict(_summary(row))


async def diff(
    ctx: Dojos, who: Principal, dojo_id: uuid.UUID, old_id: uuid.UUID, new_id: uuid.UUID
) -> str:
    """A unified diff of the code between two snapshots."""
    old = await get(ctx, who, dojo_id, old_id)
    new = await get(ctx, who, dojo_id, new_id)
    return unified_diff(
        old["code"],
        new["code"],
        f"{old['timestamp'].isoformat()} ({old['reason']})",
        f"{new['timestamp'].isoformat()} ({new['reason']})",
    )


def unified_diff(old: str, new: str, old_name: str, new_name: str) -> str:
    """``diff -u`` of two texts: a last line without its newline is marked as such, so that
    adding a line after it shows as that (a line ending now), not as a line changed for
    nothing."""
    lines = difflib.unified_diff(
        io.StringIO(old).readlines(),  # lines end at "\n" only, as diff's do
        io.StringIO(new).readlines(),
        fromfile=old_name,
        tofile=new_name,
    )
    return "".join(
        line if line.endswith("\n") else f"{line}\n\\ No newline at end of file\n" for line in lines
    )


def attribute(snapshots: list[Row | dict[str, Any]]) -> list[tuple[str, uuid.UUID | None]]:
    """(line, author) of the last snapshot, walking them oldest first (see module doc)."""
    lines: list[tuple[str, uuid.UUID | None]] = []
    for snap in snapshots:
        new = snap["code"].splitlines()
        old = [text for text, _ in lines]
        result: list[tuple[str, uuid.UUID | None]] = []
        matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag == "equal":
                result += lines[i1:i2]
            else:
                result += [(text, snap["driver_id"]) for text in new[j1:j2]]
        lines = result
    return lines


def attribution_view(
    lines: list[tuple[str, uuid.UUID | None]], names: dict[Any, str]
) -> dict[str, Any]:
    counts = Counter(author for _, author in lines)
    return {
        "lines": [
            {"number": i, "text": text, "user_id": author, "display_name": names.get(author)}
            for i, (text, author) in enumerate(lines, start=1)
        ],
        "authors": [
            {"user_id": author, "display_name": names.get(author), "lines": n}
            for author, n in counts.most_common()
        ],
    }


async def attribution(
    ctx: Dojos, who: Principal, dojo_id: uuid.UUID, snapshot_id: uuid.UUID
) -> dict[str, Any]:
    """Who wrote which line of the code as of ``snapshot_id``."""
    async with tenant_transaction(ctx.pool, who.tenant_id) as conn:
        await load_viewed(conn, who, dojo_id)
        snaps = await store_content.all_snapshots(conn, who.tenant_id, dojo_id)
        people = await store.list_participants(conn, who.tenant_id, dojo_id, active_only=False)
    upto = next((i for i, s in enumerate(snaps) if s["snapshot_id"] == snapshot_id), None)
    if upto is None:
        raise not_found("Snapshot")
    names = {p["user_id"]: p["display_name"] for p in people}
    return {"snapshot_id": snapshot_id, **attribution_view(attribute(snaps[: upto + 1]), names)}


async def restore(ctx: Dojos, who: Principal, dojo_id: uuid.UUID, snapshot_id: uuid.UUID) -> Row:
    """Make the room's code that of a snapshot, as a new edit (peers see it live).

    The current code is snapshotted first, so nothing is lost and the work since the last
    snapshot keeps its author.
    """
    room = room_key(who.tenant_id, dojo_id)
    async with tenant_transaction(ctx.pool, who.tenant_id) as conn:
        dojo = await load_managed(conn, who, dojo_id)
        if dojo["status"] != "active":
            raise Problem(409, "Restore into a running dojo")
        target = await store_content.get_snapshot(conn, who.tenant_id, dojo_id, snapshot_id)
        if target is None:
            raise not_found("Snapshot")
        state = await ctx.collab.state(room)
        latest = await store_content.latest_snapshot(conn, who.tenant_id, dojo_id)
        if latest is None or latest["code"] != ydoc.text_of(state):
            await take_snapshot(
                ctx,
                conn,
                dojo,
                "manual",
                user_id=who.user_id,
                driver_id=dojo["driver_id"],
                state=state,
            )
        update = ydoc.set_text(state, target["code"])
        if update is not None:
            await ctx.collab.apply(room, update)
            state = await ctx.collab.state(room)
        row = await take_snapshot(
            ctx, conn, dojo, "restore", user_id=who.user_id, driver_id=None, state=state
        )
    return _summary(row)
