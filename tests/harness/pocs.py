"""POC service fixtures, shared with the search tests: a migrated test database, the app
(tokens from the identity app), the owner's pool (relay, purge) and a POC factory.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from platform_api.kernel import KeySet
from platform_api.kernel.provision import ServiceDatabase
from platform_api.pocs.app import create_app
from platform_api.pocs.settings import PocsSettings
from tests.harness.asgi import serve
from tests.harness.databases import database_fixture, owner_connections
from tests.harness.identity import Make, created_through

MakePoc = Make


pocs_db = database_fixture("pocs")


@pytest.fixture(scope="session")
def pocs_settings(pocs_db: ServiceDatabase) -> PocsSettings:
    return PocsSettings(
        environment="test",
        database_url=pocs_db.app_dsn,
        migrations_database_url=pocs_db.owner_dsn,
        event_bus="memory",
        db_pool_max=4,
        import_max_rows=50,
    )


@pytest.fixture(scope="session")
async def pocs(
    pocs_settings: PocsSettings, identity_keys: KeySet
) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(create_app(pocs_settings, keys=identity_keys)) as client:
        yield client


@pytest.fixture(scope="session")
async def owner_pool(pocs_db: ServiceDatabase) -> AsyncIterator[asyncpg.Pool]:
    """Connections as the database owner: what the outbox relay and the purge job use."""
    async with owner_connections(pocs_db) as pool:
        yield pool


@pytest.fixture
def make_poc(pocs: httpx.AsyncClient) -> MakePoc:
    """Factory: a POC created through the API by ``account``."""
    return created_through(pocs, "/pocs", name="A proof of concept")
