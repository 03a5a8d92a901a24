"""``mrbill``: run the whole platform locally, or run every test."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import zlib
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import typer

from platform_api.kernel import migrations
from platform_api.kernel.provision import provision_database

from . import deps, nginx, webapp
from .seed import seed_all
from .services import (
    COLLAB_PORTS,
    EMBEDDED_REDIS_PORT,
    ENTRY_PORT,
    SERVICES,
    Service,
    collab_ports,
    port_offset,
    services,
)

ROOT = Path(__file__).resolve().parents[2]
STATE = ROOT / ".local"
app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)


def _say(message: str) -> None:
    typer.secho(f"mrbill: {message}", fg=typer.colors.CYAN, err=True)


async def _prepare_databases(admin_dsn: str, *, prefix: str = "") -> dict[str, tuple[str, str]]:
    """Provision and migrate every service database; return (app DSN, owner DSN) per service."""
    dsns = {}
    for service in SERVICES:
        db = await provision_database(admin_dsn, service.name, f"{prefix}{service.name}")
        await migrations.upgrade(service.name, db.owner_dsn)
        dsns[service.name] = (db.app_dsn, db.owner_dsn)
    db = await provision_database(admin_dsn, "collab", f"{prefix}collab")
    await migrations.upgrade("collab", db.owner_dsn)
    dsns["collab"] = (db.app_dsn, db.owner_dsn)
    return dsns


def stack_env(
    dsns: dict[str, tuple[str, str]],
    *,
    redis_url: str,
    entry: str,
    stack: tuple[Service, ...] = SERVICES,
    nodes: tuple[int, ...] = COLLAB_PORTS,
    data: Path = STATE,
) -> dict[str, str]:
    """The environment of every process of the local stack (see ``Service``).

    ``data`` holds what one stack must not share with another running beside it (e.g. the
    embedded search index, which allows a single writer).
    """
    identity = next(s for s in stack if s.name == "identity")
    # Internal URLs for extra_env templates: {pocs_url}, {search_url}, …, {collab_url}.
    urls = {f"{s.name}_url": f"http://127.0.0.1:{s.port}" for s in stack}
    urls["collab_url"] = f"http://127.0.0.1:{nodes[0]}"  # any node serves any room
    env = {f"MRBILL_{s.name.upper()}_URL": f"http://127.0.0.1:{s.port}" for s in stack}
    for service in stack:
        p = service.env_prefix
        env[f"{p}DATABASE_URL"], env[f"{p}MIGRATIONS_DATABASE_URL"] = dsns[service.name]
        env[f"{p}REDIS_URL"] = redis_url
        env[f"{p}ENVIRONMENT"] = "development"
        env[f"{p}JWKS_URL"] = f"http://127.0.0.1:{identity.port}/.well-known/jwks.json"
        for key, value in service.extra_env.items():
            env[key] = value.format(state=STATE, data=data, entry=entry, **urls)
    env |= {
        "MRBILL_COLLAB_URL": urls["collab_url"],
        "COLLAB_DATABASE_URL": dsns["collab"][0],
        "COLLAB_REDIS_URL": redis_url,
        # The nodes erase deleted organizations' rooms (identity's events on Redis Streams).
        "COLLAB_EVENT_BUS": "redis",
        "COLLAB_SNAPSHOT_DIR": str(STATE / "objects"),
        "COLLAB_TICKET_PUBLIC_KEY_FILE": str(_signing_key("dojos")),
        # What room tickets tell clients to connect to: the entry port's /collab.
        "DOJOS_COLLAB_PUBLIC_URL": "ws" + entry.removeprefix("http") + "/collab",
    }
    return env


def stack_redis_url(url: str, db_prefix: str) -> str:
    """A stack with its own database prefix gets its own Redis database on a shared server.

    Event streams and job queues have fixed names: two stacks on one Redis database would
    consume each other's events. The index (1-15) comes from the prefix; a URL that already
    names a database other than 0 is kept as it is.
    """
    if not db_prefix:
        return url
    parts = urlsplit(url)
    if parts.path.strip("/") not in ("", "0"):
        return url
    return urlunsplit(parts._replace(path=f"/{1 + zlib.crc32(db_prefix.encode()) % 15}"))


def _download_key() -> Path:
    """The content service's key for signing local download links (made once)."""
    import secrets

    path = STATE / "keys" / "content-download.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path


def _signing_key(issuer: str) -> Path:
    """The development signing key of ``issuer`` (identity tokens, dojo room tickets)."""
    from platform_api.kernel.keys import generate_private_key_pem

    path = STATE / "keys" / f"{issuer}-ed25519.pem"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(generate_private_key_pem())
        path.chmod(0o600)
    return path


