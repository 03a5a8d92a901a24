"""The local stack's demo data: the dojo seeder is idempotent and builds the demo randori."""

from __future__ import annotations

from pathlib import Path

from infra.local.seed import DEMO_DOJO, seed_all, seed_dojos, seed_identity
from platform_api.identity.settings import IdentitySettings
from platform_api.kernel import tenant_transaction
from platform_api.kernel.db import create_pool
from platform_api.kernel.provision import ServiceDatabase


async def test_demo_dojo_is_seeded_once(
    identity_settings: IdentitySettings, dojos_db: ServiceDatabase, tmp_path: Path
) -> None:
    key = tmp_path / "identity.pem"
    key.write_text(identity_settings.jwt_private_key.get_secret_value())
    env = {
        "IDENTITY_DATABASE_URL": identity_settings.database_url,
        "IDENTITY_JWT_PRIVATE_KEY_FILE": str(key),
        "DOJOS_DATABASE_URL": dojos_db.app_dsn,
    }
    first = await seed_all(env, [seed_identity, seed_dojos])
    assert f"dojo {DEMO_DOJO!r}" in first
    assert await seed_all(env, [seed_identity, seed_dojos]) == []
    pool = await create_pool(dojos_db.owner_dsn)
    try:
        async with pool.acquire() as conn:
            tenant = await conn.fetchval("SELECT tenant_id FROM dojos WHERE name = $1", DEMO_DOJO)
        async with tenant_transaction(pool, tenant) as conn:
            roles = await conn.fetch(
                """SELECT p.display_name, p.role FROM dojo_participants p
                   JOIN dojos d USING (dojo_id) WHERE d.name = $1 ORDER BY p.join_time""",
                DEMO_DOJO,
            )
    finally:
        await pool.close()
    assert [(r["display_name"], r["role"]) for r in roles] == [
        ("Bill Gomes", "facilitator"),
        ("Ana Souza", "navigator"),
    ]
