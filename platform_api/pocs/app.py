"""POC service: the app factory (wires adapters at start-up, tears them down at exit)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from fastapi import FastAPI

from platform_api.kernel import KeySet, TokenVerifier, create_pool, create_service_app
from platform_api.kernel.db import close_pool

from .routes import router
from .service import Pocs
from .settings import PocsSettings

DESCRIPTION = """
Register proofs of concept (POCs): name, Markdown description, language, frameworks, tags,
repository, status, dates and who may see them (you, or your whole team). Changes need the
`If-Match` of the version you read. Deleted POCs stay restorable in the trash for 30 days.
Every change is published as an event (`poc.created`, `poc.updated`, `poc.deleted`, ...).
"""


def create_app(
    settings: PocsSettings | None = None,
    *,
    pool: asyncpg.Pool | None = None,
    keys: KeySet | None = None,
) -> FastAPI:
    """Build the POC app. Tests pass ``settings`` and the identity service's public ``keys``."""
    settings = settings or PocsSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own_pool = pool is None
        db = pool or await create_pool(
            settings.database_url, min_size=settings.db_pool_min, max_size=settings.db_pool_max
        )
        app.state.pocs = pocs = Pocs(settings=settings, pool=db)
        try:
            yield
        finally:
            pocs.formatting.shutdown(wait=False, cancel_futures=True)
            if own_pool:
                await close_pool(db)

    async def readiness(app: FastAPI) -> None:
        async with app.state.pocs.pool.acquire() as conn:
            await conn.fetchval("SELECT 1")

    app = create_service_app(
        settings,
        title="Mr Bill POCs",
        description=DESCRIPTION,
        lifespan=lifespan,
        readiness=readiness,
    )
    app.state.verifier = TokenVerifier(
        keys or KeySet(jwks_url=settings.jwks_url, cache_seconds=settings.jwks_cache_seconds),
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
    )
    app.include_router(router)
    return app
