"""HTTP handlers of the content service: parse, call the use case, map the result."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import FileResponse

from platform_api.kernel import (
    Principal,
    Problem,
    current_principal,
    decode_cursor,
    encode_cursor,
    idempotency,
    not_found,
    problem_responses,
    tenant_transaction,
)
from platform_api.kernel.auth import bearer_token
from platform_api.kernel.blobs import BlobError, LinkExpired, LocalBlobStore, NoSuchObject
from platform_api.kernel.errors import request_locale
from platform_api.kernel.streaming import ClosingStreamingResponse

from . import service, store
from .progress import ProgressHub, event_stream
from .schemas import (
    TERMINAL,
    ContentRequestIn,
    ContentRequestOut,
    ContentRequestPage,
    DownloadOut,
    PocFilter,
    RequestType,
    Status,
    failure,
)
from .service import Content

router = APIRouter()
Caller = Annotated[Principal, Depends(current_principal)]


def _content(request: Request) -> Content:
    return request.app.state.content


Ctx = Annotated[Content, Depends(_content)]


def _locale(request: Request, response: Response) -> str:
    """The reader's language (``Accept-Language``, as for problems): failure reasons are in it."""
    response.headers.append("Vary", "Accept-Language")
    return request_locale(request)


Locale = Annotated[str, Depends(_locale)]


