"""Erasure: an account or an organization deleted in identity loses its content requests and
files, end to end: identity's outbox relay, Redis Streams, the content service's consumer."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from media_jobs import jobs
from media_jobs.jobs import Deps
from platform_api.content import erasure
from platform_api.content.app import create_app as content_app
from platform_api.content.pocs import MemoryPocSource
from platform_api.content.settings import ContentSettings
from platform_api.kernel import tenant_transaction
from platform_api.kernel.blobs import LocalBlobStore
from platform_api.kernel.queues.redis_streams import RedisStreamsQueue
from tests.harness.asgi import serve
from tests.harness.identity import PASSWORD, Account, SignUp
from tests.harness.polling import eventually
from tests.unit.media_jobs.samples import sample_pocs

from .conftest import Poll

Invite = Callable[..., Awaitable[Account]]
Left = tuple[set[str], int, set[str]]  # (request ids, POC snapshot rows, file keys)


@pytest.fixture
async def erasing_content(
    content_settings: ContentSettings,
    erasure_bus: dict[str, str],
    pocs: MemoryPocSource,
    blobs: LocalBlobStore,
) -> AsyncIterator[None]:
    """A node of the content service whose erasure consumer listens on ``erasure_bus`` (the
    session's node, which the tests make requests through, listens on a bus of its own)."""
    async with serve(
        content_app(content_settings.model_copy(update=erasure_bus), pocs=pocs, blobs=blobs)
    ):
        yield


@pytest.fixture
async def relaying_identity(
    relaying_identity: httpx.AsyncClient, erasing_content: None
) -> httpx.AsyncClient:
    """The harness's identity with its relay, with a content node erasing beside it."""
    return relaying_identity


async def _made(
    content: httpx.AsyncClient, who: Account, body: dict[str, Any], wait_for_status: Poll
) -> str:
    """Request a file through the API and wait until the media worker has made it."""
    created = await content.post("/content-requests", json=body, headers=who.auth)
    assert created.status_code == 201, created.text
    done = await wait_for_status(created.json()["request_id"], who.auth, ("succeeded", "failed"))
    assert done["status"] == "succeeded", done
    return str(done["request_id"])


async def _orphan(blobs: LocalBlobStore, key: str) -> str:
    """A file no row names: one a job wrote after its request's row was erased. Erasure
    deletes folders, so it goes too."""
    await blobs.put_bytes(key, b"late", content_type="video/mp4")
    return key


async def _leave(relaying_identity: httpx.AsyncClient, who: Account) -> None:
    gone = await relaying_identity.post("/me/delete", json={"password": PASSWORD}, headers=who.auth)
    assert gone.status_code == 204, gone.text


def _files(root: Path, tenant_id: str) -> set[str]:
    """Every file in the organization's folders (as the design brief lays them out)."""
    return {
        path.relative_to(root).as_posix()
        for folder in (f"tenants/{tenant_id}", f"videos/{tenant_id}")
        for path in (root / folder).rglob("*")
        if path.is_file()
    }


def _left_of(worker: Deps, blobs: LocalBlobStore, who: Account) -> Callable[[], Awaitable[Left]]:
    """A probe of what the content service still holds of ``who``'s organization."""
    tenant_id = uuid.UUID(who.tenant_id)

    async def probe() -> Left:
        async with tenant_transaction(worker.pool, tenant_id) as conn:
            requests = await conn.fetch(
                "SELECT request_id FROM content_requests WHERE tenant_id = $1", tenant_id
            )
            snapshots = await conn.fetchval(
                "SELECT count(*) FROM content_request_pocs WHERE tenant_id = $1", tenant_id
            )
        files = await asyncio.to_thread(_files, blobs.root, who.tenant_id)
        return {str(r["request_id"]) for r in requests}, snapshots, files

    return probe


async def test_a_departed_member_loses_their_requests_and_files(
    relaying_identity: httpx.AsyncClient,
    content: httpx.AsyncClient,
    sign_up: SignUp,
    invite_member: Invite,
    pocs: MemoryPocSource,
    worker: Deps,
    blobs: LocalBlobStore,
    wait_for_status: Poll,
) -> None:
    owner = await sign_up()
    member = await invite_member(owner)
    t, mine, theirs = owner.tenant_id, member.user_id, owner.user_id
    pocs.add(uuid.UUID(t), uuid.UUID(mine), *sample_pocs(2, year=2025))
    pocs.add(uuid.UUID(t), uuid.UUID(theirs), *sample_pocs(2, year=2025, seed=5))
    report = await _made(content, member, {"type": "report", "year": 2025}, wait_for_status)
    video = await _made(content, member, {"type": "video", "year": 2025}, wait_for_status)
    colleagues = await _made(content, owner, {"type": "report", "year": 2025}, wait_for_status)
    orphan = await _orphan(blobs, f"videos/{t}/{mine}/2025/{uuid.uuid4()}.mp4")
    members_files = {
        f"tenants/{t}/users/{mine}/reports/{report}.pdf",
        f"videos/{t}/{mine}/2025/{video}.mp4",
        f"videos/{t}/{mine}/thumbnails/{video}.jpg",
        orphan,
    }
    kept_file = f"tenants/{t}/users/{theirs}/reports/{colleagues}.pdf"
    left = _left_of(worker, blobs, owner)
    before = await left()
    assert before[0] == {report, video, colleagues}
    assert before[2] == {*members_files, kept_file}

    await _leave(relaying_identity, member)

    _, snapshots, _ = await eventually(
        left, lambda now: now[0] == {colleagues} and now[2] == {kept_file}, what="member erased"
    )
    assert snapshots == 2  # the colleague's report keeps its POC snapshot
    listed = await content.get("/content-requests", headers=owner.auth)
    assert [item["request_id"] for item in listed.json()["items"]] == [colleagues]


async def test_a_deleted_organization_loses_every_request_and_file(
    relaying_identity: httpx.AsyncClient,
    content: httpx.AsyncClient,
    sign_up: SignUp,
    pocs: MemoryPocSource,
    worker: Deps,
    blobs: LocalBlobStore,
    wait_for_status: Poll,
) -> None:
    owner, bystander = await sign_up(), await sign_up()
    for who in (owner, bystander):
        pocs.add(uuid.UUID(who.tenant_id), uuid.UUID(who.user_id), *sample_pocs(3, year=2024))
    await _made(content, owner, {"type": "report", "year": 2024}, wait_for_status)
    await _made(content, owner, {"type": "video", "year": 2024}, wait_for_status)
    await _orphan(blobs, f"tenants/{owner.tenant_id}/users/{uuid.uuid4()}/reports/x.pdf")
    theirs = await _made(content, bystander, {"type": "report", "year": 2024}, wait_for_status)
    owners, bystanders = _left_of(worker, blobs, owner), _left_of(worker, blobs, bystander)
    assert len((await owners())[2]) == 4  # report, video, thumbnail, orphan
    untouched = await bystanders()
    assert untouched[0] == {theirs}

    await _leave(relaying_identity, owner)  # its last member: the organization goes

    await eventually(owners, lambda now: now == (set(), 0, set()), what="organization erased")
    assert await bystanders() == untouched


async def test_a_job_still_rendering_when_its_organization_goes_leaves_no_file(
    relaying_identity: httpx.AsyncClient,
    content: httpx.AsyncClient,
    sign_up: SignUp,
    pocs: MemoryPocSource,
    worker: Deps,
    blobs: LocalBlobStore,
    wait_for_status: Poll,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    """The render finishes only once the erasure is over, and does not notice it (it reports
    no progress): the job uploads its files after the folders were swept, then finds its
    request gone and deletes them (media_jobs.jobs)."""
    erased = threading.Event()
    request.addfinalizer(erased.set)  # a failing test does not hold the session's worker
    render, upload = jobs._render, blobs.put_file
    uploaded: list[str] = []

    def late_render(row: Any, pocs: Any, folder: Path, progress: Any) -> Path:
        erased.wait(timeout=30)
        return render(row, pocs, folder, lambda pct: None)

    async def recorded_upload(key: str, path: Path, *, content_type: str) -> None:
        uploaded.append(key)
        await upload(key, path, content_type=content_type)

    monkeypatch.setattr(jobs, "_render", late_render)
    monkeypatch.setattr(blobs, "put_file", recorded_upload)
    owner = await sign_up()
    pocs.add(uuid.UUID(owner.tenant_id), uuid.UUID(owner.user_id), *sample_pocs(2, year=2023))
    created = await content.post(
        "/content-requests", json={"type": "video", "year": 2023}, headers=owner.auth
    )
    assert created.status_code == 201, created.text
    await wait_for_status(created.json()["request_id"], owner.auth, ("running",))

    await _leave(relaying_identity, owner)
    left = _left_of(worker, blobs, owner)
    await eventually(left, lambda now: now == (set(), 0, set()), what="organization erased")
    erased.set()

    assert isinstance(worker.queue, RedisStreamsQueue)
    await eventually(worker.queue.depth, lambda depth: depth == 0, within=30, what="job let go")
    assert len(uploaded) == 2  # the video and its thumbnail, written after the erasure
    assert await left() == (set(), 0, set())


async def test_the_liveness_check_fails_once_the_erasure_has_stopped(
    content_settings: ContentSettings,
    pocs: MemoryPocSource,
    blobs: LocalBlobStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def healthz(settings: ContentSettings, status: int) -> None:
        async with serve(content_app(settings, pocs=pocs, blobs=blobs)) as client:
            await eventually(
                lambda: client.get("/healthz"), lambda r: r.status_code == status, what="healthz"
            )

    await healthz(content_settings, 200)
    await healthz(content_settings.model_copy(update={"run_erasure": False}), 200)

    async def ends_at_once(*args: Any, **kwargs: Any) -> None:
        return None

    monkeypatch.setattr(erasure, "run_erasure", ends_at_once)
    await healthz(content_settings, 503)


def test_production_erases_from_its_queue_of_identity_events() -> None:
    production: dict[str, Any] = {
        "environment": "production",
        "database_url": "postgresql://content@db/content",
        "blob_backend": "s3",
        "s3_bucket": "mrbill-content",
        "queue_backend": "sqs",
        "sqs_queue_url": "https://sqs.sa-east-1.amazonaws.com/1/mrbill-content-jobs",
    }
    with pytest.raises(ValidationError, match="CONTENT_EVENT_QUEUE_URL"):
        ContentSettings(**production)
    identity_events = "https://sqs.sa-east-1.amazonaws.com/1/mrbill-content-identity"
    ContentSettings(**production, event_bus="aws", event_queue_url=identity_events)
    ContentSettings(**production, run_erasure=False)  # another process of the service erases
