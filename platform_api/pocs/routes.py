"""HTTP handlers of the POC service: parse, call the use case, map the result."""

from __future__ import annotations

import hmac
import uuid
from collections.abc import AsyncGenerator
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import structlog
from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import JSONResponse

from platform_api.kernel import (
    Principal,
    Problem,
    current_principal,
    decode_cursor,
    encode_cursor,
    idempotency,
    problem_responses,
    tenant_transaction,
    unauthorized,
)
from platform_api.kernel.errors import request_locale
from platform_api.kernel.streaming import ClosingStreamingResponse
from platform_api.kernel.text import language_name, tag_key

from . import service, store, transfer
from .events import snapshot
from .schemas import (
    ImportReport,
    PocIn,
    PocOut,
    PocPage,
    PocPatch,
    QueryText,
    SnapshotOut,
    SnapshotPage,
    Status,
    TrashedPocOut,
    TrashPage,
    Visibility,
)
from .service import Pocs, etag

_log = structlog.get_logger("pocs.export")
router = APIRouter()
Caller = Annotated[Principal, Depends(current_principal)]
Limit = Annotated[int, Query(ge=1, le=100)]
Cursor = Annotated[str | None, Query(max_length=500)]
Sort = Literal["newest", "oldest", "updated", "name"]
Scope = Annotated[
    Literal["all", "mine"], Query(description="all: yours and your team's shared POCs")
]


def _pocs(request: Request) -> Pocs:
    return request.app.state.pocs


Svc = Annotated[Pocs, Depends(_pocs)]


def _out(row: Any) -> PocOut:
    return PocOut(**snapshot(row))


def _with_etag(response: Response, row: Any) -> PocOut:
    response.headers["ETag"] = etag(row["version"])
    return _out(row)


def _after(cursor: str | None, sort: str) -> tuple[Any, uuid.UUID] | None:
    values = decode_cursor(cursor, ("sort", "key", "id"))
    if values is None:
        return None
    try:
        if values["sort"] != sort or not isinstance(values["key"], str):
            raise ValueError("cursor of another sort")
        key: Any = values["key"]
        if "\x00" in key:
            raise ValueError("NUL in cursor")
        if sort != "name":
            key = datetime.fromisoformat(key).astimezone(UTC)
        return key, uuid.UUID(str(values["id"]))
    except (TypeError, ValueError, OverflowError):
        raise Problem(400, "The cursor is malformed") from None


def _next_cursor(rows: list[Any], limit: int, sort: str) -> str | None:
    if len(rows) <= limit:
        return None
    last = rows[limit - 1]
    key = last["sort_key"]
    return encode_cursor(
        {
            "sort": sort,
            "key": key if isinstance(key, str) else key.isoformat(),
            "id": str(last["poc_id"]),
        }
    )


REPLAYED = "Idempotent-Replayed"  # on the answer to a retry: the first request's result


def _once(key: str | None, *parts: Any) -> idempotency.Once | None:
    return idempotency.Once(key, idempotency.request_hash(*parts)) if key else None


@router.post(
    "/pocs",
    status_code=201,
    response_model=PocOut,
    tags=["pocs"],
    responses=problem_responses(404, 409),
)
async def create_poc(
    body: PocIn,
    who: Caller,
    svc: Svc,
    response: Response,
    idempotency_key: idempotency.IdempotencyKey = None,
) -> PocOut:
    """Register a POC. Tags are normalised (trimmed, lower-case, unique). With an
    ``Idempotency-Key``, a retry within 24 hours gets the POC the first request made instead
    of a second one (the answer then carries ``Idempotent-Replayed: true``)."""
    once = _once(idempotency_key, body.model_dump(mode="json"))
    row, replayed = await service.create_poc(svc, who, body, once)
    response.headers["Location"] = f"/pocs/{row['poc_id']}"
    if replayed:
        response.headers[REPLAYED] = "true"
    return _with_etag(response, row)


