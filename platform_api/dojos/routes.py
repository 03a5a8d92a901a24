"""HTTP handlers: dojo lifecycle, invites, participants and room tickets."""

from __future__ import annotations

import hmac
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import JSONResponse

from platform_api.kernel import (
    Principal,
    Problem,
    current_principal,
    decode_cursor,
    encode_cursor,
    tenant_transaction,
    unauthorized,
)
from platform_api.kernel.auth import bearer_token

from . import participants, service, store
from .events import dojo_payload
from .schemas import (
    DojoIn,
    DojoOut,
    DojoPage,
    DojoPatch,
    DojoSnapshotOut,
    DojoSnapshotPage,
    InviteCreatedOut,
    InviteIn,
    InviteList,
    InviteOut,
    JoinIn,
    JwksOut,
    ParticipantList,
    ParticipantOut,
    RoleIn,
    Status,
    TicketOut,
)
from .service import Dojos, Row
from .tickets import room_key

router = APIRouter()
Caller = Annotated[Principal, Depends(current_principal)]
Limit = Annotated[int, Query(ge=1, le=100)]
CursorQ = Annotated[str | None, Query(max_length=500)]


def _dojos(request: Request) -> Dojos:
    return request.app.state.dojos


Ctx = Annotated[Dojos, Depends(_dojos)]


def after(cursor: str | None, time_key: str, id_key: str) -> tuple[datetime, uuid.UUID] | None:
    """Decode a keyset cursor; anything the kernel did not make is a 400."""
    values = decode_cursor(cursor, (time_key, id_key))
    if values is None:
        return None
    try:
        at = datetime.fromisoformat(values[time_key]).astimezone(UTC)
        return at, uuid.UUID(str(values[id_key]))
    except (TypeError, ValueError, OverflowError):
        raise Problem(400, "The cursor is malformed") from None


def next_cursor(rows: list[Any], limit: int, time_key: str, id_key: str) -> str | None:
    if len(rows) <= limit:
        return None
    last = rows[limit - 1]
    return encode_cursor({time_key: last[time_key].isoformat(), id_key: str(last[id_key])})


def dojo_out(row: Row, count: int) -> DojoOut:
    return DojoOut(
        **{
            k: v
            for k, v in dict(row).items()
            if k in DojoOut.model_fields and k not in ("room", "participant_count")
        },
        room=room_key(row["tenant_id"], row["dojo_id"]),
        participant_count=count,
    )


async def _out(ctx: Dojos, who: Principal, row: Row) -> DojoOut:
    async with tenant_transaction(ctx.pool, who.tenant_id) as conn:
        count = await store.count_active(conn, who.tenant_id, row["dojo_id"])
    return dojo_out(row, count)


@router.get("/.well-known/jwks.json", response_model=JwksOut, tags=["tickets"])
async def jwks(request: Request) -> JSONResponse:
    """Public keys that verify room tickets (the collab nodes fetch them)."""
    return JSONResponse(
        request.app.state.signer.jwks, headers={"Cache-Control": "public, max-age=300"}
    )


@router.post("/dojos", status_code=201, response_model=DojoOut, tags=["dojos"])
async def create_dojo(body: DojoIn, request: Request, who: Caller, ctx: Ctx) -> DojoOut:
    """Create a dojo; you are its facilitator."""
    name = await service.display_name(ctx, who, bearer_token(request))
    return await _out(ctx, who, await service.create(ctx, who, body.model_dump(), name))


