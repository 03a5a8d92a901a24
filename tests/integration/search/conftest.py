"""Search fixtures: the POC and dojo services feed the search service through outbox →
relay → bus.

``sync()`` relays both outboxes into the in-memory bus and waits until the search
service's consumer has acknowledged everything: after it, searches see every change.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import httpx
import pytest

from platform_api.kernel import KeySet
from platform_api.kernel.events import InMemoryBus
from platform_api.kernel.outbox import OutboxRelay
from platform_api.kernel.provision import ServiceDatabase
from platform_api.search.app import create_app
from platform_api.search.settings import SearchSettings
from tests.harness.asgi import serve
from tests.harness.databases import database_fixture

Sync = Callable[[], Awaitable[None]]


search_db = database_fixture("search")


@pytest.fixture(scope="session")
def search_settings(search_db: ServiceDatabase) -> SearchSettings:
    return SearchSettings(
        environment="test",
        database_url=search_db.app_dsn,
        migrations_database_url=search_db.owner_dsn,
        event_bus="memory",
        pocs_url="http://testserver",
        dojos_url="http://testserver",
        db_pool_max=4,
    )


@pytest.fixture(scope="session")
def bus() -> InMemoryBus:
    return InMemoryBus(topics=["poc", "dojo", "identity"], redeliver_after=5)


@pytest.fixture(scope="session")
async def search(
    search_settings: SearchSettings,
    identity_keys: KeySet,
    bus: InMemoryBus,
    pocs: httpx.AsyncClient,
    dojos: httpx.AsyncClient,
) -> AsyncIterator[httpx.AsyncClient]:
    """The search app (tantivy in RAM), consuming ``bus``, rebuilding from the POC and
    dojo apps."""
    app = create_app(
        search_settings, keys=identity_keys, bus=bus, pocs_client=pocs, dojos_client=dojos
    )
    async with serve(app) as client:
        client.app = app  # type: ignore[attr-defined]
        yield client


@pytest.fixture(scope="session")
def sync(
    owner_pool: asyncpg.Pool,
    dojos_owner_pool: asyncpg.Pool,
    bus: InMemoryBus,
    search: httpx.AsyncClient,
) -> Sync:
    relays = [OutboxRelay(owner_pool, bus), OutboxRelay(dojos_owner_pool, bus, keep_sent=None)]

    async def run() -> None:
        for relay in relays:
            await relay.drain()
        deadline = time.monotonic() + 10
        while await bus.lag():
            assert time.monotonic() < deadline, "the search consumer did not catch up"
            await asyncio.sleep(0.01)

    return run
