"""The live progress hub keeps listening when its connection is lost (a database restart or
failover), instead of leaving every progress stream on its slow fallback until a restart."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg

from platform_api.content import store
from platform_api.content.progress import ProgressHub
from platform_api.kernel import create_pool
from platform_api.kernel.db import close_pool
from platform_api.kernel.provision import ServiceDatabase
from tests.harness.databases import cut_listeners


async def test_the_hub_listens_again_after_losing_its_connection(
    content_db: ServiceDatabase,
) -> None:
    pool = await create_pool(content_db.app_dsn, min_size=1, max_size=3)
    hub = ProgressHub(pool, check_seconds=0.05)
    await hub.start()
    control = await asyncpg.connect(content_db.app_dsn)
    request_id = uuid.uuid4()
    try:
        with hub.watch(request_id) as changed:
            assert await cut_listeners(control) >= 1
            # Listening again, it wakes its watchers: a change may have been missed.
            await asyncio.wait_for(changed.wait(), timeout=10)
            changed.clear()
            await control.execute("SELECT pg_notify($1, $2)", store.CHANNEL, str(request_id))
            await asyncio.wait_for(changed.wait(), timeout=10)
    finally:
        await control.close()
        await hub.stop()
        await close_pool(pool)


async def test_the_hub_stops_cleanly_with_its_connection_lost(
    content_db: ServiceDatabase,
) -> None:
    pool = await create_pool(content_db.app_dsn, min_size=1, max_size=3)
    hub = ProgressHub(pool, check_seconds=60)
    await hub.start()
    control = await asyncpg.connect(content_db.app_dsn)
    try:
        assert await cut_listeners(control) >= 1
        await asyncio.sleep(0.1)
    finally:
        await control.close()
        await hub.stop()  # does not raise on the detached connection
        await close_pool(pool)
