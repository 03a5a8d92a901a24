"""Dojo service: the app factory (wires adapters at start-up, tears them down at exit)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import httpx
from fastapi import FastAPI

from platform_api.kernel import KeySet, TokenVerifier, create_pool, create_service_app
from platform_api.kernel.db import close_pool
from platform_api.kernel.events import Publisher
from platform_api.kernel.ratelimit import RateLimiter
from platform_api.kernel.tasks import check_running, stop
from rooms.ports import SnapshotStore
from rooms.snapshots import LocalSnapshotStore, S3SnapshotStore

from . import worker
from .collab import Collab, HttpCollab, MemoryCollab
from .routes import router
from .routes_room import router as room_router
from .service import Dojos
from .settings import DojosSettings
from .tickets import TicketSigner

DESCRIPTION = """
Live coding dojos: lifecycle, invites and participants, room tickets for the collab engine,
a server-authoritative rotation timer, chat, snapshots with diffs, attribution and restore,
and a zip export of a whole session. Room tickets are EdDSA JWTs (`typ: room+jwt`) that the
collab nodes verify with the keys at `/.well-known/jwks.json`.
"""


@asynccontextmanager
async def build_context(
    settings: DojosSettings,
    *,
    signer: TicketSigner | None = None,
    pool: asyncpg.Pool | None = None,
    collab: Collab | None = None,
    blobs: SnapshotStore | None = None,
) -> AsyncIterator[Dojos]:
    """The use cases' dependencies, from settings unless given (tests)."""
    signer = signer or TicketSigner(settings)
    own_pool = pool is None
    db = pool or await create_pool(
        settings.database_url, min_size=settings.db_pool_min, max_size=settings.db_pool_max
    )
    if collab is None:
        collab = (
            HttpCollab(settings.collab_url, signer, timeout=settings.collab_timeout_seconds)
            if settings.collab_url
            else MemoryCollab()
        )
    own_blobs = blobs is None
    if blobs is None:
        blobs = (
            S3SnapshotStore(
                settings.s3_bucket,
                kms_key_id=settings.s3_kms_key_id or None,
                endpoint_url=settings.s3_endpoint_url or None,
            )
            if settings.s3_bucket
            else LocalSnapshotStore(Path(settings.snapshot_dir))
        )
    http = httpx.AsyncClient(timeout=5)
    limiter = RateLimiter(settings.redis_url, prefix="mrbill:dojos:rate")
    try:
        yield Dojos(
            settings=settings,
            pool=db,
            signer=signer,
            collab=collab,
            blobs=blobs,
            http=http,
            limiter=limiter,
        )
    finally:
        await limiter.aclose()
        await http.aclose()
        await collab.aclose()
        if own_blobs:
            await blobs.aclose()
        if own_pool:
            await close_pool(db)


def create_app(
    settings: DojosSettings | None = None,
    *,
    collab: Collab | None = None,
    blobs: SnapshotStore | None = None,
    publisher: Publisher | None = None,
) -> FastAPI:
    """Build the dojo app. Tests pass ``settings`` and may pass adapters."""
    settings = settings or DojosSettings()
    signer = TicketSigner(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with build_context(settings, signer=signer, collab=collab, blobs=blobs) as ctx:
            app.state.dojos = ctx
            task: asyncio.Task[None] | None = None
            owner: asyncpg.Pool | None = None
            events = publisher or await worker.publisher_for(settings)
            app.state.publisher = events
            if settings.run_worker and settings.migrations_database_url:
                owner = await create_pool(settings.migrations_database_url, min_size=1, max_size=3)
                task = asyncio.create_task(worker.run(ctx, owner, events), name="dojos-worker")
                task.add_done_callback(worker.report_end)
            app.state.worker = task
            try:
                yield
            finally:
                if task is not None and not task.done():  # (one that failed is logged)
                    await stop(task)
                if owner is not None:
                    await close_pool(owner)
                await events.aclose()

    async def readiness(app: FastAPI) -> None:
        async with app.state.dojos.pool.acquire() as conn:
            await conn.fetchval("SELECT 1")

    def liveness(app: FastAPI) -> None:
        check_running(app.state.worker, "the dojo worker")

    app = create_service_app(
        settings,
        title="Mr Bill dojos",
        description=DESCRIPTION,
        lifespan=lifespan,
        readiness=readiness,
        liveness=liveness,
    )
    app.state.signer = signer
    app.state.verifier = TokenVerifier(
        KeySet(jwks_url=settings.jwks_url or None, cache_seconds=settings.jwks_cache_seconds),
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
    )
    app.include_router(router)
    app.include_router(room_router)
    return app
