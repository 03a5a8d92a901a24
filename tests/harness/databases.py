"""A migrated test database per service and per test run.

One database per run (``test_<service>_<run_id>``), so that concurrent runs never share or
drop each other's. :func:`service_database` is the context manager; :func:`database_fixture`
makes the session fixture ``<service>_db`` from it; :func:`owner_connections` connects as its
owner; :func:`tenant_connection` opens a transaction scoped to one tenant.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import pytest

from platform_api.kernel import create_pool, migrations
from platform_api.kernel.db import TENANT_SETTING
from platform_api.kernel.provision import ServiceDatabase, drop_database, provision_database


@asynccontextmanager
async def service_database(
    admin_dsn: str, service: str, run_id: str
) -> AsyncIterator[ServiceDatabase]:
    """``service``'s database and roles, created afresh and migrated; dropped at the end."""
    db = await provision_database(admin_dsn, service, f"test_{service}_{run_id}", recreate=True)
    await migrations.upgrade(service, db.owner_dsn)
    try:
        yield db
    finally:
        await drop_database(admin_dsn, db.name)


def database_fixture(service: str) -> Callable[..., Any]:
    """The session fixture ``<service>_db``: ``identity_db = database_fixture("identity")``."""

    @pytest.fixture(scope="session", name=f"{service}_db")
    async def fixture(admin_dsn: str, run_id: str) -> AsyncIterator[ServiceDatabase]:
        async with service_database(admin_dsn, service, run_id) as db:
            yield db

    return fixture


@asynccontextmanager
async def owner_connections(db: ServiceDatabase) -> AsyncIterator[asyncpg.Pool]:
    """Connections as ``db``'s owner: what outbox relays and purge jobs use."""
    pool = await create_pool(db.owner_dsn, max_size=2)
    try:
        yield pool
    finally:
        await pool.close()


@asynccontextmanager
async def tenant_connection(dsn: str, tenant_id: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection to ``dsn`` in a transaction scoped to ``tenant_id`` for row-level
    security, as the services' ``tenant_transaction``: for a test to read or change rows
    behind the API's back. Committed at the end, unless the block raises."""
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            await conn.execute("SELECT set_config($1, $2, true)", TENANT_SETTING, tenant_id)
            yield conn
    finally:
        await conn.close()


async def cut_listeners(conn: asyncpg.Connection | asyncpg.pool.PoolConnectionProxy) -> int:
    """End, from the server's side, every other connection of this database that listens
    (as a restart or a failover would); return how many."""
    return int(
        await conn.fetchval(
            """SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
               WHERE datname = current_database() AND pid <> pg_backend_pid()
                 AND query LIKE 'LISTEN%'"""
        )
    )
