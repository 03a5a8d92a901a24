"""Search service: the app factory (index, bookkeeping database, event consumer)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import asyncpg
import httpx
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from platform_api.kernel import KeySet, TokenVerifier, create_pool, create_service_app
from platform_api.kernel.db import close_pool
from platform_api.kernel.events import InMemoryBus
from platform_api.kernel.tasks import stop

from . import service
from .consumer import IndexConsumer, open_consumer
from .index import SearchIndex
from .index_dojos import DojoIndex
from .index_dojos_opensearch import OpenSearchDojoIndex
from .index_dojos_tantivy import TantivyDojoIndex
from .index_opensearch import OpenSearchIndex
from .index_tantivy import TantivyIndex
from .opensearch_base import OpenSearchAdapter
from .routes import router
from .routes_dojos import router as dojos_router
from .service import Search, SearchMetrics
from .settings import SearchSettings
from .tantivy_base import TantivyAdapter

DESCRIPTION = """
Find POCs by name, description, language, frameworks and tags — typos forgiven ("pyhton"
finds Python), with facets, highlights and as-you-type suggestions — and coding dojos by
name, description, language and tags, with status and language facets. The index is fed by
the POC and dojo services' events; it only ever shows your organization's POCs and dojos
that you may see.
"""
Remote = TypeVar("Remote", bound=OpenSearchAdapter[Any, Any, Any])
Embedded = TypeVar("Embedded", bound=TantivyAdapter[Any, Any, Any])


async def _open(
    settings: SearchSettings, opensearch: type[Remote], name: str, tantivy: type[Embedded]
) -> Remote | Embedded:
    """The adapter the settings name, of one document kind (its OpenSearch index ``name``)."""
    if settings.index_backend == "opensearch":
        index = opensearch(
            settings.opensearch_url, index=name, replicas=settings.opensearch_replicas
        )
        await index.ensure_index()
        return index
    return tantivy(settings.data_dir or None)


async def open_index(settings: SearchSettings) -> SearchIndex:
    """The POC index adapter the settings name."""
    return await _open(settings, OpenSearchIndex, settings.opensearch_index, TantivyIndex)


async def open_dojo_index(settings: SearchSettings) -> DojoIndex:
    """The dojo index adapter the settings name (beside the POC index)."""
    index_name = settings.opensearch_dojo_index
    return await _open(settings, OpenSearchDojoIndex, index_name, TantivyDojoIndex)


@asynccontextmanager
async def build_search(
    settings: SearchSettings,
    *,
    registry: CollectorRegistry | None = None,
    pool: asyncpg.Pool | None = None,
    index: SearchIndex | None = None,
    pocs_client: httpx.AsyncClient | None = None,
    dojo_index: DojoIndex | None = None,
    dojos_client: httpx.AsyncClient | None = None,
) -> AsyncIterator[Search]:
    """Open (or take) every adapter the use cases need; close what it opened."""
    async with contextlib.AsyncExitStack() as stack:
        db = pool
        if db is None:
            db = await create_pool(
                settings.database_url, min_size=settings.db_pool_min, max_size=settings.db_pool_max
            )
            stack.push_async_callback(close_pool, db)
        idx = index
        if idx is None:
            idx = await open_index(settings)
            stack.push_async_callback(idx.aclose)
        dojo_idx = dojo_index
        if dojo_idx is None:
            dojo_idx = await open_dojo_index(settings)
            stack.push_async_callback(dojo_idx.aclose)
        http = pocs_client
        if http is None:
            http = httpx.AsyncClient(base_url=settings.pocs_url, timeout=10)
            stack.push_async_callback(http.aclose)
        dojos_http = dojos_client
        if dojos_http is None:
            dojos_http = httpx.AsyncClient(base_url=settings.dojos_url, timeout=10)
            stack.push_async_callback(dojos_http.aclose)
        yield Search(
            settings=settings,
            pool=db,
            index=idx,
            metrics=SearchMetrics(registry or CollectorRegistry()),
            pocs_client=http,
            dojo_index=dojo_idx,
            dojos_client=dojos_http,
        )


def create_app(
    settings: SearchSettings | None = None,
    *,
    pool: asyncpg.Pool | None = None,
    keys: KeySet | None = None,
    index: SearchIndex | None = None,
    bus: InMemoryBus | None = None,
    pocs_client: httpx.AsyncClient | None = None,
    dojo_index: DojoIndex | None = None,
    dojos_client: httpx.AsyncClient | None = None,
) -> FastAPI:
    """Build the search app. Tests pass ``settings``, the identity ``keys``, indexes, a bus,
    and clients of the POC and dojo services."""
    settings = settings or SearchSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with build_search(
            settings,
            registry=app.state.metrics.registry,
            pool=pool,
            index=index,
            pocs_client=pocs_client,
            dojo_index=dojo_index,
            dojos_client=dojos_client,
        ) as search:
            app.state.search = search
            app.state.consumer_task = None
            consumer = await open_consumer(settings, bus) if settings.consume else None
            upgrade = asyncio.create_task(service.rebuild_after_upgrade(search))
            if consumer is not None:
                worker = IndexConsumer(
                    search,
                    consumer,
                    batch=settings.consumer_batch,
                    max_attempts=settings.consumer_max_attempts,
                )
                app.state.consumer_task = asyncio.create_task(worker.run())
            try:
                yield
            finally:
                await stop(upgrade)
                if consumer is not None:
                    await worker.stop_and_wait(app.state.consumer_task)
                    await consumer.aclose()

    async def readiness(app: FastAPI) -> None:
        search: Search = app.state.search
        async with search.pool.acquire() as conn:
            await conn.fetchval("SELECT 1")
        await search.index.ping()
        await search.dojo_index.ping()
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
    app.include_router(dojos_router)
    return app
