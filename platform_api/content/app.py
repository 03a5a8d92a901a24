"""Content service: the app factory (wires adapters at start-up, tears them down at exit)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from fastapi import FastAPI

from platform_api.kernel import KeySet, TokenVerifier, create_pool, create_service_app
from platform_api.kernel.blobs import BlobStore
from platform_api.kernel.db import close_pool
from platform_api.kernel.queues import JobQueue
from platform_api.kernel.tasks import check_running, stop

from .erasure import ContentEraser, start_erasure
from .pocs import HttpPocSource, PocSource
from .progress import ProgressHub
from .routes import router
from .service import Content
from .settings import ContentSettings
from .wiring import build_blob_store, build_queue

DESCRIPTION = """
PDF reports and yearly videos of your POCs. `POST /content-requests` snapshots the POCs and
queues the job; follow it with `GET /content-requests/{id}` or live with
`GET /content-requests/{id}/events` (Server-Sent Events), then fetch a short-lived link from
`GET /content-requests/{id}/download`. Send an `Idempotency-Key` header to make retries safe.
"""


def create_app(
    settings: ContentSettings | None = None,
    *,
    pool: asyncpg.Pool | None = None,
    pocs: PocSource | None = None,
    blobs: BlobStore | None = None,
    queue: JobQueue | None = None,
    verifier: TokenVerifier | None = None,
) -> FastAPI:
    """Build the content app. Tests pass settings and may pass any adapter."""
    settings = settings or ContentSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = pool or await create_pool(
            settings.database_url, min_size=settings.db_pool_min, max_size=settings.db_pool_max
        )
        source = pocs or HttpPocSource(settings.pocs_url, timeout=settings.pocs_timeout_seconds)
        jobs = queue or build_queue(settings)
        store = blobs or build_blob_store(settings)
        app.state.content = Content(
            settings=settings, pool=db, pocs=source, blobs=store, queue=jobs
        )
        app.state.progress = ProgressHub(db)
        await app.state.progress.start()
        app.state.erasure = (
            start_erasure(settings, ContentEraser(db, store)) if settings.run_erasure else None
        )
        try:
            yield
        finally:
            if app.state.erasure is not None:  # first: it uses the pool and the blob store
                await stop(app.state.erasure)
            await app.state.progress.stop()
            if queue is None:
                await jobs.aclose()
            if blobs is None:
                await store.aclose()
            if pocs is None and isinstance(source, HttpPocSource):
                await source.aclose()
            if pool is None:
                await close_pool(db)

    async def readiness(app: FastAPI) -> None:
        ctx: Content = app.state.content
        async with ctx.pool.acquire() as conn:
            await conn.fetchval("SELECT 1")

    def liveness(app: FastAPI) -> None:
        check_running(app.state.erasure, "the erasure consumer")

    app = create_service_app(
        settings,
        title="Mr Bill content",
        description=DESCRIPTION,
        lifespan=lifespan,
        readiness=readiness,
        liveness=liveness,
    )
    app.state.verifier = verifier or TokenVerifier(
        KeySet(jwks_url=settings.jwks_url or None, cache_seconds=settings.jwks_cache_seconds),
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
    )
    app.include_router(router)
    return app
