"""The local stack's demo data: seeded POCs flow outbox → relay → bus → search index; and
the Redis path of POC and dojo events."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from pathlib import Path

import asyncpg
import httpx
import redis.asyncio as aioredis

from infra.local.demo_pocs import DEMO_POCS
from infra.local.seed import seed_all, seed_identity, seed_pocs
from platform_api.dojos import DojosSettings
from platform_api.kernel import KeySet
from platform_api.kernel.keys import generate_private_key_pem
from platform_api.kernel.provision import ServiceDatabase
from platform_api.pocs import worker
from platform_api.pocs.settings import PocsSettings
from platform_api.search.app import create_app as create_search_app
from platform_api.search.settings import SearchSettings
from tests.harness.asgi import serve
from tests.harness.dojos import dojos_app
from tests.harness.identity import Account, SignUp
from tests.harness.pocs import MakePoc

from .conftest import Sync


async def test_seeders_are_idempotent_and_feed_search(
    identity_db: ServiceDatabase,
    pocs_db: ServiceDatabase,
    pocs_settings: PocsSettings,
    identity: httpx.AsyncClient,
    search: httpx.AsyncClient,
    sync: Sync,
    tmp_path: Path,
) -> None:
    key = tmp_path / "identity.pem"
    key.write_text(generate_private_key_pem())
    env = {
        "IDENTITY_DATABASE_URL": identity_db.app_dsn,
        "IDENTITY_JWT_PRIVATE_KEY_FILE": str(key),
        "POCS_DATABASE_URL": pocs_db.app_dsn,
    }
    created = await seed_all(env, [seed_identity, seed_pocs])
    assert f"{len(DEMO_POCS['bill@mrbill.dev'])} POCs of bill@mrbill.dev" in created
    assert await seed_all(env, [seed_identity, seed_pocs]) == []  # a second run changes nothing
    await sync()
    login = await identity.post(
        "/login", json={"email": "ana@mrbill.dev", "password": "mrbill-demo-2026"}
    )
    ana = Account("", "", "ana@mrbill.dev", login.json()["access_token"], "")
    found = (await search.get("/search", params={"q": "pyhton"}, headers=ana.auth)).json()
    names = {item["name"] for item in found["items"]}
    assert {"FastAPI multi-tenant starter", "Django admin customisations"} <= names
    assert "Rocket skates telemetry" not in names  # Acme Labs
    private = (await search.get("/search", params={"q": "webassembly"}, headers=ana.auth)).json()
    assert private["total"] == 0  # Bill's private POC
    conn = await asyncpg.connect(pocs_db.owner_dsn)
    try:
        assert await conn.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 0
    finally:
        await conn.close()


async def test_redis_path_of_the_local_stack(
    search_settings: SearchSettings,
    pocs_settings: PocsSettings,
    identity_keys: KeySet,
    sign_up: SignUp,
    make_poc: MakePoc,
    redis_url: str,
    tmp_path: Path,
) -> None:
    """pocs API → outbox → pocs worker → Redis Streams → search consumer → tantivy on disk."""
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    bus = {"event_bus": "redis", "redis_url": redis_url, "event_stream_prefix": prefix}
    worker_task = asyncio.create_task(worker.main(pocs_settings.model_copy(update=bus)))
    settings = search_settings.model_copy(update={**bus, "data_dir": str(tmp_path)})
    try:
        async with serve(create_search_app(settings, keys=identity_keys)) as client:
            owner = await sign_up()
            await make_poc(owner, name="Streamed through Redis", language="Rust")
            deadline = asyncio.get_running_loop().time() + 15
            while True:
                found = await client.get("/search", params={"q": "rsut"}, headers=owner.auth)
                if found.json()["total"]:
                    break
                assert asyncio.get_running_loop().time() < deadline, "nothing reached search"
                await asyncio.sleep(0.05)
            assert found.json()["items"][0]["name"] == "Streamed through Redis"
            # The counters move right after the index commit: poll for them too.
            while (
                'search_events_total{outcome="applied"}' not in (await client.get("/metrics")).text
            ):
                assert asyncio.get_running_loop().time() < deadline, "no applied events counted"
                await asyncio.sleep(0.05)
            assert (await client.get("/readyz")).status_code == 200
    finally:
        worker_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker_task
        redis = aioredis.Redis.from_url(redis_url)
        await redis.delete(f"{prefix}:poc", f"{prefix}:dojo")
        await redis.aclose()


async def test_redis_path_of_dojo_events(
    search_settings: SearchSettings,
    dojos_settings: DojosSettings,
    identity_keys: KeySet,
    sign_up: SignUp,
    redis_url: str,
    tmp_path: Path,
) -> None:
    """dojo API → outbox → dojo worker → Redis Streams → search consumer → tantivy on disk."""
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    bus = {"event_bus": "redis", "redis_url": redis_url, "event_stream_prefix": prefix}
    dojo_settings = dojos_settings.model_copy(update={**bus, "run_worker": True})
    settings = search_settings.model_copy(update={**bus, "data_dir": str(tmp_path)})
    try:
        async with (
            serve(dojos_app(dojo_settings)) as dojos,
            serve(create_search_app(settings, keys=identity_keys, dojos_client=dojos)) as client,
        ):
            owner = await sign_up()
            made = await dojos.post(
                "/dojos",
                json={"name": "Streamed kata", "language": "Elixir", "tags": ["redis"]},
                headers=owner.auth,
            )
            assert made.status_code == 201, made.text
            deadline = asyncio.get_running_loop().time() + 15
            while True:
                found = await client.get(
                    "/search/dojos", params={"q": "streamd"}, headers=owner.auth
                )
                if found.json()["total"]:
                    break
                assert asyncio.get_running_loop().time() < deadline, "nothing reached search"
                await asyncio.sleep(0.05)
            item = found.json()["items"][0]
            assert (item["dojo_id"], item["language"]) == (made.json()["dojo_id"], "Elixir")
            assert (await client.get("/readyz")).status_code == 200
    finally:
        redis = aioredis.Redis.from_url(redis_url)
        await redis.delete(f"{prefix}:poc", f"{prefix}:dojo")
        await redis.aclose()
