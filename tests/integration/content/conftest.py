"""Content service fixtures: its own test database, the identity app for real tokens, a
Redis Streams queue, a local object folder, and an in-process media worker."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from media_jobs.jobs import Deps
from media_jobs.worker import run
from platform_api.content.app import create_app
from platform_api.content.pocs import MemoryPocSource
from platform_api.content.settings import ContentSettings
from platform_api.kernel import KeySet, TokenVerifier, create_pool
from platform_api.kernel.blobs import LocalBlobStore
from platform_api.kernel.provision import ServiceDatabase
from platform_api.kernel.queues.redis_streams import RedisStreamsQueue
from tests.harness.asgi import serve
from tests.harness.databases import database_fixture
from tests.harness.identity import Account, SignUp

Poll = Callable[..., Awaitable[dict[str, Any]]]


content_db = database_fixture("content")


@pytest.fixture(scope="session")
def objects_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("objects")


@pytest.fixture(scope="session")
def content_settings(
    content_db: ServiceDatabase, redis_url: str, run_id: str, objects_dir: Path
) -> ContentSettings:
    return ContentSettings(
        environment="test",
        database_url=content_db.app_dsn,
        redis_url=redis_url,
        queue_name=f"test-content-{run_id}",
        blob_dir=str(objects_dir),
        public_base_url="http://testserver",
        visibility_timeout_seconds=3,
        heartbeat_seconds=0.5,
        retry_backoff_seconds=0.2,
        max_attempts=3,
        db_pool_max=6,
        # Its erasure consumer listens on a bus of its own, in memory, that nobody publishes
        # to (test_erasure.py moves it to Redis Streams).
        event_bus="memory",
    )


@pytest.fixture(scope="session")
def pocs() -> MemoryPocSource:
    return MemoryPocSource()


@pytest.fixture(scope="session")
def blobs(content_settings: ContentSettings) -> LocalBlobStore:
    return LocalBlobStore(
        Path(content_settings.blob_dir),
        base_url="http://testserver/files",
        secret=content_settings.download_secret.get_secret_value().encode(),
    )


@pytest.fixture(scope="session")
async def content(
    content_settings: ContentSettings,
    identity: httpx.AsyncClient,
    pocs: MemoryPocSource,
    blobs: LocalBlobStore,
) -> AsyncIterator[httpx.AsyncClient]:
    """The content app, verifying tokens with the in-process identity service's JWKS."""
    keys = KeySet(jwks_url="http://testserver/.well-known/jwks.json", http_client=identity)
    verifier = TokenVerifier(keys, issuer="https://mrbill.local/identity", audience="mrbill-api")
    queue = RedisStreamsQueue(
        content_settings.redis_url, content_settings.queue_name, visibility_timeout=3
    )
    app = create_app(content_settings, pocs=pocs, blobs=blobs, queue=queue, verifier=verifier)
    async with serve(app) as client:
        yield client
    await queue.purge()
    await queue.aclose()


@pytest.fixture(scope="session")
async def worker(content_settings: ContentSettings, blobs: LocalBlobStore) -> AsyncIterator[Deps]:
    """One media worker running in this event loop for the whole session."""
    pool = await create_pool(content_settings.database_url, max_size=3)
    queue = RedisStreamsQueue(
        content_settings.redis_url, content_settings.queue_name, visibility_timeout=3
    )
    deps = Deps(settings=content_settings, pool=pool, blobs=blobs, queue=queue)
    stop = asyncio.Event()
    task = asyncio.create_task(run(deps, stop))
    yield deps
    stop.set()
    await asyncio.wait_for(task, timeout=30)
    await queue.aclose()
    await pool.close()


@dataclass
class User:
    account: Account
    auth: dict[str, str]

    @property
    def tenant_id(self) -> uuid.UUID:
        return uuid.UUID(self.account.tenant_id)

    @property
    def user_id(self) -> uuid.UUID:
        return uuid.UUID(self.account.user_id)


@pytest.fixture
def new_user(sign_up: SignUp) -> Callable[[], Awaitable[User]]:
    async def make() -> User:
        account = await sign_up()
        return User(account, account.auth)

    return make


@pytest.fixture
def wait_for_status(content: httpx.AsyncClient) -> Poll:
    """Poll a request until its status is one of ``statuses`` (deadline, no bare sleeps)."""

    async def poll(
        request_id: str, auth: dict[str, str], statuses: tuple[str, ...], within: float = 60
    ) -> dict[str, Any]:
        deadline = asyncio.get_running_loop().time() + within
        while True:
            body = (await content.get(f"/content-requests/{request_id}", headers=auth)).json()
            if body["status"] in statuses:
                return body
            assert asyncio.get_running_loop().time() < deadline, f"stuck in {body}"
            await asyncio.sleep(0.1)

    return poll
