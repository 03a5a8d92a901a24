"""Content use cases: request a report or video, cancel, delete, get a download link."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import PurePosixPath
from typing import Any

import asyncpg
import structlog

from platform_api.kernel import Problem, idempotency, not_found, tenant_transaction
from platform_api.kernel.auth import Principal
from platform_api.kernel.blobs import BlobStore
from platform_api.kernel.i18n import N_
from platform_api.kernel.queues import JobQueue

from . import store
from .pocs import PocQuery, PocSource
from .schemas import TERMINAL, ContentRequestIn
from .settings import ContentSettings

_log = structlog.get_logger("content")
SECONDS_PER_SLIDE = 3.0
CONTENT_TYPES = {"report": "application/pdf", "video": "video/mp4"}
THUMBNAIL_TYPE = "image/jpeg"
MEDIA_TYPES = {
    ".pdf": CONTENT_TYPES["report"],
    ".mp4": CONTENT_TYPES["video"],
    ".jpg": THUMBNAIL_TYPE,
}
_TITLES = {
    ("report", "en"): "POC report",
    ("report", "pt-BR"): "Relatório de POCs",
    ("video", "en"): "My year in POCs",
    ("video", "pt-BR"): "Meu ano em POCs",
}


@dataclass
class Content:
    """Everything the use cases need, built once per process by ``create_app``."""

    settings: ContentSettings
    pool: asyncpg.Pool
    pocs: PocSource
    blobs: BlobStore
    queue: JobQueue


def tenant_folders(tenant_id: uuid.UUID) -> tuple[str, str]:
    """The folders of an organization's files: (reports, videos). Every key below is built
    inside them, so that erasing these folders erases every file the organization has."""
    return f"tenants/{tenant_id}/", f"videos/{tenant_id}/"


def user_folders(tenant_id: uuid.UUID, user_id: uuid.UUID) -> tuple[str, str]:
    """The folders of one member's files, (reports, videos), inside the organization's."""
    reports, videos = tenant_folders(tenant_id)
    return f"{reports}users/{user_id}/", f"{videos}{user_id}/"


def object_key(row: Any) -> str:
    """Where a request's file lives (the design brief's S3 layout); fixed per request."""
    reports, videos = user_folders(row["tenant_id"], row["user_id"])
    if row["type"] == "video":
        return f"{videos}{row['from_date'].year}/{row['request_id']}.mp4"
    return f"{reports}reports/{row['request_id']}.pdf"


def thumbnail_key(row: Any) -> str:
    """Where a video's thumbnail lives (the design brief: ``videos/…/thumbnails/{id}.jpg``)."""
    _, videos = user_folders(row["tenant_id"], row["user_id"])
    return f"{videos}thumbnails/{row['request_id']}.jpg"


def media_type(key: str) -> str:
    """The media type of a stored file, from its key's extension."""
    return MEDIA_TYPES.get(PurePosixPath(key).suffix, "application/octet-stream")


def download_filename(row: Any) -> str:
    """``mrbill-report-2025.pdf`` for a calendar year, ``…-2024-2026.pdf`` for whole years,
    else both dates: ``…-2024-03-01_2025-02-28.pdf``."""
    start, end = row["from_date"], row["to_date"]
    if (start.month, start.day, end.month, end.day) != (1, 1, 12, 31):
        period = f"{start.isoformat()}_{end.isoformat()}"
    elif start.year == end.year:
        period = str(start.year)
    else:
        period = f"{start.year}-{end.year}"
    extension = "mp4" if row["type"] == "video" else "pdf"
    return f"mrbill-{row['type']}-{period}.{extension}"