def to_out(row: Any, locale: str = "en") -> ContentRequestOut:
    """A request as the API shows it, its failure reason in ``locale``."""
    error_code, error = failure(row["error_message"], locale)
    return ContentRequestOut(
        request_id=row["request_id"],
        type=row["type"],
        status=row["status"],
        progress=row["progress"],
        title=row["title"],
        from_date=row["from_date"],
        to_date=row["to_date"],
        language=row["output_language"],
        filter=PocFilter.stored((row["parameters"] or {}).get("filter", {})),
        poc_count=row["poc_count"],
        error=error,
        error_code=error_code,
        size_bytes=row["result_bytes"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        started_at=row["started_at"],
        completed_at=row["completed_at"],
    )


def _after(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    values = decode_cursor(cursor, ("created_at", "request_id"))
    if values is None:
        return None
    try:
        created_at = datetime.fromisoformat(values["created_at"]).astimezone(UTC)
        return created_at, uuid.UUID(str(values["request_id"]))
    except (TypeError, ValueError, OverflowError):
        raise Problem(400, "The cursor is malformed") from None


@router.post(
    "/content-requests",
    status_code=201,
    response_model=ContentRequestOut,
    tags=["content"],
    responses={
        200: {"description": "Replay of an earlier request with the same key"},
        **problem_responses(401, 429, 502, 503),
    },
)
async def create_request(
    body: ContentRequestIn,
    request: Request,
    response: Response,
    who: Caller,
    ctx: Ctx,
    locale: Locale,
    idempotency_key: idempotency.IdempotencyKey = None,
) -> ContentRequestOut:
    """Ask for a PDF report or a yearly video of your POCs; it is generated in the background."""
    row, created = await service.create_request(
        ctx, who, bearer_token(request), body, idempotency_key
    )
    if not created:
        response.status_code = 200
        response.headers["Idempotent-Replayed"] = "true"
    response.headers["Location"] = (
        f"{request.scope.get('root_path', '')}/content-requests/{row['request_id']}"
    )
    return to_out(row, locale)


@router.get(
    "/content-requests",
    response_model=ContentRequestPage,
    tags=["content"],
    responses=problem_responses(401),
)
async def list_requests(
    who: Caller,
    ctx: Ctx,
    locale: Locale,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    type: RequestType | None = None,
    status: Status | None = None,
) -> ContentRequestPage:
    """Your content requests, newest first."""
    async with tenant_transaction(ctx.pool, who.tenant_id) as conn:
        rows = await store.list_requests(
            conn,
            who.tenant_id,
            who.user_id,
            limit=limit + 1,
            after=_after(cursor),
            type_=type,
            status=status,
        )
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor(
            {"created_at": last["created_at"].isoformat(), "request_id": str(last["request_id"])}
        )
    return ContentRequestPage(
        items=[to_out(r, locale) for r in rows[:limit]], next_cursor=next_cursor
    )


@router.get(
    "/content-requests/{request_id}",
    response_model=ContentRequestOut,
    tags=["content"],
    responses=problem_responses(401, 404),
)
async def get_request(
    request_id: uuid.UUID, who: Caller, ctx: Ctx, locale: Locale
) -> ContentRequestOut:
    """One request, with its status and progress (poll it, or follow ``/events``)."""
    return to_out(await service.get_request(ctx, who, request_id), locale)


@router.post(
    "/content-requests/{request_id}/cancel",
    response_model=ContentRequestOut,
    tags=["content"],
    responses=problem_responses(401, 404, 409),
)
async def cancel_request(
    request_id: uuid.UUID, who: Caller, ctx: Ctx, locale: Locale
) -> ContentRequestOut:
    """Stop a queued or running request (a worker rendering it stops at its next step)."""
    return to_out(await service.cancel_request(ctx, who, request_id), locale)


@router.delete(
    "/content-requests/{request_id}",
    status_code=204,
    tags=["content"],
    responses=problem_responses(401, 404),
)
async def delete_request(request_id: uuid.UUID, who: Caller, ctx: Ctx) -> Response:
    """Delete a request and its file."""
    await service.delete_request(ctx, who, request_id)
    return Response(status_code=204)


@router.get(
    "/content-requests/{request_id}/download",
    response_model=DownloadOut,
    tags=["content"],
    responses=problem_responses(401, 404, 409),
)
async def download(request_id: uuid.UUID, who: Caller, ctx: Ctx) -> DownloadOut:
    """A short-lived link to the finished file (409 until it has succeeded); for a video, also
    one to its thumbnail."""
    link = await service.download_link(ctx, who, request_id)
    return DownloadOut(
        url=link.url,
        expires_at=link.expires_at,
        filename=link.filename,
        content_type=link.content_type,
        thumbnail_url=link.thumbnail_url,
    )


@router.get(
    "/content-requests/{request_id}/events",
    tags=["content"],
    response_class=ClosingStreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "progress events"},
        **problem_responses(401, 404),
    },
)
async def events(
    request_id: uuid.UUID, who: Caller, ctx: Ctx, request: Request, locale: Locale
) -> Response:
    """Server-Sent Events: a ``progress`` event on every change, until the request ends."""
    await service.get_request(ctx, who, request_id)  # 404 before the stream starts
    hub: ProgressHub = request.app.state.progress

    async def read() -> Any:
        async with tenant_transaction(ctx.pool, who.tenant_id) as conn:
            return await store.get_owned(conn, who.tenant_id, who.user_id, request_id)

    stream = event_stream(
        hub,
        request_id,
        read,
        lambda row: to_out(row, locale).model_dump(mode="json", by_alias=True),
        max_seconds=ctx.settings.events_max_seconds,
        terminal=TERMINAL,
    )
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return ClosingStreamingResponse(stream, media_type="text/event-stream", headers=headers)


SignedParam = Annotated[str | None, Query(max_length=300, description="From the signed link")]


@router.get(
    "/files/{key:path}",
    tags=["downloads"],
    response_class=FileResponse,
    responses={
        200: {
            "description": "The file",
            "content": {media_type: {} for media_type in service.MEDIA_TYPES.values()},
        },
        **problem_responses(403, 404),
    },
)
async def signed_file(
    key: str,
    ctx: Ctx,
    expires: SignedParam = None,
    filename: SignedParam = None,
    sig: SignedParam = None,
) -> Response:
    """Local stack only: serves a file behind a signed, short-lived URL (S3's role in AWS)."""
    if not isinstance(ctx.blobs, LocalBlobStore):
        raise not_found("File")
    params = {"expires": expires or "", "filename": filename or "", "sig": sig or ""}
    try:
        path = ctx.blobs.open_signed(key, params)
    except NoSuchObject:
        raise not_found("File") from None  # deleted since the link was given
    except LinkExpired:
        raise Problem(403, "The download link has expired; ask for a new one") from None
    except BlobError:  # forged or altered, or a key that names no file
        raise Problem(403, "This download link is not valid") from None
    return FileResponse(path, media_type=service.media_type(key), filename=filename or path.name)
