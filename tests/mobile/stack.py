"""The real services behind one base URL, for the mobile app's tests (test-only).

A Starlette app mounts identity, pocs, search, content and dojos under ``/api/<service>/`` as
the local entry port (nginx) and the production load balancer do, and serves them over real
HTTP on a free port in a thread with its own event loop. Its lifespan provisions one database
per service, runs the POC outbox relay (feeding search, as the ``pocs-worker`` does), a media
worker (reports and videos) and a collab node. The dojo service signs room tickets with
``ticket_key`` (the collab node trusts its public half), drives the node's internal API, looks
up display names and the JWKS at the identity service over HTTP, and runs its scheduler and
outbox relay in its own lifespan, as its process does.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn
from aiohttp import web
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.routing import Mount

from collab_server import CollabSettings
from collab_server import create_app as create_collab
from media_jobs.jobs import Deps
from media_jobs.worker import run as run_worker
from platform_api.content.app import create_app as create_content
from platform_api.content.settings import ContentSettings
from platform_api.dojos.app import create_app as create_dojos
from platform_api.dojos.settings import DojosSettings
from platform_api.identity.app import create_app as create_identity
from platform_api.identity.settings import IdentitySettings
from platform_api.kernel import KeySet, TokenVerifier, create_pool, migrations
from platform_api.kernel.blobs import LocalBlobStore
from platform_api.kernel.events import InMemoryBus
from platform_api.kernel.keys import generate_private_key_pem, public_jwk_from_pem
from platform_api.kernel.outbox import OutboxRelay
from platform_api.kernel.provision import drop_database, provision_database
from platform_api.kernel.queues.redis_streams import RedisStreamsQueue
from platform_api.pocs.app import create_app as create_pocs
from platform_api.pocs.settings import PocsSettings
from platform_api.search.app import create_app as create_search
from platform_api.search.settings import SearchSettings

SERVICES = ("identity", "pocs", "search", "content", "dojos")


@dataclass
class Stack:
    base_url: str
    ticket_key: tuple[str, str]  # (private, public) PEM of the dojo service's ticket key
    collab_url: str = ""  # the collab node's ws://…/collab
    databases: list[str] = field(default_factory=list)


@asynccontextmanager
async def _services(
    app: Starlette, stack: Stack, admin_dsn: str, redis_url: str, run_id: str, data: Path
) -> AsyncIterator[None]:
    base = stack.base_url
    async with AsyncExitStack() as exits:
        dbs = {}
        for name in SERVICES:
            db = await provision_database(
                admin_dsn, name, f"test_mobile_{name}_{run_id}", recreate=True
            )
            exits.push_async_callback(drop_database, admin_dsn, db.name)
            await migrations.upgrade(name, db.owner_dsn)
            dbs[name] = db
            stack.databases.append(db.name)

        private_pem = generate_private_key_pem()
        keys = KeySet(static_keys=[public_jwk_from_pem(private_pem)])
        identity = create_identity(
            IdentitySettings(
                environment="test",
                database_url=dbs["identity"].app_dsn,
                redis_url=redis_url,
                jwt_private_key=private_pem,
                rate_limit_prefix=f"test-mobile-{run_id}",
                login_rate_per_address="10000/minute",
                signup_rate_per_address="10000/minute",
                # The app's tests present used refresh tokens on purpose, seconds after their
                # use: without the grace for racing tabs, that is the reuse they must react to.
                refresh_reuse_grace_seconds=0,
                db_pool_max=4,
            )
        )
        pocs_settings = PocsSettings(
            environment="test",
            database_url=dbs["pocs"].app_dsn,
            migrations_database_url=dbs["pocs"].owner_dsn,
            event_bus="memory",
            db_pool_max=4,
        )
        bus = InMemoryBus(topics=["poc", "dojo"], redeliver_after=5)
        search = create_search(
            SearchSettings(
                environment="test",
                database_url=dbs["search"].app_dsn,
                migrations_database_url=dbs["search"].owner_dsn,
                event_bus="memory",
                pocs_url=f"{base}/api/pocs",
                db_pool_max=4,
            ),
            keys=keys,
            bus=bus,
        )
        content_settings = ContentSettings(
            environment="test",
            database_url=dbs["content"].app_dsn,
            redis_url=redis_url,
            queue_name=f"test-mobile-content-{run_id}",
            event_bus="memory",  # no identity events here: never a shared stream's
            blob_dir=str(data / "objects"),
            public_base_url=f"{base}/api/content",
            heartbeat_seconds=0.5,
            db_pool_max=4,
            CONTENT_POCS_URL=f"{base}/api/pocs",  # the field reads only its alias
        )
        blobs = LocalBlobStore(
            Path(content_settings.blob_dir),
            base_url=f"{base}/api/content/files",
            secret=content_settings.download_secret.get_secret_value().encode(),
        )
        queue = RedisStreamsQueue(redis_url, content_settings.queue_name, visibility_timeout=30)
        exits.push_async_callback(queue.aclose)
        exits.push_async_callback(queue.purge)
        verifier = TokenVerifier(keys, issuer=content_settings.jwt_issuer, audience="mrbill-api")
        content = create_content(content_settings, blobs=blobs, queue=queue, verifier=verifier)
        apps: dict[str, FastAPI] = {
            "identity": identity,
            "pocs": create_pocs(pocs_settings, keys=keys),
            "search": search,
            "content": content,
        }
        for name, sub in apps.items():
            await exits.enter_async_context(sub.router.lifespan_context(sub))
            app.router.routes.append(Mount(f"/api/{name}", app=sub))

        # The pocs-worker's job: relay the POC outbox to the bus the search service consumes.
        owner_pool = await create_pool(dbs["pocs"].owner_dsn, max_size=2)
        exits.push_async_callback(owner_pool.close)
        relay = OutboxRelay(owner_pool, bus, poll_seconds=0.2)
        await _background(exits, relay.run())

        # One media worker renders the reports and videos.
        worker_pool = await create_pool(content_settings.database_url, max_size=2)
        exits.push_async_callback(worker_pool.close)
        worker_queue = RedisStreamsQueue(
            redis_url, content_settings.queue_name, visibility_timeout=30
        )
        exits.push_async_callback(worker_queue.aclose)
        stop = asyncio.Event()
        deps = Deps(settings=content_settings, pool=worker_pool, blobs=blobs, queue=worker_queue)
        worker = asyncio.create_task(run_worker(deps, stop))

        async def stop_worker() -> None:
            stop.set()
            await asyncio.wait_for(worker, timeout=30)

        exits.push_async_callback(stop_worker)

        # A collab node (in-memory log) that trusts the dojo service's ticket key.
        collab = create_collab(
            CollabSettings(
                environment="test",
                ticket_public_key=stack.ticket_key[1],
                snapshot_dir=str(data / "snapshots"),
            )
        )
        runner = web.AppRunner(collab, shutdown_timeout=2, access_log=None)
        await runner.setup()
        exits.push_async_callback(runner.cleanup)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        stack.collab_url = f"ws://127.0.0.1:{port}/collab"

        # The dojo service; its worker (scheduler, outbox relay) runs in its lifespan.
        dojos = create_dojos(
            DojosSettings(
                environment="test",
                database_url=dbs["dojos"].app_dsn,
                migrations_database_url=dbs["dojos"].owner_dsn,
                jwks_url=f"{base}/api/identity/.well-known/jwks.json",
                identity_url=f"{base}/api/identity",
                ticket_private_key=stack.ticket_key[0],
                collab_url=f"http://127.0.0.1:{port}",
                collab_public_url=stack.collab_url,
                public_base_url=base,
                snapshot_dir=str(data / "objects"),
                event_bus="memory",
                db_pool_max=4,
            ),
            publisher=bus,  # dojo.* events reach the search consumer, as through Redis
        )
        await exits.enter_async_context(dojos.router.lifespan_context(dojos))
        app.router.routes.append(Mount("/api/dojos", app=dojos))
        yield


async def _background(exits: AsyncExitStack, coro: object) -> None:
    task = asyncio.ensure_future(coro)  # type: ignore[arg-type]

    async def cancel() -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    exits.push_async_callback(cancel)


@contextlib.contextmanager
def running_stack(
    admin_dsn: str, redis_url: str, run_id: str, data: Path, ticket_key: tuple[str, str]
) -> Iterator[Stack]:
    """Start the stack on a free port; yield once every service is ready; stop it after."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    stack = Stack(f"http://127.0.0.1:{sock.getsockname()[1]}", ticket_key)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with _services(app, stack, admin_dsn, redis_url, run_id, data):
            yield

    config = uvicorn.Config(
        Starlette(lifespan=lifespan), log_level="warning", lifespan="on", ws="none"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the mobile test stack did not start")
        time.sleep(0.05)
    try:
        yield stack
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
