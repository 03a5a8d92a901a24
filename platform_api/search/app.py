"""Search service: the app factory (index, bookkeeping database, event consumer)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import httpx
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from platform_api.kernel import KeySet, TokenVerifier, create_pool, create_service_app
from platform_api.kernel.events import InMemoryBus

from .consumer import IndexConsumer, open_consumer
from .index import SearchIndex
from .routes import router
from .service import Search, SearchMetrics
from .settings import SearchSettings

DESCRIPTION = """
Find POCs by name, description, language, frameworks and tags — typos forgiven ("pyhton"
finds Python), with facets, highlights and as-you-type suggestions. The index is fed by the
POC service's events; it only ever shows your organization's POCs that you may see.
"""


async def open_index(settings: SearchSettings) -> SearchIndex:
    """The index adapter the settings name."""
    if settings.index_backend == "opensearch":
        from .index_opensearch import OpenSearchIndex

        index = OpenSearchIndex(
            settings.opensearch_url,
            index=settings.opensearch_index,
            replicas=settings.opensearch_replicas,
        )
        await index.ensure_index()
        return index
    from .index_tantivy import TantivyIndex

    return TantivyIndex(settings.data_dir or None)


@asynccontextmanager
async def build_search(
    settings: SearchSettings,
    *,
    registry: CollectorRegistry | None = None,
    pool: asyncpg.Pool | None = None,
    index: SearchIndex | None = None,
    pocs_client: httpx.AsyncClient | None = None,
) -> AsyncIterator[Search]:
    """Open (or take) every adapter the use cases need; close what it opened."""
    db = pool or await create_pool(
        settings.database_url, min_size=settings.db_pool_min, max_size=settings.db_pool_max
    )
    idx = index or await open_index(settings)
    http = pocs_client or httpx.AsyncClient(base_url=settings.pocs_url, timeout=10)
    try:
        yield Search(
            settings=settings,
            pool=db,
            index=idx,
            metrics=SearchMetrics(registry or CollectorRegistry()),
            pocs_client=http,
        )
    finally:
        if pocs_client is None:
            await http.aclose()
        if index is None:
            await idx.aclose()
        if pool is None:
            await db.close()


def create_app(
    settings: SearchSettings | None = None,
    *,
    pool: asyncpg.Pool | None = None,
    keys: KeySet | None = None,
    index: SearchIndex | None = None,
    bus: InMemoryBus | None = None,
    pocs_client: httpx.AsyncClient | None = None,
) -> FastAPI:
    """Build the search app. Tests pass ``settings``, the identity ``keys``, an index, a bus."""
    settings = settings or SearchSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with build_search(
            settings,
            registry=app.state.metrics.registry,
            pool=pool,
            index=index,
            pocs_client=pocs_client,
        ) as search:
            app.state.search = search
            app.state.consumer_task = None
            consumer = await open_consumer(settings, bus) if settings.consume else None
            if consumer is not None:
                worker = IndexConsumer(search, consumer, batch=settings.consumer_batch)
                app.state.consumer_task = asyncio.create_task(worker.run())
            try:
                yield
            finally:
                if consumer is not None:
                    await worker.stop_and_wait(app.state.consumer_task)
                    await consumer.aclose()

    async def readiness(app: FastAPI) -> None:
        search: Search = app.state.search
        async with search.pool.acquire() as conn:
            await conn.fetchval("SELECT 1")
        await search.index.ping()
        task = app.state.consumer_task
        if task is not None and task.done():
            raise RuntimeError("the event consumer stopped")

    app = create_service_app(
        settings,
        title="Mr Bill search",
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