@app.command()
def up(
    port: int = typer.Option(None, help="The single entry port (8080 + MRBILL_PORT_OFFSET)"),
    db_prefix: str = typer.Option("", help="Prefix of the databases (e.g. e2e_ for tests)"),
    run_dir: Path = typer.Option(
        None, help="Where the Procfile, .env and nginx files go (default .local/stack-<port>)"
    ),
    build: bool = typer.Option(True, help="Build web/dist when missing or stale"),
    embedded: bool = typer.Option(
        False, help="Use the embedded PostgreSQL and Redis even when local servers run"
    ),
) -> None:
    """Start every service, the entry proxy and demo data; print the URLs.

    ``MRBILL_PORT_OFFSET`` moves every port (entry, services, collab nodes, embedded Redis),
    so that several stacks run side by side on one machine.
    """
    offset = port_offset()
    stack = services(offset)
    port = port or ENTRY_PORT + offset
    run_dir = run_dir or (STATE if offset == 0 else STATE / f"stack-{port}")
    run_dir.mkdir(parents=True, exist_ok=True)
    if build:
        webapp.ensure_built(say=_say)
    STATE.mkdir(exist_ok=True)
    pg = deps.resolve_postgres(STATE, allow_start=False, embedded=embedded)
    _say(f"PostgreSQL: {pg.how}")
    redis_port = EMBEDDED_REDIS_PORT + offset
    rd, embedded_redis = deps.resolve_redis(
        STATE, embedded_port=redis_port, allow_start=False, embedded=embedded
    )
    _say(f"Redis: {rd.how}")
    dsns = asyncio.run(_prepare_databases(pg.url, prefix=db_prefix))
    _signing_key("identity")
    _download_key()
    redis_url = rd.url if embedded_redis else stack_redis_url(rd.url, db_prefix)
    env = stack_env(
        dsns,
        redis_url=redis_url,
        entry=f"http://localhost:{port}",
        stack=stack,
        nodes=collab_ports(offset),
        data=run_dir,
    )
    created = asyncio.run(seed_all(env))
    _say(f"demo data: {', '.join(created) if created else 'already present'}")

    procfile = _procfile(port, embedded_redis, stack=stack, offset=offset, run_dir=run_dir)
    (run_dir / "Procfile").write_text(procfile)
    (run_dir / ".env").write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    _print_urls(port)
    os.execvp(
        sys.executable,
        [
            sys.executable,
            "-m",
            "honcho",
            "start",
            "-f",
            str(run_dir / "Procfile"),
            "-e",
            str(run_dir / ".env"),
            "-d",
            str(ROOT),
        ],
    )


def _procfile(
    port: int,
    embedded_redis: bool,
    *,
    stack: tuple[Service, ...] = SERVICES,
    offset: int = 0,
    run_dir: Path = STATE,
) -> str:
    nginx_bin = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx_bin).exists():
        raise typer.Exit(
            _fail(
                "nginx is not installed; run ./mrbill up (it installs it) or apt-get install nginx"
            )
        )
    web_root = ROOT / "web" / "dist"
    nodes = collab_ports(offset)
    conf = nginx.write(
        run_dir / "nginx",
        entry_port=port,
        web_root=web_root,
        collab_ports=list(nodes),
        stack=stack,
    )
    lines = [f"proxy: {nginx_bin} -e stderr -p {run_dir / 'nginx'} -c {conf} -g 'daemon off;'"]
    if embedded_redis:
        command = deps.embedded_redis_command(EMBEDDED_REDIS_PORT + offset)
        lines.append("redis: " + " ".join(f"'{a}'" for a in command))
    for service in stack:
        lines.append(
            f"{service.name}: {sys.executable} -m uvicorn {service.app} --factory"
            f" --host 127.0.0.1 --port {service.port} --proxy-headers"
            f" --forwarded-allow-ips 127.0.0.1 --no-access-log --root-path /api/{service.name}"
        )
        # Workers scale horizontally: each line is one more process sharing the queue.
        lines += [f"{name}: {sys.executable} -m {module}" for name, module in service.workers]
    for index, collab_port in enumerate(nodes, start=1):
        lines.append(
            f"collab{index}: env COLLAB_PORT={collab_port} COLLAB_NODE_NAME=collab-{index}"
            f" {sys.executable} -m collab_server"
        )
    return "\n".join(lines) + "\n"