@router.get("/pocs", response_model=PocPage, tags=["pocs"])
async def list_pocs(
    who: Caller,
    svc: Svc,
    scope: Scope = "all",
    sort: Sort = "newest",
    language: Annotated[QueryText | None, Query(max_length=50)] = None,
    status: Status | None = None,
    visibility: Visibility | None = None,
    tag: Annotated[list[Annotated[QueryText, Query(max_length=50)]], Query(max_length=10)] = [],  # noqa: B006
    q: Annotated[QueryText | None, Query(max_length=100, description="Part of the name")] = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> PocPage:
    """Your POCs and those your team shares, with filters (several ``tag``: all of them)."""
    filters = store.ListFilter(
        viewer_id=who.user_id,
        mine_only=scope == "mine",
        language=language_name(language) if language else None,
        status=status,
        visibility=visibility,
        tags=tuple(dict.fromkeys(key for key in map(tag_key, tag) if key)),
        name_contains=q,
    )
    async with tenant_transaction(svc.pool, who.tenant_id) as conn:
        rows = await store.list_pocs(
            conn, filters, sort=sort, limit=limit + 1, after=_after(cursor, sort)
        )
    return PocPage(
        items=[_out(r) for r in rows[:limit]], next_cursor=_next_cursor(rows, limit, sort)
    )


@router.get(
    "/pocs/export",
    tags=["import and export"],
    responses={
        200: {
            "description": "The POCs as a file",
            "content": {"text/csv": {"schema": {"type": "string"}}, "application/json": {}},
        },
        **problem_responses(429),
    },
)
async def export_pocs(
    who: Caller,
    svc: Svc,
    format: transfer.Format = "csv",
    scope: Scope = "mine",
) -> Response:
    """Download POCs as CSV or JSON (the import format).

    An organization downloads a few exports at once (``POCS_EXPORT_CONCURRENCY_PER_TENANT``
    per service process); one more is answered 429 with ``Retry-After``."""
    writer = transfer.export_writer(format)
    chunks = service.export_pocs(svc, who, writer, mine_only=scope == "mine")
    # The first page is read before the response starts, so that a failure to read it
    # (no database connection free, say) is still answered as a problem.
    first = await anext(chunks)
    return ClosingStreamingResponse(
        _Download(first, chunks),
        media_type=writer.media_type,
        headers={"Content-Disposition": f'attachment; filename="mrbill-pocs.{format}"'},
    )


class _Download:
    """The body: ``first``, then the rest. Closing it closes the rest, whether or not the
    body was ever read (sending the response's start may fail), so the export's place is
    given back at once.

    A failure once the body has started can only cut the connection (the client sees an
    incomplete body). The error handler logs the error; this says how much of the file went
    out, since the request's own log says 200."""

    def __init__(self, first: bytes, rest: AsyncGenerator[bytes, None]) -> None:
        self._first: bytes | None = first
        self._rest = rest
        self._sent = 0

    def __aiter__(self) -> _Download:
        return self

    async def __anext__(self) -> bytes:
        if self._first is not None:
            chunk, self._first = self._first, None
        else:
            try:
                chunk = await anext(self._rest)
            except StopAsyncIteration:
                raise
            except Exception as exc:
                _log.warning("export_cut_short", bytes_sent=self._sent, error=repr(exc))
                raise
        self._sent += len(chunk)
        return chunk

    async def aclose(self) -> None:
        await self._rest.aclose()


_IMPORT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "application/json": {
                "schema": {"type": "array", "items": {"$ref": "#/components/schemas/PocIn"}}
            },
        },
    }
}


