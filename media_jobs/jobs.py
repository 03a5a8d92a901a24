"""One job: claim the request, render it, store the file once, record the outcome.

Safe to run twice (at-least-once delivery): the object key is fixed per request and uploads
are atomic, so a second run overwrites the same object with the same content, and a file left
by a run that died after uploading is reused instead of rendered again. Every state change is
guarded by this run's lease token, so a run presumed dead can no longer finish the request.
"""

from __future__ import annotations

import asyncio
import tempfile
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import structlog

from platform_api.content import store
from platform_api.content.schemas import FAILURES, TERMINAL
from platform_api.content.service import CONTENT_TYPES, THUMBNAIL_TYPE, object_key, thumbnail_key
from platform_api.content.settings import ContentSettings
from platform_api.kernel import tenant_transaction
from platform_api.kernel.blobs import BlobStore
from platform_api.kernel.queues import Delivery, JobQueue, backoff_seconds

from .report import render_report
from .video import render_video

_log = structlog.get_logger("media_jobs")
NOT_YET_VISIBLE_RETRIES = 3  # the job may arrive before the request's transaction commits


class JobCancelled(Exception):
    """The request was cancelled, deleted or taken over while rendering."""


@dataclass
class Deps:
    settings: ContentSettings
    pool: asyncpg.Pool
    blobs: BlobStore
    queue: JobQueue


@dataclass(frozen=True)
class Produced:
    """What a job stored: the file, its size, and a video's thumbnail."""

    key: str
    size: int
    thumbnail_key: str | None = None


def _render(row: Any, pocs: list[dict[str, Any]], folder: Path, progress: Any) -> Path:
    """Render the request's file into ``folder`` (a video also writes ``thumbnail.jpg``)."""
    period = (row["from_date"], row["to_date"])
    if row["type"] == "video":
        return render_video(
            pocs,
            folder / "out.mp4",
            title=row["title"],
            period=period,
            language=row["output_language"],
            progress=progress,
            thumbnail=folder / "thumbnail.jpg",
        )
    return render_report(
        pocs,
        folder / "out.pdf",
        title=row["title"],
        period=period,
        language=row["output_language"],
        progress=progress,
    )


async def handle(deps: Deps, delivery: Delivery) -> str:
    """Process one delivery; return what happened (for logs and tests)."""
    try:
        tenant_id = uuid.UUID(str(delivery.body["tenant_id"]))
        request_id = uuid.UUID(str(delivery.body["request_id"]))
    except (KeyError, ValueError):
        await deps.queue.dead_letter(delivery, reason="malformed job")
        return "malformed"
    log = _log.bind(request_id=str(request_id), tenant_id=str(tenant_id), attempt=delivery.attempt)
    lease = uuid.uuid4()
    for pause in (0.0, 0.02, 0.05, 0.1, 0.25, 0.5):
        await asyncio.sleep(pause)  # the job is sent just before the request is committed
        async with tenant_transaction(deps.pool, tenant_id) as conn:
            if await store.get_request(conn, tenant_id, request_id) is not None:
                break
    async with tenant_transaction(deps.pool, tenant_id) as conn:
        row = await store.get_request(conn, tenant_id, request_id)
        if row is None:
            if delivery.attempt < NOT_YET_VISIBLE_RETRIES:
                await deps.queue.retry(delivery, delay_seconds=1.0)
                return "not-visible-yet"
            await deps.queue.ack(delivery)
            return "gone"
        if row["status"] in TERMINAL:
            await deps.queue.ack(delivery)
            return f"already-{row['status']}"
        if delivery.attempt > deps.settings.max_attempts:  # e.g. killed every time
            await store.claim(conn, tenant_id, request_id, lease)
            await store.finish(
                conn,
                tenant_id,
                request_id,
                lease,
                status="failed",
                error=FAILURES["failed_repeatedly"],
            )
            await deps.queue.dead_letter(delivery, reason="too many attempts")
            return "dead-lettered"
        row = await store.claim(conn, tenant_id, request_id, lease)
        pocs = await store.snapshot(conn, tenant_id, request_id)
    if row is None:
        await deps.queue.ack(delivery)
        return "gone"
    log.info("job_started", type=row["type"], pocs=len(pocs))
    try:
        produced = await _produce(deps, delivery, row, pocs, lease)
    except JobCancelled:
        await deps.queue.ack(delivery)
        log.info("job_cancelled")
        return "cancelled"
    except Exception as exc:
        return await _failed(deps, delivery, tenant_id, request_id, lease, exc, log)
    async with tenant_transaction(deps.pool, tenant_id) as conn:
        done = await store.finish(
            conn,
            tenant_id,
            request_id,
            lease,
            status="succeeded",
            result_key=produced.key,
            result_bytes=produced.size,
            thumbnail_key=produced.thumbnail_key,
        )
        still_there = await store.get_request(conn, tenant_id, request_id)
    if not done and (still_there is None or still_there["status"] == "cancelled"):
        # Deleted or cancelled meanwhile: leave no orphan file.
        await deps.blobs.delete(produced.key)
        if produced.thumbnail_key:
            await deps.blobs.delete(produced.thumbnail_key)
    await deps.queue.ack(delivery)
    log.info("job_done", outcome="succeeded" if done else "superseded", bytes=produced.size)
    return "succeeded" if done else "superseded"