@router.get("/dojos", response_model=DojoPage, tags=["dojos"])
async def list_dojos(
    who: Caller,
    ctx: Ctx,
    limit: Limit = 20,
    cursor: CursorQ = None,
    status: Annotated[Status | None, Query(description="Default: all but archived")] = None,
    language: Annotated[str | None, Query(max_length=50)] = None,
    since: Annotated[
        datetime | None, Query(description="Dojo date (started/scheduled/created) ≥")
    ] = None,
    until: Annotated[datetime | None, Query(description="Dojo date <")] = None,
) -> DojoPage:
    """Dojos of your organization, newest first (private ones if you take part or manage)."""
    for bound in (since, until):
        if bound is not None and bound.tzinfo is None:
            raise Problem(422, "Dates need a time zone (e.g. 2026-05-01T00:00:00Z)")
    async with tenant_transaction(ctx.pool, who.tenant_id) as conn:
        rows = await store.list_dojos(
            conn, who.tenant_id, limit=limit + 1, after=after(cursor, "created_at", "dojo_id"),
            status=status, language=language, since=since, until=until,
            viewer_id=who.user_id, sees_private=who.has_any_role(*service.ADMIN_ROLES),
        )  # fmt: skip
    items = [dojo_out(r, r["participant_count"]) for r in rows[:limit]]
    return DojoPage(items=items, next_cursor=next_cursor(rows, limit, "created_at", "dojo_id"))


@router.get("/dojos/{dojo_id}", response_model=DojoOut, tags=["dojos"])
async def get_dojo(dojo_id: uuid.UUID, who: Caller, ctx: Ctx) -> DojoOut:
    async with tenant_transaction(ctx.pool, who.tenant_id) as conn:
        row = await service.load(conn, who, dojo_id)
    return await _out(ctx, who, row)


@router.patch("/dojos/{dojo_id}", response_model=DojoOut, tags=["dojos"])
async def update_dojo(dojo_id: uuid.UUID, body: DojoPatch, who: Caller, ctx: Ctx) -> DojoOut:
    """Facilitator or admin: change the dojo (format and starting code only before the start)."""
    fields = body.model_dump(exclude_unset=True)
    nulls = [k for k, v in fields.items() if v is None and k != "scheduled_start_time"]
    if nulls:
        raise Problem(
            422, "These fields cannot be null: {fields}", params={"fields": ", ".join(nulls)}
        )
    return await _out(ctx, who, await service.update(ctx, who, dojo_id, fields))


@router.post("/dojos/{dojo_id}/start", response_model=DojoOut, tags=["dojos"])
async def start_dojo(dojo_id: uuid.UUID, who: Caller, ctx: Ctx) -> DojoOut:
    """Start: the first driver gets the keyboard, the timer runs, the starting code appears."""
    return await _out(ctx, who, await service.start(ctx, who, dojo_id))


@router.post("/dojos/{dojo_id}/end", response_model=DojoOut, tags=["dojos"])
async def end_dojo(dojo_id: uuid.UUID, who: Caller, ctx: Ctx) -> DojoOut:
    """End: a final snapshot; the room becomes read-only."""
    return await _out(ctx, who, await service.end(ctx, who, dojo_id))


@router.post("/dojos/{dojo_id}/archive", response_model=DojoOut, tags=["dojos"])
async def archive_dojo(dojo_id: uuid.UUID, who: Caller, ctx: Ctx) -> DojoOut:
    """Archive a scheduled (cancel) or ended dojo."""
    return await _out(ctx, who, await service.archive(ctx, who, dojo_id))


@router.post(
    "/dojos/{dojo_id}/invites", status_code=201, response_model=InviteCreatedOut, tags=["joining"]
)
async def create_invite(
    dojo_id: uuid.UUID, body: InviteIn, who: Caller, ctx: Ctx
) -> InviteCreatedOut:
    """An invite link (shown once) with a role and an optional expiry."""
    invite, code = await participants.create_invite(
        ctx, who, dojo_id, body.role, body.expires_in_minutes
    )
    url = f"{ctx.settings.public_base_url.rstrip('/')}/dojos/join#{code}"
    return InviteCreatedOut(**dict(invite), code=code, url=url)


@router.get("/dojos/{dojo_id}/invites", response_model=InviteList, tags=["joining"])
async def list_invites(dojo_id: uuid.UUID, who: Caller, ctx: Ctx) -> InviteList:
    rows = await participants.list_invites(ctx, who, dojo_id)
    return InviteList(items=[InviteOut(**dict(r)) for r in rows])


