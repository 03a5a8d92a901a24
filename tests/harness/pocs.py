"""POC service fixtures, shared with the search tests: a migrated test database, the app
(tokens from the identity app), the owner's pool (relay, purge) and a POC factory.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import httpx
import pytest

from platform_api.kernel import KeySet, create_pool
from platform_api.kernel.provision import ServiceDatabase
from platform_api.pocs.app import create_app
from platform_api.pocs.settings import PocsSettings
from tests.harness.asgi import serve
from tests.harness.databases import database_fixture
from tests.harness.identity import Account

MakePoc = Callable[..., Awaitable[dict[str, Any]]]


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
    pool = await create_pool(pocs_db.owner_dsn, max_size=2)
    yield pool
    await pool.close()


@pytest.fixture
def make_poc(pocs: httpx.AsyncClient) -> MakePoc:
    """Factory: a POC created through the API by ``account``."""

    async def make(account: Account, **fields: Any) -> dict[str, Any]:
        body = {"name": "A proof of concept", **fields}
        response = await pocs.post("/pocs", json=body, headers=account.auth)
        assert response.status_code == 201, response.text
        return response.json()

    return make
