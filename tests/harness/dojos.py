"""Dojo service fixtures shared with the search tests: a migrated test database, the identity
service over HTTP (the dojo service reads its JWKS and ``/me``), the dojo app without a
collab node, the owner's pool (the outbox relay) and a dojo factory.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from platform_api.dojos import DojosSettings, create_app
from platform_api.dojos.collab import MemoryCollab
from platform_api.identity.app import create_app as create_identity_app
from platform_api.identity.settings import IdentitySettings
from platform_api.kernel.provision import ServiceDatabase
from tests.harness.asgi import serve
from tests.harness.databases import database_fixture, owner_connections
from tests.harness.identity import Make, created_through
from tests.harness.live_server import live_server

MakeDojo = Make


dojos_db = database_fixture("dojos")


@pytest.fixture(scope="session")
def identity_url(identity_settings: IdentitySettings) -> Iterator[str]:
    """The identity service over HTTP: the dojo service fetches its JWKS and ``/me``."""
    with live_server(create_identity_app(identity_settings)) as url:
        yield url


@pytest.fixture(scope="session")
def dojos_settings(
    dojos_db: ServiceDatabase,
    identity_url: str,
    ticket_key: tuple[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> DojosSettings:
    """No worker: tests relay the outbox themselves, with ``dojos_owner_pool``."""
    return DojosSettings(
        environment="test",
        database_url=dojos_db.app_dsn,
        migrations_database_url=dojos_db.owner_dsn,
        ticket_private_key=ticket_key[0],
        jwks_url=f"{identity_url}/.well-known/jwks.json",
        identity_url=identity_url,
        snapshot_dir=str(tmp_path_factory.mktemp("dojo-objects")),
        event_bus="memory",
        run_worker=False,
        db_pool_max=4,
    )


def dojos_app(settings: DojosSettings) -> FastAPI:
    """The dojo app without a collab node (nothing here enters a room)."""
    return create_app(settings, collab=MemoryCollab())


@pytest.fixture(scope="session")
async def dojos(dojos_settings: DojosSettings) -> AsyncIterator[httpx.AsyncClient]:
    """The dojo app in-process."""
    async with serve(dojos_app(dojos_settings)) as client:
        yield client


@pytest.fixture(scope="session")
async def dojos_owner_pool(dojos_db: ServiceDatabase) -> AsyncIterator[asyncpg.Pool]:
    """Connections as the dojo database's owner: what its outbox relay uses."""
    async with owner_connections(dojos_db) as pool:
        yield pool


@pytest.fixture
def make_dojo(dojos: httpx.AsyncClient) -> MakeDojo:
    """Factory: a dojo created through the API by ``account`` (its facilitator)."""
    return created_through(dojos, "/dojos", name="A coding dojo", language="Python")
