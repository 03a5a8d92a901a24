"""Per-service schema migrations with Alembic (raw SQL revisions, run as the owner role).

Each service keeps its revisions in ``platform_api/<service>/migrations``; its ``env.py``
calls :func:`run_env`. Migrations connect with the owner DSN; the application role only
receives DML rights through default privileges set at provisioning time.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
from alembic import command, context, op
from alembic.config import Config
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool
from sqlalchemy.util import await_only

_ROOT = Path(__file__).resolve().parent.parent


def migrations_folder(service: str) -> Path:
    """``platform_api/<service>/migrations``; the collab engine keeps its own in ``rooms/``."""
    if service == "collab":
        return _ROOT.parent / "rooms" / "migrations"
    return _ROOT / service / "migrations"


def alembic_config(service: str, owner_dsn: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_folder(service)))
    cfg.attributes["owner_dsn"] = owner_dsn
    return cfg


async def upgrade(service: str, owner_dsn: str, revision: str = "head") -> None:
    """Apply ``service``'s migrations up to ``revision`` (Alembic runs in a worker thread)."""
    await asyncio.to_thread(command.upgrade, alembic_config(service, owner_dsn), revision)


def run_sql(script: str) -> None:
    """Run a multi-statement SQL script in the migration's transaction.

    asyncpg prepares statements (one command each); a script goes through its simple-query
    path on the same connection and transaction.
    """
    driver_connection = op.get_bind().connection.driver_connection
    await_only(driver_connection.execute(script))


def run_env() -> None:
    """Body of every service's Alembic ``env.py`` (online mode only)."""
    dsn = context.config.attributes["owner_dsn"]

    async def run() -> None:
        engine = create_async_engine(
            "postgresql+asyncpg://",
            async_creator=lambda: asyncpg.connect(dsn),
            poolclass=NullPool,
        )
        async with engine.connect() as connection:
            await connection.run_sync(_migrate)
        await engine.dispose()

    def _migrate(connection: object) -> None:
        context.configure(connection=connection, transaction_per_migration=True)
        with context.begin_transaction():
            context.run_migrations()

    asyncio.run(run())