@router.post(
    "/pocs/import",
    status_code=201,
    response_model=ImportReport,
    tags=["import and export"],
    responses=problem_responses(409),
    openapi_extra=_IMPORT_BODY,
)
async def import_pocs(
    request: Request,
    who: Caller,
    svc: Svc,
    response: Response,
    dry_run: bool = False,
    idempotency_key: idempotency.IdempotencyKey = None,
) -> ImportReport:
    """Import POCs from CSV (``text/csv``) or JSON: all rows, or none (422 lists the bad rows).
    With an ``Idempotency-Key``, a retry of the same file within 24 hours gets the first
    import's report and imports nothing again (the answer then carries
    ``Idempotent-Replayed: true``)."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in ("text/csv", "application/json"):
        raise Problem(415, "Send the file as text/csv or application/json")
    raw = await request.body()
    rows = transfer.parse_import(raw, "csv" if media == "text/csv" else "json")
    report, replayed = await service.import_pocs(
        svc,
        who,
        rows,
        dry_run=dry_run,
        locale=request_locale(request),
        once=_once(idempotency_key, media, raw),
    )
    if dry_run:
        response.status_code = 200
    if replayed:
        response.headers[REPLAYED] = "true"
    return report


@router.get("/pocs/{poc_id}", response_model=PocOut, tags=["pocs"])
async def get_poc(poc_id: uuid.UUID, who: Caller, svc: Svc, response: Response) -> PocOut:
    return _with_etag(response, await service.get_poc(svc, who, poc_id))


IfMatch = Annotated[
    str | None,
    Header(max_length=200, description="The ETag you read; required to change a POC"),
]


@router.patch("/pocs/{poc_id}", response_model=PocOut, tags=["pocs"])
async def update_poc(
    poc_id: uuid.UUID,
    body: PocPatch,
    who: Caller,
    svc: Svc,
    response: Response,
    if_match: IfMatch = None,
) -> PocOut:
    """Change some fields. ``If-Match`` is required: 428 without it, 412 if the POC changed."""
    row = await service.update_poc(svc, who, poc_id, body, if_match)
    return _with_etag(response, row)


@router.delete("/pocs/{poc_id}", status_code=204, tags=["pocs"])
async def delete_poc(
    poc_id: uuid.UUID, who: Caller, svc: Svc, if_match: IfMatch = None
) -> Response:
    """Move a POC to the trash; it can be restored for 30 days, then it is purged."""
    await service.delete_poc(svc, who, poc_id, if_match)
    return Response(status_code=204)


@router.get("/trash", response_model=TrashPage, tags=["trash"])
async def list_trash(who: Caller, svc: Svc, limit: Limit = 20, cursor: Cursor = None) -> TrashPage:
    """Your deleted POCs that can still be restored, most recently deleted first."""
    values = decode_cursor(cursor, ("deleted_at", "id"))
    after = None
    if values is not None:
        try:
            after = (
                datetime.fromisoformat(values["deleted_at"]).astimezone(UTC),
                uuid.UUID(str(values["id"])),
            )
        except (TypeError, ValueError, OverflowError):
            raise Problem(400, "The cursor is malformed") from None
    since = datetime.now(UTC) - svc.retention
    async with tenant_transaction(svc.pool, who.tenant_id) as conn:
        rows = await store.list_trash(conn, who.user_id, since=since, limit=limit + 1, after=after)
    items = [
        TrashedPocOut(
            **snapshot(r), deleted_at=r["deleted_at"], purge_after=r["deleted_at"] + svc.retention
        )
        for r in rows[:limit]
    ]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor(
            {"deleted_at": last["deleted_at"].isoformat(), "id": str(last["poc_id"])}
        )
    return TrashPage(items=items, next_cursor=next_cursor)


@router.post("/trash/{poc_id}/restore", response_model=PocOut, tags=["trash"])
async def restore_poc(poc_id: uuid.UUID, who: Caller, svc: Svc, response: Response) -> PocOut:
    """Bring a deleted POC back."""
    return _with_etag(response, await service.restore_poc(svc, who, poc_id))


@router.get("/internal/tenants/{tenant_id}/pocs", response_model=SnapshotPage, tags=["internal"])
async def tenant_feed(
    tenant_id: uuid.UUID,
    svc: Svc,
    x_service_token: Annotated[str | None, Header(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
    cursor: Cursor = None,
) -> JSONResponse:
    """Service-to-service: every live POC of a tenant with its version (index rebuilds).

    Authenticated with the shared service token, never with a user's token.
    """
    expected = svc.settings.effective_service_token().encode()
    if not x_service_token or not hmac.compare_digest(x_service_token.encode(), expected):
        raise unauthorized("A service token is required")
    values = decode_cursor(cursor, ("id",))
    try:
        after = uuid.UUID(str(values["id"])) if values else None
    except ValueError:
        raise Problem(400, "The cursor is malformed") from None
    async with tenant_transaction(svc.pool, tenant_id) as conn:
        rows = await store.feed(conn, limit=limit + 1, after=after)
    items = [SnapshotOut(**snapshot(r)) for r in rows[:limit]]
    next_cursor = (
        encode_cursor({"id": str(rows[limit - 1]["poc_id"])}) if len(rows) > limit else None
    )
    return JSONResponse(SnapshotPage(items=items, next_cursor=next_cursor).model_dump(mode="json"))
