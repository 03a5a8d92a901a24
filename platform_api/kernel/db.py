"""PostgreSQL access: one asyncpg pool per service database, and the tenant transaction.

Row-level security reads the tenant from the ``app.tenant_id`` setting. It is set with
``set_config(..., true)``, i.e. for the current transaction only, so a pooled connection
handed to the next request never carries the previous tenant.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from typing import Literal

import asyncpg
import structlog

TENANT_SETTING = "app.tenant_id"
Isolation = Literal["read_committed", "repeatable_read", "serializable"]
ACQUIRE_TIMEOUT_SECONDS = 5.0  # a request waits this long for a pooled connection, no longer
# Set for the duration of an HTTP request (``bounded_connection_waits``); background work
# (consumers, job heartbeats) leaves it unset and waits for a connection as long as it takes.
_wait_limit: ContextVar[float | None] = ContextVar("db_wait_limit", default=None)


class DatabaseBusy(Exception):
    """Every pooled connection stayed busy for the request's bounded wait (answered 503)."""


@contextmanager
def bounded_connection_waits(seconds: float | None = None) -> Iterator[None]:
    """Within the block, waiting for a pooled connection ends after ``seconds`` (default
    ``ACQUIRE_TIMEOUT_SECONDS``) with :class:`DatabaseBusy`: under overload a request fails
    fast and clearly instead of queueing until its client gives up."""
    token = _wait_limit.set(ACQUIRE_TIMEOUT_SECONDS if seconds is None else seconds)
    try:
        yield
    finally:
        _wait_limit.reset(token)


async def _init_connection(conn: asyncpg.Connection) -> None:
    for name in ("json", "jsonb"):
        await conn.set_type_codec(name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    """Open a pool whose connections decode JSON columns to Python objects."""
    return await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, init=_init_connection, command_timeout=30
    )


def usable(conn: asyncpg.pool.PoolConnectionProxy | None) -> bool:
    """Whether a connection held from a pool (say, for ``LISTEN``) can take the next
    statement. When its connection is lost (the database restarted or failed over), the pool
    takes it back by itself and detaches the proxy, whose methods then raise
    ``InterfaceError``."""
    if conn is None:
        return False
    try:
        return not conn.is_closed()
    except asyncpg.InterfaceError:
        return False


async def close_pool(pool: asyncpg.Pool, *, within: float = 10.0) -> None:
    """Close ``pool`` gracefully, or, past ``within`` seconds, at once: a graceful close waits
    for every connection to come back, and a shutdown must not wait on one that never does
    (a query stuck on a database out of reach)."""
    try:
        async with asyncio.timeout(within):
            await pool.close()
    except TimeoutError:
        structlog.get_logger("kernel.db").warning("pool_close_forced", seconds=within)
        pool.terminate()


@asynccontextmanager
async def _connection(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """A pooled connection; within ``bounded_connection_waits``, :class:`DatabaseBusy`
    once its wait is over."""
    limit = _wait_limit.get()
    try:
        conn = await pool.acquire(timeout=limit)
    except TimeoutError as exc:  # only a bounded wait times out
        raise DatabaseBusy(f"no database connection free within {limit} s") from exc
    try:
        yield conn
    finally:
        await pool.release(conn)


@asynccontextmanager
async def tenant_transaction(
    pool: asyncpg.Pool,
    tenant_id: uuid.UUID | str,
    *,
    isolation: Isolation | None = None,
    readonly: bool = False,
) -> AsyncIterator[asyncpg.Connection]:
    """Yield a connection inside a transaction scoped to ``tenant_id`` for RLS.

    ``isolation`` defaults to the server's (READ COMMITTED). Under REPEATABLE READ every
    statement sees the database as of the first one, which sets the tenant.
    """
    async with _connection(pool) as conn, conn.transaction(isolation=isolation, readonly=readonly):
        await conn.execute("SELECT set_config($1, $2, true)", TENANT_SETTING, str(tenant_id))
        yield conn


@asynccontextmanager
async def transaction(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """A transaction with no tenant: RLS-protected tables show no rows in it."""
    async with _connection(pool) as conn, conn.transaction():
        yield conn