@router.delete("/dojos/{dojo_id}/invites/{invite_id}", status_code=204, tags=["joining"])
async def revoke_invite(
    dojo_id: uuid.UUID, invite_id: uuid.UUID, who: Caller, ctx: Ctx
) -> Response:
    """Revoke a link: whoever joined with it leaves and is disconnected from the room."""
    await participants.revoke_invite(ctx, who, dojo_id, invite_id)
    return Response(status_code=204)


@router.post("/dojos/join", response_model=ParticipantOut, tags=["joining"])
async def join(body: JoinIn, request: Request, who: Caller, ctx: Ctx) -> ParticipantOut:
    """Join with an invite code; the answer says which dojo and with what role."""
    name = await service.display_name(ctx, who, bearer_token(request))
    dojo, me = await participants.join(ctx, who, body.code, name)
    return ParticipantOut(**participants.participant_view(dojo, me))


@router.get("/dojos/{dojo_id}/participants", response_model=ParticipantList, tags=["joining"])
async def list_participants(dojo_id: uuid.UUID, who: Caller, ctx: Ctx) -> ParticipantList:
    items = await participants.list_participants(ctx, who, dojo_id)
    return ParticipantList(items=[ParticipantOut(**p) for p in items])


@router.put(
    "/dojos/{dojo_id}/participants/{user_id}/role", response_model=ParticipantOut, tags=["joining"]
)
async def set_role(
    dojo_id: uuid.UUID, user_id: uuid.UUID, body: RoleIn, who: Caller, ctx: Ctx
) -> ParticipantOut:
    """Facilitator: hand the keyboard to someone (driver), or make them navigator/observer."""
    return ParticipantOut(**await participants.set_role(ctx, who, dojo_id, user_id, body.role))


@router.delete("/dojos/{dojo_id}/participants/{user_id}", status_code=204, tags=["joining"])
async def remove_participant(
    dojo_id: uuid.UUID, user_id: uuid.UUID, who: Caller, ctx: Ctx
) -> Response:
    """Facilitator: remove someone for good; they are disconnected from the room at once."""
    await participants.remove(ctx, who, dojo_id, user_id)
    return Response(status_code=204)


@router.post("/dojos/{dojo_id}/leave", status_code=204, tags=["joining"])
async def leave(dojo_id: uuid.UUID, who: Caller, ctx: Ctx) -> Response:
    await participants.leave(ctx, who, dojo_id)
    return Response(status_code=204)


@router.post("/dojos/{dojo_id}/tickets", response_model=TicketOut, tags=["tickets"])
async def ticket(dojo_id: uuid.UUID, who: Caller, ctx: Ctx) -> TicketOut:
    """A short-lived room ticket; send a fresh one as a text frame before it expires."""
    data = await participants.ticket(ctx, who, dojo_id)
    return TicketOut(**{**data, "expires_at": datetime.fromtimestamp(data["expires_at"], UTC)})


@router.get(
    "/internal/tenants/{tenant_id}/dojos", response_model=DojoSnapshotPage, tags=["internal"]
)
async def tenant_feed(
    tenant_id: uuid.UUID,
    ctx: Ctx,
    x_service_token: Annotated[str | None, Header(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
    cursor: CursorQ = None,
) -> JSONResponse:
    """Service-to-service: every dojo of a tenant (archived too) as its events carry it, with
    its version (search index rebuilds). The shared service token, never a user's token."""
    expected = ctx.settings.effective_service_token().encode()
    if not x_service_token or not hmac.compare_digest(x_service_token.encode(), expected):
        raise unauthorized("A service token is required")
    values = decode_cursor(cursor, ("id",))
    try:
        start = uuid.UUID(str(values["id"])) if values else None
    except ValueError:
        raise Problem(400, "The cursor is malformed") from None
    async with tenant_transaction(ctx.pool, tenant_id) as conn:
        rows = await store.feed(conn, tenant_id, limit=limit + 1, after=start)
    items = [DojoSnapshotOut(**dojo_payload(r, r["participant_ids"])) for r in rows[:limit]]
    more = len(rows) > limit
    page = DojoSnapshotPage(
        items=items,
        next_cursor=encode_cursor({"id": str(rows[limit - 1]["dojo_id"])}) if more else None,
    )
    return JSONResponse(page.model_dump(mode="json"))
