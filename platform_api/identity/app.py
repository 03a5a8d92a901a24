"""Identity service: the app factory (wires adapters at start-up, tears them down at exit)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from fastapi import FastAPI

from platform_api.kernel import KeySet, TokenVerifier, create_pool, create_service_app
from platform_api.kernel.db import close_pool
from platform_api.kernel.ratelimit import RateLimiter

from .routes import router
from .security import Passwords, TokenSigner
from .service import Identity
from .settings import IdentitySettings

DESCRIPTION = """
Tenants, members, login and tokens. Access tokens are EdDSA-signed JWTs (15 minutes);
every other service verifies them locally with the keys at `/.well-known/jwks.json`.
Refresh tokens rotate on every use; presenting a used one revokes the whole login.
"""


def create_app(
    settings: IdentitySettings | None = None, *, pool: asyncpg.Pool | None = None
) -> FastAPI:
    """Build the identity app. Tests pass ``settings`` (and may pass a ``pool``)."""
    settings = settings or IdentitySettings()
    signer = TokenSigner(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own_pool = pool is None
        db = pool or await create_pool(
            settings.database_url, min_size=settings.db_pool_min, max_size=settings.db_pool_max
        )
        digest_key = settings.email_digest_key.get_secret_value() or "development-only-digest-key"
        app.state.identity = Identity(
            settings=settings,
            pool=db,
            passwords=Passwords(settings),
            signer=signer,
            limiter=RateLimiter(settings.redis_url, prefix=settings.rate_limit_prefix),
            digest_key=digest_key.encode(),
        )
        try:
            yield
        finally:
            await app.state.identity.limiter.aclose()
            if own_pool:
                await close_pool(db)

    async def readiness(app: FastAPI) -> None:
        idn: Identity = app.state.identity
        async with idn.pool.acquire() as conn:
            await conn.fetchval("SELECT 1")
        await idn.limiter.ping()

    app = create_service_app(
        settings,
        title="Mr Bill identity",
        description=DESCRIPTION,
        lifespan=lifespan,
        readiness=readiness,
    )
    # The identity service verifies its own tokens with its own public keys (no HTTP hop).
    app.state.verifier = TokenVerifier(
        KeySet(static_keys=signer.jwks["keys"]),
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
    )
    app.include_router(router)
    return app
