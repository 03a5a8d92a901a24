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
from sqlalchemy import Connection
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
    if driver_connection is None:  # only a closed or invalidated connection has none
        raise RuntimeError("the migration's database connection is closed")
    await_only(driver_connection.execute(script))


# Every service database has this function; tenant policies compare ``tenant_id`` with it.
# It reads the transaction-local ``app.tenant_id`` (``tenant_transaction`` sets it) and is
# NULL outside a tenant transaction, so no policy matches there.
TENANT_FUNCTION_SQL = """
CREATE FUNCTION app_current_tenant() RETURNS uuid
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid $$;
"""
DROP_TENANT_FUNCTION_SQL = "DROP FUNCTION app_current_tenant();"


def tenant_rls_sql(table: str) -> str:
    """SQL that enables and forces row-level security on ``table`` with the tenant policy."""
    return f"""
        ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;
        ALTER TABLE {table} FORCE ROW LEVEL SECURITY;
        CREATE POLICY tenant_isolation ON {table}
            USING (tenant_id = app_current_tenant())
            WITH CHECK (tenant_id = app_current_tenant());
    """


def create_tenant_function() -> None:
    """Create ``app_current_tenant()``; the first migration of every service runs it."""
    run_sql(TENANT_FUNCTION_SQL)


def enable_tenant_rls(*tables: str) -> None:
    """Forced row-level security on each of ``tables``: rows of the transaction's tenant only."""
    for table in tables:
        run_sql(tenant_rls_sql(table))


def drop_tenant_function() -> None:
    """Drop ``app_current_tenant()``; the first migration's downgrade runs it last."""
    run_sql(DROP_TENANT_FUNCTION_SQL)


def create_outbox() -> None:
    """The transactional outbox (``platform_api.kernel.outbox``): table, indexes, forced RLS.

    Besides the tenant policy, ``outbox_relay`` lets the role running the migration (the
    owner, which the relay connects as) read and mark every tenant's rows.
    """
    run_sql(
        """
        CREATE TABLE outbox (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            event_id uuid NOT NULL UNIQUE,
            tenant_id uuid NOT NULL,
            type varchar(100) NOT NULL,
            body jsonb NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            sent_at timestamptz
        );
        CREATE INDEX idx_outbox_unsent ON outbox (id) WHERE sent_at IS NULL;
        CREATE INDEX idx_outbox_sent_at ON outbox (sent_at) WHERE sent_at IS NOT NULL;
        """
    )
    enable_tenant_rls("outbox")
    run_sql("CREATE POLICY outbox_relay ON outbox TO CURRENT_USER USING (true) WITH CHECK (true);")


def add_outbox_delivery() -> None:
    """Let outbox rows wait before they are relayed: ``deliver_after`` (NULL: at once). The
    relay reads it, so every outbox made by :func:`create_outbox` gets it in a later
    revision (the table's first revision stays as it ran)."""
    run_sql("ALTER TABLE outbox ADD COLUMN deliver_after timestamptz;")


def drop_outbox_delivery() -> None:
    """Undo :func:`add_outbox_delivery` (a downgrade)."""
    run_sql("ALTER TABLE outbox DROP COLUMN deliver_after;")


def create_idempotency_keys(retention: str) -> None:
    """The table of ``platform_api.kernel.idempotency`` (a migration calls this): tenant rows
    under forced row-level security, and a policy that lets the owner see every tenant's
    records older than ``retention`` (an SQL interval), to delete them."""
    run_sql(
        """
        CREATE TABLE idempotency_keys (
            tenant_id uuid NOT NULL,
            user_id uuid NOT NULL,
            key varchar(200) NOT NULL,
            operation varchar(50) NOT NULL,
            request_hash char(64) NOT NULL,
            result jsonb NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, user_id, key)
        );
        CREATE INDEX idx_idempotency_keys_created ON idempotency_keys (created_at);
        """
    )
    enable_tenant_rls("idempotency_keys")
    run_sql(
        f"""CREATE POLICY expire_idempotency_keys ON idempotency_keys TO CURRENT_USER
            USING (created_at < now() - interval '{retention}');"""
    )


def drop_idempotency_keys() -> None:
    run_sql("DROP TABLE idempotency_keys;")


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

    def _migrate(connection: Connection) -> None:
        context.configure(connection=connection, transaction_per_migration=True)
        with context.begin_transaction():
            context.run_migrations()

    asyncio.run(run())
