"""HTTP handlers of what happens inside a dojo: timer, chat, snapshots, replay and export."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from platform_api.kernel import tenant_transaction

from . import chat, export, snapshots, store_content, timer
from .routes import Caller, Ctx, CursorQ, Limit, after, next_cursor
from .schemas import (
    AttributionOut,
    DiffOut,
    MessageIn,
    MessageOut,
    MessagePage,
    OrderIn,
    SnapshotCodeOut,
    SnapshotOut,
    SnapshotPage,
    TimerOut,
)
from .service import Row, load, load_viewed, now

router = APIRouter()


def _timer(row: Row) -> TimerOut:
    return TimerOut(**timer.timer_view(row, now()))


@router.get("/dojos/{dojo_id}/timer", response_model=TimerOut, tags=["timer"])
async def get_timer(dojo_id: uuid.UUID, who: Caller, ctx: Ctx) -> TimerOut:
    """The rotation timer as the server keeps it (also in the room's ``dojo`` map)."""
    async with tenant_transaction(ctx.pool, who.tenant_id) as conn:
        return _timer(await load(conn, who, dojo_id))


@router.post("/dojos/{dojo_id}/timer/pause", response_model=TimerOut, tags=["timer"])
async def pause(dojo_id: uuid.UUID, who: Caller, ctx: Ctx) -> TimerOut:
    return _timer(await timer.pause(ctx, who, dojo_id))


@router.post("/dojos/{dojo_id}/timer/resume", response_model=TimerOut, tags=["timer"])
async def resume(dojo_id: uuid.UUID, who: Caller, ctx: Ctx) -> TimerOut:
    return _timer(await timer.resume(ctx, who, dojo_id))


@router.post("/dojos/{dojo_id}/timer/skip", response_model=TimerOut, tags=["timer"])
async def skip(dojo_id: uuid.UUID, who: Caller, ctx: Ctx) -> TimerOut:
    """Hand the keyboard to the next driver now (roles change on live connections)."""
    return _timer(await timer.skip(ctx, who, dojo_id))


@router.put("/dojos/{dojo_id}/timer/order", response_model=TimerOut, tags=["timer"])
async def set_order(dojo_id: uuid.UUID, body: OrderIn, who: Caller, ctx: Ctx) -> TimerOut:
    """The order of rotation (active drivers and navigators)."""
    return _timer(await timer.set_order(ctx, who, dojo_id, body.order))


@router.get("/dojos/{dojo_id}/messages", response_model=MessagePage, tags=["chat"])
async def list_messages(
    dojo_id: uuid.UUID, who: Caller, ctx: Ctx, limit: Limit = 50, cursor: CursorQ = None
) -> MessagePage:
    """Chat messages, newest first."""
    async with tenant_transaction(ctx.pool, who.tenant_id) as conn:
        await load_viewed(conn, who, dojo_id)
        rows = await store_content.list_messages(
            conn, who.tenant_id, dojo_id, limit=limit + 1,
            after=after(cursor, "timestamp", "message_id"),
        )  # fmt: skip
    return MessagePage(
        items=[MessageOut(**chat.view(r)) for r in rows[:limit]],
        next_cursor=next_cursor(rows, limit, "timestamp", "message_id"),
    )


@router.post("/dojos/{dojo_id}/messages", status_code=201, response_model=MessageOut, tags=["chat"])
async def post_message(dojo_id: uuid.UUID, body: MessageIn, who: Caller, ctx: Ctx) -> MessageOut:
    """Say something; it appears in the room's ``chat`` array at once."""
    return MessageOut(**await chat.post(ctx, who, dojo_id, body.text))


@router.delete("/dojos/{dojo_id}/messages/{message_id}", status_code=204, tags=["chat"])
async def delete_message(
    dojo_id: uuid.UUID, message_id: uuid.UUID, who: Caller, ctx: Ctx
) -> Response:
    """The author or the facilitator deletes a message."""
    await chat.delete(ctx, who, dojo_id, message_id)
    return Response(status_code=204)


@router.get("/dojos/{dojo_id}/snapshots", response_model=SnapshotPage, tags=["snapshots"])
async def list_snapshots(
    dojo_id: uuid.UUID, who: Caller, ctx: Ctx, limit: Limit = 50, cursor: CursorQ = None
) -> SnapshotPage:
    """Code snapshots, newest first."""
    async with tenant_transaction(ctx.pool, who.tenant_id) as conn:
        await load_viewed(conn, who, dojo_id)
        rows = await store_content.list_snapshots(
            conn, who.tenant_id, dojo_id, limit=limit + 1,
            after=after(cursor, "timestamp", "snapshot_id"),
        )  # fmt: skip
    return SnapshotPage(
        items=[SnapshotOut(**dict(r)) for r in rows[:limit]],
        next_cursor=next_cursor(rows, limit, "timestamp", "snapshot_id"),
    )


@router.post(
    "/dojos/{dojo_id}/snapshots", status_code=201, response_model=SnapshotOut, tags=["snapshots"]
)
async def take_snapshot(dojo_id: uuid.UUID, who: Caller, ctx: Ctx) -> SnapshotOut:
    """Snapshot the code now."""
    return SnapshotOut(**dict(await snapshots.snapshot_now(ctx, who, dojo_id)))


@router.get(
    "/dojos/{dojo_id}/snapshots/{snapshot_id}", response_model=SnapshotCodeOut, tags=["snapshots"]
)
async def get_snapshot(
    dojo_id: uuid.UUID, snapshot_id: uuid.UUID, who: Caller, ctx: Ctx
) -> SnapshotCodeOut:
    """The code as of a snapshot."""
    return SnapshotCodeOut(**await snapshots.get(ctx, who, dojo_id, snapshot_id))


@router.get(
    "/dojos/{dojo_id}/snapshots/{snapshot_id}/attribution",
    response_model=AttributionOut,
    tags=["snapshots"],
)
async def attribution(
    dojo_id: uuid.UUID, snapshot_id: uuid.UUID, who: Caller, ctx: Ctx
) -> AttributionOut:
    """Who wrote which line, as of a snapshot."""
    return AttributionOut(**await snapshots.attribution(ctx, who, dojo_id, snapshot_id))


@router.post(
    "/dojos/{dojo_id}/snapshots/{snapshot_id}/restore",
    status_code=201,
    response_model=SnapshotOut,
    tags=["snapshots"],
)
async def restore(dojo_id: uuid.UUID, snapshot_id: uuid.UUID, who: Caller, ctx: Ctx) -> SnapshotOut:
    """Facilitator: bring the code back to a snapshot, as a new edit everyone sees live."""
    return SnapshotOut(**dict(await snapshots.restore(ctx, who, dojo_id, snapshot_id)))


@router.get("/dojos/{dojo_id}/diff", response_model=DiffOut, tags=["snapshots"])
async def diff(
    dojo_id: uuid.UUID,
    who: Caller,
    ctx: Ctx,
    from_: Annotated[uuid.UUID, Query(alias="from")],
    to: uuid.UUID,
) -> DiffOut:
    """A unified diff of the code between two snapshots."""
    text = await snapshots.diff(ctx, who, dojo_id, from_, to)
    return DiffOut(from_snapshot=from_, to_snapshot=to, diff=text)


@router.get(
    "/dojos/{dojo_id}/export",
    tags=["snapshots"],
    response_class=Response,
    responses={200: {"content": {"application/zip": {}}, "description": "The session as a zip"}},
)
async def export_session(dojo_id: uuid.UUID, who: Caller, ctx: Ctx) -> Response:
    """Everything: final code, snapshots, chat, attribution, metadata."""
    name, data = await export.export_zip(ctx, who, dojo_id)
    return Response(
        data,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