def _request_hash(body: ContentRequestIn) -> str:
    canonical = json.dumps(body.model_dump(mode="json", by_alias=True), sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _replay(row: asyncpg.Record, request_hash: str) -> asyncpg.Record:
    if row["request_hash"] != request_hash:
        raise idempotency.key_reused()
    return row


ACTIVE_RETRY_SECONDS = 30  # Retry-After when a limit on active requests is reached


def _check_active(ctx: Content, mine: int, ours: int) -> None:
    retry = {"Retry-After": str(ACTIVE_RETRY_SECONDS)}
    if mine >= ctx.settings.max_active_per_user:
        raise Problem(
            429,
            "You have {count} reports or videos in progress; wait for one to finish",
            params={"count": mine},
            headers=retry,
        )
    if ours >= ctx.settings.max_active_per_tenant:
        raise Problem(
            429,
            "Your organization has {count} reports or videos in progress; wait for one to finish",
            params={"count": ours},
            headers=retry,
        )


async def create_request(
    ctx: Content, who: Principal, token: str, body: ContentRequestIn, idempotency_key: str | None
) -> tuple[asyncpg.Record, bool]:
    """Snapshot the POCs and queue the job. Returns ``(request, created)``; a retry with the
    same Idempotency-Key returns the first request instead of making a second one."""
    request_hash = _request_hash(body)
    async with tenant_transaction(ctx.pool, who.tenant_id) as conn:
        found = await _same_key(conn, who, idempotency_key)
        if found is not None:
            return _replay(found, request_hash), False
        # Refused before the POC service is asked for a whole export; counted again below,
        # under the organization's lock, where it decides.
        _check_active(
            ctx, *await store.active_requests(conn, who.tenant_id, who.user_id, lock=False)
        )
    assert body.from_date is not None
    assert body.to_date is not None
    query = PocQuery(
        from_date=body.from_date,
        to_date=body.to_date,
        tags=tuple(body.filter.tags),
        language=body.filter.language,
        status=body.filter.status,
    )
    pocs = await ctx.pocs.fetch(who, token, query)
    if len(pocs) > ctx.settings.max_pocs_per_request:
        raise Problem(
            422,
            "Too many POCs ({count}); narrow the period or the filter (max {limit})",
            params={"count": len(pocs), "limit": ctx.settings.max_pocs_per_request},
        )
    title = body.title or f"{_TITLES[(body.type, body.language)]} {_period(body)}"
    try:
        async with tenant_transaction(ctx.pool, who.tenant_id) as conn:
            active = await store.active_requests(conn, who.tenant_id, who.user_id, lock=True)
            # A retry made while the first request was being made: it is one of the active
            # ones now, and the retry is its replay, not one too many.
            found = await _same_key(conn, who, idempotency_key)
            if found is not None:
                return _replay(found, request_hash), False
            _check_active(ctx, *active)
            request_id = await store.insert_request(
                conn,
                tenant_id=who.tenant_id,
                user_id=who.user_id,
                type_=body.type,
                title=title,
                from_date=body.from_date,
                to_date=body.to_date,
                output_language=body.language,
                parameters={"filter": body.filter.model_dump(mode="json")},
                idempotency_key=idempotency_key,
                request_hash=request_hash,
            )
            per_slide = SECONDS_PER_SLIDE if body.type == "video" else None
            await store.insert_pocs(conn, who.tenant_id, request_id, pocs, per_slide)
            # Sent inside the transaction: if sending fails nothing is committed; if the commit
            # fails the worker finds no request and drops the job (see media_jobs.jobs).
            await ctx.queue.send(
                {"request_id": str(request_id), "tenant_id": str(who.tenant_id), "type": body.type}
            )
            row = await store.get_request(conn, who.tenant_id, request_id)
    except asyncpg.UniqueViolationError:
        # A concurrent retry with the same Idempotency-Key won the race: answer with its request.
        async with tenant_transaction(ctx.pool, who.tenant_id) as conn:
            found = await store.by_idempotency_key(
                conn, who.tenant_id, who.user_id, idempotency_key or ""
            )
        if found is None:
            raise
        return _replay(found, request_hash), False
    _log.info("content_requested", request_id=str(request_id), type=body.type, pocs=len(pocs))
    return row, True


async def _same_key(
    conn: asyncpg.Connection, who: Principal, idempotency_key: str | None
) -> asyncpg.Record | None:
    if not idempotency_key:
        return None
    return await store.by_idempotency_key(conn, who.tenant_id, who.user_id, idempotency_key)


def _period(body: ContentRequestIn) -> str:
    if body.year is not None:
        return str(body.year)
    assert body.from_date is not None
    assert body.to_date is not None
    return f"{body.from_date.isoformat()} / {body.to_date.isoformat()}"


async def get_request(ctx: Content, who: Principal, request_id: uuid.UUID) -> asyncpg.Record:
    async with tenant_transaction(ctx.pool, who.tenant_id) as conn:
        row = await store.get_owned(conn, who.tenant_id, who.user_id, request_id)
    if row is None:
        raise not_found("Content request")
    return row


async def cancel_request(ctx: Content, who: Principal, request_id: uuid.UUID) -> asyncpg.Record:
    """Cancel a queued or running request (idempotent); a finished one is a 409."""
    async with tenant_transaction(ctx.pool, who.tenant_id) as conn:
        row = await store.get_owned(conn, who.tenant_id, who.user_id, request_id)
        if row is None:
            raise not_found("Content request")
        if row["status"] == "succeeded":
            raise Problem(409, "The request has already succeeded")
        if row["status"] == "failed":
            raise Problem(409, "The request has already failed")
        await store.cancel(conn, who.tenant_id, request_id)
        return await store.get_request(conn, who.tenant_id, request_id)


async def delete_request(ctx: Content, who: Principal, request_id: uuid.UUID) -> None:
    """Delete the request and its file. A worker still rendering it finds it gone and stops."""
    async with tenant_transaction(ctx.pool, who.tenant_id) as conn:
        row = await store.get_owned(conn, who.tenant_id, who.user_id, request_id)
        if row is None:
            raise not_found("Content request")
        await store.delete(conn, who.tenant_id, request_id)
    await ctx.blobs.delete(object_key(row))
    if row["type"] == "video":
        await ctx.blobs.delete(thumbnail_key(row))


@dataclass(frozen=True)
class DownloadLink:
    url: str
    expires_at: datetime
    filename: str
    content_type: str
    thumbnail_url: str | None  # videos: their title card as a JPEG


_NO_FILE = {  # by terminal status
    "succeeded": N_("There is no file for this request"),
    "failed": N_("There is no file: the request failed"),
    "cancelled": N_("There is no file: the request was cancelled"),
}


async def download_link(ctx: Content, who: Principal, request_id: uuid.UUID) -> DownloadLink:
    """Short-lived URLs of the finished file (and of a video's thumbnail)."""
    row = await get_request(ctx, who, request_id)
    if row["status"] != "succeeded" or not row["result_key"]:
        if row["status"] not in TERMINAL:
            raise Problem(409, "The file is not ready yet")
        raise Problem(409, _NO_FILE[row["status"]])
    ttl = ctx.settings.download_ttl_seconds
    filename = download_filename(row)
    url = await ctx.blobs.download_url(row["result_key"], expires_in=ttl, filename=filename)
    thumbnail_url = None
    if row["thumbnail_key"]:
        thumbnail_url = await ctx.blobs.download_url(
            row["thumbnail_key"], expires_in=ttl, filename=filename.removesuffix(".mp4") + ".jpg"
        )
    expires_at = datetime.now(UTC) + timedelta(seconds=ttl)
    return DownloadLink(url, expires_at, filename, CONTENT_TYPES[row["type"]], thumbnail_url)
