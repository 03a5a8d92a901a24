"""The kernel's transactions on a pool whose every connection is busy: a bounded wait, then a
clear 503 with Retry-After, never a request queued until its client gives up."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from structlog.testing import capture_logs

from platform_api.kernel import KeySet, create_pool
from platform_api.kernel import db as kernel_db
from platform_api.kernel.db import (
    DatabaseBusy,
    bounded_connection_waits,
    close_pool,
    tenant_transaction,
    transaction,
)
from platform_api.kernel.provision import ServiceDatabase
from platform_api.pocs.app import create_app
from platform_api.pocs.settings import PocsSettings
from tests.harness.asgi import serve
from tests.harness.identity import SignUp


@pytest.fixture
def short_wait(monkeypatch: pytest.MonkeyPatch) -> float:
    monkeypatch.setattr(kernel_db, "ACQUIRE_TIMEOUT_SECONDS", 0.2)
    return 0.2


async def test_a_transaction_on_a_busy_pool_fails_after_the_wait(
    pocs_db: ServiceDatabase, short_wait: float
) -> None:
    pool = await create_pool(pocs_db.app_dsn, min_size=1, max_size=1)
    try:
        async with pool.acquire():
            for begin in (
                lambda: tenant_transaction(pool, uuid.uuid4()),
                lambda: transaction(pool),
            ):
                started = time.monotonic()
                with bounded_connection_waits(), pytest.raises(DatabaseBusy):
                    async with begin():
                        pass
                assert short_wait <= time.monotonic() - started < 5
        async with tenant_transaction(pool, uuid.uuid4()) as conn:  # free again: served
            assert await conn.fetchval("SELECT 1") == 1
    finally:
        await pool.close()


async def test_background_work_waits_for_a_connection_as_long_as_it_takes(
    pocs_db: ServiceDatabase, short_wait: float
) -> None:
    """Outside a request (a consumer, a job's heartbeat) a busy pool is waited for: failing
    there would count an attempt against an event or let a job's lease lapse."""
    pool = await create_pool(pocs_db.app_dsn, min_size=1, max_size=1)
    try:
        held = await pool.acquire()

        async def background() -> int:
            async with tenant_transaction(pool, uuid.uuid4()) as conn:
                return int(await conn.fetchval("SELECT 1"))

        waiting = asyncio.create_task(background())
        await asyncio.sleep(short_wait * 3)
        assert not waiting.done()
        await pool.release(held)
        assert await waiting == 1
    finally:
        await pool.close()


async def test_a_request_on_a_busy_pool_gets_503_with_retry_after(
    pocs_db: ServiceDatabase,
    pocs_settings: PocsSettings,
    identity_keys: KeySet,
    sign_up: SignUp,
    short_wait: float,
) -> None:
    owner = await sign_up()
    pool = await create_pool(pocs_db.app_dsn, min_size=1, max_size=1)
    try:
        async with serve(create_app(pocs_settings, pool=pool, keys=identity_keys)) as client:
            async with pool.acquire():
                busy = await client.get("/pocs", headers=owner.auth)
            assert busy.status_code == 503, busy.text
            assert busy.headers["content-type"].startswith("application/problem+json")
            assert busy.headers["retry-after"] == "1"
            assert "busy" in busy.json()["detail"]
            assert (await client.get("/pocs", headers=owner.auth)).status_code == 200
    finally:
        await pool.close()


async def test_closing_a_pool_whose_connection_never_comes_back_is_bounded(
    pocs_db: ServiceDatabase,
) -> None:
    """A shutdown waits for the connections out at most ``within`` seconds, then ends them."""
    pool = await create_pool(pocs_db.app_dsn, min_size=1, max_size=2)
    await pool.acquire()  # never released, as by a query stuck on a lost database
    started = time.monotonic()
    with capture_logs() as logs:
        async with asyncio.timeout(10):
            await close_pool(pool, within=0.3)
    assert time.monotonic() - started < 5
    assert pool.is_closing()
    assert [e["event"] for e in logs] == ["pool_close_forced"]
