"""Create a service's database and its two roles (owner for migrations, app for requests).

The app role is neither the tables' owner nor BYPASSRLS, so forced row-level security
applies to every query it makes. Production runs the same statements from infrastructure
code; locally the launcher and the tests call :func:`provision_database`.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
from sqlalchemy.engine import make_url


@dataclass(frozen=True)
class ServiceDatabase:
    name: str
    owner_dsn: str
    app_dsn: str


def derive_dsn(admin_dsn: str, *, user: str, database: str) -> str:
    """The admin DSN with another user and database (host, port and options kept)."""
    url = make_url(admin_dsn).set(username=user, password=None, database=database)
    return url.render_as_string(hide_password=False)


def _ident(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise ValueError(f"unsafe identifier: {name!r}")
    return f'"{name}"'


async def provision_database(
    admin_dsn: str, service: str, database: str, *, recreate: bool = False
) -> ServiceDatabase:
    """Idempotently create roles ``<service>_owner`` / ``<service>_app`` and the database."""
    owner, app = f"{service}_owner", f"{service}_app"
    conn = await asyncpg.connect(admin_dsn)
    try:
        for role in (owner, app):
            exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role)
            if not exists:
                await conn.execute(
                    f"CREATE ROLE {_ident(role)} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB"
                )
        if recreate:
            await conn.execute(f"DROP DATABASE IF EXISTS {_ident(database)} WITH (FORCE)")
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not exists:
            await conn.execute(f"CREATE DATABASE {_ident(database)} OWNER {_ident(owner)}")
    finally:
        await conn.close()

    db_admin = await asyncpg.connect(with_database(admin_dsn, database))
    try:
        await db_admin.execute(
            f"""
            REVOKE ALL ON DATABASE {_ident(database)} FROM PUBLIC;
            GRANT CONNECT, TEMPORARY ON DATABASE {_ident(database)} TO {_ident(app)};
            REVOKE CREATE ON SCHEMA public FROM PUBLIC;
            GRANT USAGE ON SCHEMA public TO {_ident(app)};
            ALTER DEFAULT PRIVILEGES FOR ROLE {_ident(owner)} IN SCHEMA public
                GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {_ident(app)};
            ALTER DEFAULT PRIVILEGES FOR ROLE {_ident(owner)} IN SCHEMA public
                GRANT USAGE, SELECT ON SEQUENCES TO {_ident(app)};
            ALTER DEFAULT PRIVILEGES FOR ROLE {_ident(owner)} IN SCHEMA public
                GRANT EXECUTE ON FUNCTIONS TO {_ident(app)};
            """
        )
    finally:
        await db_admin.close()
    return ServiceDatabase(
        name=database,
        owner_dsn=derive_dsn(admin_dsn, user=owner, database=database),
        app_dsn=derive_dsn(admin_dsn, user=app, database=database),
    )


def with_database(dsn: str, database: str) -> str:
    """The same DSN (user and password kept) pointing at another database."""
    return make_url(dsn).set(database=database).render_as_string(hide_password=False)


async def drop_database(admin_dsn: str, database: str) -> None:
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {_ident(database)} WITH (FORCE)")
    finally:
        await conn.close()
