"""Real worker processes: SIGKILL mid-job loses nothing, and several processes share the queue."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from platform_api.content.app import create_app
from platform_api.content.pocs import MemoryPocSource
from platform_api.content.settings import ContentSettings
from platform_api.kernel import KeySet, TokenVerifier, create_pool, tenant_transaction
from platform_api.kernel.blobs import LocalBlobStore
from platform_api.kernel.queues.redis_streams import RedisStreamsQueue
from tests.harness.asgi import serve
from tests.harness.media import probe
from tests.unit.media_jobs.samples import sample_pocs

from .conftest import User

ROOT = Path(__file__).resolve().parents[3]
VISIBILITY = 2


@pytest.fixture
def stack_settings(content_settings: ContentSettings) -> ContentSettings:
    """The session's settings with a queue of this test's own (no in-process worker on it),
    taking more requests at once from one user than the default (one user queues six)."""
    return content_settings.model_copy(
        update={
            "queue_name": f"proc-{uuid.uuid4().hex[:8]}",
            "visibility_timeout_seconds": 2,
            "max_active_per_user": 10,
        }
    )


@pytest.fixture
async def api(
    stack_settings: ContentSettings,
    identity: httpx.AsyncClient,
    pocs: MemoryPocSource,
    blobs: LocalBlobStore,
) -> AsyncIterator[tuple[httpx.AsyncClient, RedisStreamsQueue]]:
    keys = KeySet(jwks_url="http://testserver/.well-known/jwks.json", http_client=identity)
    verifier = TokenVerifier(keys, issuer="https://mrbill.local/identity", audience="mrbill-api")
    queue = RedisStreamsQueue(stack_settings.redis_url, stack_settings.queue_name)
    app = create_app(stack_settings, pocs=pocs, blobs=blobs, queue=queue, verifier=verifier)
    async with serve(app) as client:
        yield client, queue
    await queue.purge()
    await queue.aclose()


@pytest.fixture
def spawn(stack_settings: ContentSettings, tmp_path: Path) -> Iterator[Callable[[str], Any]]:
    """Start ``python -m media_jobs.worker`` processes on this test's queue."""
    processes: list[subprocess.Popen[bytes]] = []
    logs: list[Any] = []
    env = {
        **os.environ,
        "CONTENT_ENVIRONMENT": "test",
        "CONTENT_DATABASE_URL": stack_settings.database_url,
        "CONTENT_REDIS_URL": stack_settings.redis_url,
        "CONTENT_QUEUE_BACKEND": "redis",
        "CONTENT_QUEUE_NAME": stack_settings.queue_name,
        "CONTENT_BLOB_DIR": stack_settings.blob_dir,
        "CONTENT_VISIBILITY_TIMEOUT_SECONDS": str(VISIBILITY),
        "CONTENT_HEARTBEAT_SECONDS": "0.5",
        "CONTENT_MAX_ATTEMPTS": "3",
    }

    def start(name: str) -> subprocess.Popen[bytes]:
        log = (tmp_path / f"{name}.log").open("wb")
        logs.append(log)
        process = subprocess.Popen(
            [sys.executable, "-m", "media_jobs.worker"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        processes.append(process)
        return process

    yield start
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
    for log in logs:
        log.close()


def _log_events(path: Path, message: str) -> list[dict[str, Any]]:
    found = []
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("{") and f'"{message}"' in line:
            found.append(json.loads(line))
    return found


async def _poll(
    client: httpx.AsyncClient,
    rid: str,
    auth: dict[str, str],
    done: Callable[[Any], bool],
    seconds: float,
) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        body = (await client.get(f"/content-requests/{rid}", headers=auth)).json()
        if done(body):
            return body
        assert asyncio.get_running_loop().time() < deadline, body
        await asyncio.sleep(0.05)


async def test_sigkill_mid_job_loses_nothing(
    api: tuple[httpx.AsyncClient, RedisStreamsQueue],
    spawn: Callable[[str], subprocess.Popen[bytes]],
    new_user: Callable[[], Any],
    pocs: MemoryPocSource,
    stack_settings: ContentSettings,
    objects_dir: Path,
) -> None:
    client, queue = api
    user: User = await new_user()
    pocs.add(user.tenant_id, user.user_id, *sample_pocs(60, year=2025))
    response = await client.post(
        "/content-requests", json={"type": "video", "year": 2025}, headers=user.auth
    )
    rid = response.json()["request_id"]
    first = spawn("first")
    await _poll(client, rid, user.auth, lambda b: b["progress"] >= 10, 60)
    first.send_signal(signal.SIGKILL)  # no goodbye, no cleanup, no ack
    first.wait(timeout=10)
    killed_at = (await client.get(f"/content-requests/{rid}", headers=user.auth)).json()
    assert killed_at["status"] == "running"
    spawn("second")
    done = await _poll(
        client, rid, user.auth, lambda b: b["status"] in ("succeeded", "failed"), 120
    )
    assert done["status"] == "succeeded", done
    # Exactly one file, complete and playable, at the request's fixed key; no partial uploads.
    folder = objects_dir / "videos" / str(user.tenant_id) / str(user.user_id) / "2025"
    assert sorted(p.name for p in folder.iterdir()) == [f"{rid}.mp4"]
    info = probe(folder / f"{rid}.mp4")
    assert (info.codec, info.width, info.height) == ("h264", 1280, 720)
    pool = await create_pool(stack_settings.database_url, max_size=1)
    try:
        async with tenant_transaction(pool, user.tenant_id) as conn:
            attempts = await conn.fetchval(
                "SELECT attempts FROM content_requests WHERE request_id = $1", uuid.UUID(rid)
            )
    finally:
        await pool.close()
    assert attempts == 2  # the killed run and the one that finished
    assert await queue.depth() == 0
    assert await queue.dead_letters() == []


async def test_worker_processes_share_the_queue(
    api: tuple[httpx.AsyncClient, RedisStreamsQueue],
    spawn: Callable[[str], subprocess.Popen[bytes]],
    new_user: Callable[[], Any],
    pocs: MemoryPocSource,
    tmp_path: Path,
) -> None:
    client, _ = api
    user: User = await new_user()
    pocs.add(user.tenant_id, user.user_id, *sample_pocs(6, year=2024))
    spawn("a")
    spawn("b")
    ids = []
    for _ in range(6):
        body = {"type": "video", "year": 2024}
        ids.append((await client.post("/content-requests", json=body, headers=user.auth)).json())
    for created in ids:
        done = await _poll(
            client,
            created["request_id"],
            user.auth,
            lambda b: b["status"] in ("succeeded", "failed"),
            120,
        )
        assert done["status"] == "succeeded", done
    per_worker = [len(_log_events(tmp_path / f"{n}.log", "job_done")) for n in ("a", "b")]
    assert sum(per_worker) == 6
    assert min(per_worker) >= 1, per_worker
