"""The local stack's demo data: seeded POCs flow outbox → relay → bus → search index."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import httpx

from infra.local.demo_pocs import DEMO_POCS
from infra.local.seed import seed_all
from platform_api.kernel.keys import generate_private_key_pem
from platform_api.kernel.provision import ServiceDatabase
from platform_api.pocs.settings import PocsSettings
from tests.harness.identity import Account

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
    created = await seed_all(env)
    assert "bill@mrbill.dev" in created
    assert f"{len(DEMO_POCS['bill@mrbill.dev'])} POCs of bill@mrbill.dev" in created
    assert await seed_all(env) == []  # a second run changes nothing
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