async def _produce(
    deps: Deps, delivery: Delivery, row: Any, pocs: list[dict[str, Any]], lease: uuid.UUID
) -> Produced:
    """Render in a thread while this task heartbeats and records progress; upload the file.

    A video's thumbnail is uploaded before the video, so a video left by a run that died
    has its thumbnail too.
    """
    key = object_key(row)
    thumb = thumbnail_key(row) if row["type"] == "video" else None
    tenant_id, request_id = row["tenant_id"], row["request_id"]
    cancelled = threading.Event()
    latest = [0]

    def progress(pct: int) -> None:  # called from the render thread
        if cancelled.is_set():
            raise JobCancelled
        latest[0] = 5 + int(pct * 0.9)

    async def keep_alive() -> None:
        """Progress and the lease, until the work is done. A failure (the database or the
        queue away for a moment) is logged and tried again on the next round: the render
        goes on either way, and its result must not fail for a beat that did not land."""
        written, beat = 0, asyncio.get_running_loop().time()
        while True:
            await asyncio.sleep(0.25)
            try:
                if latest[0] != written:
                    async with tenant_transaction(deps.pool, tenant_id) as conn:
                        if not await store.set_progress(
                            conn, tenant_id, request_id, lease, latest[0]
                        ):
                            cancelled.set()
                    written = latest[0]
                if asyncio.get_running_loop().time() - beat >= deps.settings.heartbeat_seconds:
                    await deps.queue.extend(delivery)
                    beat = asyncio.get_running_loop().time()
            except Exception as exc:
                _log.warning("heartbeat_failed", request_id=str(request_id), error=repr(exc))

    heart = asyncio.create_task(keep_alive())
    try:
        if await deps.blobs.exists(key):  # a previous run uploaded it, then died: reuse it
            data = await deps.blobs.get_bytes(key)
            if thumb and not await deps.blobs.exists(thumb):
                thumb = None
            return Produced(key, len(data or b""), thumb)
        with tempfile.TemporaryDirectory(dir=deps.settings.scratch_dir or None) as tmp:
            path = await asyncio.to_thread(_render, row, pocs, Path(tmp), progress)
            if cancelled.is_set():
                raise JobCancelled
            if thumb:
                await deps.blobs.put_file(
                    thumb, Path(tmp) / "thumbnail.jpg", content_type=THUMBNAIL_TYPE
                )
            await deps.blobs.put_file(key, path, content_type=CONTENT_TYPES[row["type"]])
            return Produced(key, path.stat().st_size, thumb)
    finally:
        heart.cancel()
        await asyncio.wait({heart})  # never raises: this job's outcome is the render's


async def _failed(
    deps: Deps,
    delivery: Delivery,
    tenant_id: uuid.UUID,
    request_id: uuid.UUID,
    lease: uuid.UUID,
    exc: Exception,
    log: Any,
) -> str:
    log.exception("job_failed", error=type(exc).__name__)
    if delivery.attempt >= deps.settings.max_attempts:
        async with tenant_transaction(deps.pool, tenant_id) as conn:
            await store.finish(
                conn,
                tenant_id,
                request_id,
                lease,
                status="failed",
                error=FAILURES["generation_failed"],  # the exception is in the log above
            )
        await deps.queue.dead_letter(delivery, reason=f"{type(exc).__name__}: {exc}"[:500])
        return "failed"
    delay = backoff_seconds(delivery.attempt, base=deps.settings.retry_backoff_seconds, cap=300)
    await deps.queue.retry(delivery, delay_seconds=delay)
    return "retrying"