@app.command()
def ticket(
    tenant: str = typer.Option(..., help="Tenant id (see /api/identity/me)"),
    room: str = typer.Option("playground", help="Room name within the tenant"),
    role: str = typer.Option("write", help="write | read"),
    port: int = typer.Option(None, help="The entry port (8080 + MRBILL_PORT_OFFSET)"),
) -> None:
    """Development: mint a room ticket with the local dojo key and print the WebSocket URL."""
    import time
    import uuid

    import jwt

    from platform_api.kernel.keys import public_jwk_from_pem

    pem = _signing_key("dojos").read_text()
    room_key = f"{uuid.UUID(tenant)}:{room}"
    now = int(time.time())
    token = jwt.encode(
        {
            "iss": "mrbill-dojos",
            "aud": "mrbill-collab",
            "sub": "developer",
            "tenant": tenant,
            "room": room_key,
            "role": role,
            "iat": now,
            "exp": now + 3600,
        },
        pem,
        algorithm="EdDSA",
        headers={"kid": public_jwk_from_pem(pem)["kid"], "typ": "room+jwt"},
    )
    typer.echo(
        f"ws://localhost:{port or ENTRY_PORT + port_offset()}/collab/{room_key}?ticket={token}"
    )


@app.command()
def mobile(
    api: str = typer.Option(f"http://localhost:{ENTRY_PORT}", help="Base URL of the API"),
    lang: str = typer.Option("", help="pt-BR or en (default: the system's language)"),
) -> None:
    """Run the mobile app on this desktop (Toga's Qt backend) against the local stack."""
    env = {
        **os.environ,
        "TOGA_BACKEND": "toga_qt",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "mobile" / "src"),
                                                    os.environ.get("PYTHONPATH")])),
    }  # fmt: skip
    command = [sys.executable, "-m", "mrbill_mobile", "--api", api]
    if lang:
        command += ["--lang", lang]
    _say(f"Mr Bill mobile against {api}")
    raise typer.Exit(subprocess.run(command, cwd=ROOT, env=env, check=False).returncode)


def _fail(message: str) -> int:
    typer.secho(f"mrbill: {message}", fg=typer.colors.RED, err=True)
    return 1


def _print_urls(port: int) -> None:
    base = f"http://localhost:{port}"
    typer.secho(
        f"""
Mr Bill is starting at {base}
  identity API  {base}/api/identity/docs
  content API   {base}/api/content/docs   (reports and videos; workers: media-worker-1, -2)
  POC API       {base}/api/pocs/docs
  search API    {base}/api/search/docs   (e.g. /api/search/search?q=pyhton)
  dojo API      {base}/api/dojos/docs
Demo logins (tenant "Mr Bill"): bill@mrbill.dev / mrbill-demo-2026 (owner),
                                ana@mrbill.dev / mrbill-demo-2026 (member)
Second tenant "Acme Labs":      wile@acme.dev / acme-demo-2026
Stop with Ctrl-C.
""",
        fg=typer.colors.GREEN,
        err=True,
    )


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def test(ctx: typer.Context) -> None:
    """Lint, then run every test against real PostgreSQL and Redis (extra args go to pytest)."""
    STATE.mkdir(exist_ok=True)
    pg = deps.resolve_postgres(STATE, allow_start=True)
    _say(f"PostgreSQL: {pg.how}")
    rd, embedded_redis = deps.resolve_redis(
        STATE, embedded_port=EMBEDDED_REDIS_PORT, allow_start=True
    )
    if embedded_redis:
        deps.start_embedded_redis_daemon(EMBEDDED_REDIS_PORT)
    _say(f"Redis: {rd.how}")
    env = {**os.environ, "DATABASE_URL": pg.url, "REDIS_URL": rd.url}
    for step in (["ruff", "check", "."], ["ruff", "format", "--check", "."]):
        _run([sys.executable, "-m", *step], env)
    args = ctx.args or ["--cov", "--cov-report=term"]
    _run([sys.executable, "-m", "pytest", *args], env)


def _run(command: list[str], env: dict[str, str]) -> None:
    _say(" ".join(command[2:]))
    result = subprocess.run(command, cwd=ROOT, env=env, check=False)
    if result.returncode != 0:
        raise typer.Exit(result.returncode)


@app.command()
def contracts() -> None:
    """Write each service's OpenAPI document to contracts/."""
    from .contracts import write_all

    for path in write_all():
        _say(f"wrote {path.relative_to(ROOT)}")


@app.command()
def messages() -> None:
    """Add the services' new messages to the pt-BR catalog, drop those no longer said."""
    from .messages import update_catalog

    added, dropped = update_catalog()
    for message in added:
        _say(f"new, to translate: {message}")
    for message in dropped:
        _say(f"dropped: {message}")
    _say(f"{len(added)} new, {len(dropped)} dropped: platform_api/kernel/locale/pt_BR.po")


if __name__ == "__main__":
    app()
