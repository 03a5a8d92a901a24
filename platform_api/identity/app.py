"""Identity service: the app factory (wires adapters at start-up, tears them down at exit)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import asyncpg
from fastapi import FastAPI

from platform_api.kernel import KeySet, TokenVerifier, create_pool, create_service_app
from platform_api.kernel.db import close_pool
from platform_api.kernel.events import Publisher, create_publisher
from platform_api.kernel.outbox import OutboxRelay
from platform_api.kernel.ratelimit import RateLimiter
from platform_api.kernel.tasks import check_running, stop

from . import resets
from .mail import FolderMailer, Mailer, SesMailer
from .routes import router
from .security import Passwords, SecretBox, TokenSigner
from .service import Identity
from .settings import IdentitySettings

DESCRIPTION = """
Tenants, members, login and tokens. Access tokens are EdDSA-signed JWTs (15 minutes);
every other service verifies them locally with the keys at `/.well-known/jwks.json`.
Refresh tokens rotate on every use; presenting a used one revokes the whole login.
"""


def create_app(
    settings: IdentitySettings | None = None,
    *,
    pool: asyncpg.Pool | None = None,
    publisher: Publisher | None = None,
) -> FastAPI:
    """Build the identity app. Tests pass ``settings`` (and may pass a ``pool`` and the
    ``publisher`` its outbox relay hands events to)."""
    settings = settings or IdentitySettings()
    signer = TokenSigner(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Closed in reverse order, also when a later one cannot be made.
        async with AsyncExitStack() as opened:
            db = pool
            if db is None:
                db = await create_pool(
                    settings.database_url,
                    min_size=settings.db_pool_min,
                    max_size=settings.db_pool_max,
                )
                opened.push_async_callback(close_pool, db)
            limiter = RateLimiter(settings.redis_url, prefix=settings.rate_limit_prefix)
            opened.push_async_callback(limiter.aclose)
            digest_key = (
                settings.email_digest_key.get_secret_value() or "development-only-digest-key"
            )
            app.state.identity = Identity(
                settings=settings,
                pool=db,
                passwords=Passwords(settings),
                signer=signer,
                limiter=limiter,
                digest_key=digest_key.encode(),
                mailer=mailer_for(settings),
                secrets=SecretBox(settings),
            )
            # Messages still being sent are given up before the pool closes.
            opened.push_async_callback(resets.stop_sending, app.state.identity)
            app.state.relay = None
            if settings.run_relay and settings.migrations_database_url:
                app.state.relay = await _start_relay(settings, publisher, opened)
            yield

    def liveness(app: FastAPI) -> None:
        check_running(app.state.relay, "the outbox relay")

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
        liveness=liveness,
    )
    # The identity service verifies its own tokens with its own public keys (no HTTP hop).
    app.state.verifier = TokenVerifier(
        KeySet(static_keys=signer.jwks["keys"]),
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
    )
    app.include_router(router)
    return app


def mailer_for(settings: IdentitySettings) -> Mailer:
    if settings.mail == "ses":
        return SesMailer(
            settings.mail_from,
            region=settings.aws_region,
            endpoint_url=settings.aws_endpoint_url or None,
        )
    return FolderMailer(Path(settings.mail_folder), settings.mail_from)


async def _start_relay(
    settings: IdentitySettings, publisher: Publisher | None, opened: AsyncExitStack
) -> asyncio.Task[None]:
    """Relay the outbox (as the owner role) until the app stops; ``opened`` closes it all."""
    owner = await create_pool(settings.migrations_database_url, min_size=1, max_size=2)
    opened.push_async_callback(close_pool, owner)
    if publisher is None:
        publisher = await create_publisher(settings.bus_config())
        opened.push_async_callback(publisher.aclose)
    task = asyncio.create_task(OutboxRelay(owner, publisher).run(), name="identity-relay")
    opened.push_async_callback(stop, task)
    return task
