"""The content API end to end: request, progress, download, idempotency, cancel, delete."""

from __future__ import annotations

import asyncio
import io
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import av
import httpx
import pytest
import structlog
from PIL import Image, ImageChops, ImageStat
from structlog.testing import capture_logs

from media_jobs import jobs
from media_jobs.jobs import Deps
from platform_api.content.pocs import MemoryPocSource
from platform_api.kernel.blobs import LocalBlobStore
from platform_api.kernel.queues.redis_streams import RedisStreamsQueue
from tests.harness.pagination import follow_pages, malformed_cursors
from tests.unit.media_jobs.samples import sample_pocs

from .conftest import Poll, User

NewUser = Callable[[], Awaitable[User]]


async def _file(content: httpx.AsyncClient, url: str) -> httpx.Response:
    parts = urlsplit(url)
    return await content.get(f"{parts.path}?{parts.query}")


async def test_report_from_request_to_download(
    content: httpx.AsyncClient,
    new_user: NewUser,
    pocs: MemoryPocSource,
    worker: Deps,
    wait_for_status: Poll,
) -> None:
    user = await new_user()
    pocs.add(user.tenant_id, user.user_id, *sample_pocs(12, year=2025))
    pocs.add(user.tenant_id, user.user_id, *sample_pocs(3, year=2024, seed=3))
    body = {"type": "report", "year": 2025, "language": "pt-BR"}
    response = await content.post("/content-requests", json=body, headers=user.auth)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["status"] == "queued"
    assert created["poc_count"] == 12  # only 2025's POCs were snapshotted
    assert (created["from"], created["to"]) == ("2025-01-01", "2025-12-31")
    assert response.headers["location"].endswith(created["request_id"])
    early = await content.get(
        f"/content-requests/{created['request_id']}/download", headers=user.auth
    )
    assert early.status_code in (409, 200)
    done = await wait_for_status(created["request_id"], user.auth, ("succeeded", "failed"))
    assert done["status"] == "succeeded", done
    assert done["progress"] == 100
    assert done["size_bytes"] > 10_000
    link = await content.get(
        f"/content-requests/{created['request_id']}/download", headers=user.auth
    )
    assert link.status_code == 200
    assert link.json()["filename"] == "mrbill-report-2025.pdf"
    served = await _file(content, link.json()["url"])
    assert served.status_code == 200
    assert served.content.startswith(b"%PDF")
    assert served.headers["content-type"] == "application/pdf"
    forged = await _file(content, link.json()["url"].replace("sig=", "sig=0"))
    assert forged.status_code == 403
    assert forged.headers["content-type"].startswith("application/problem+json")


async def test_video_comes_with_a_thumbnail_beside_it(
    content: httpx.AsyncClient,
    new_user: NewUser,
    pocs: MemoryPocSource,
    worker: Deps,
    wait_for_status: Poll,
) -> None:
    user = await new_user()
    pocs.add(user.tenant_id, user.user_id, *sample_pocs(2, year=2025))
    body = {"type": "video", "year": 2025, "title": "Thumbnail year"}
    created = (await content.post("/content-requests", json=body, headers=user.auth)).json()
    rid = created["request_id"]
    done = await wait_for_status(rid, user.auth, ("succeeded", "failed"))
    assert done["status"] == "succeeded", done
    link = (await content.get(f"/content-requests/{rid}/download", headers=user.auth)).json()
    assert link["filename"] == "mrbill-video-2025.mp4"
    assert link["thumbnail_url"] is not None
    # Stored where the design brief puts video thumbnails, next to the user's videos.
    thumb_key = f"videos/{user.tenant_id}/{user.user_id}/thumbnails/{rid}.jpg"
    assert urlsplit(link["thumbnail_url"]).path == f"/files/{thumb_key}"
    assert await worker.blobs.exists(thumb_key)
    thumb = await _file(content, link["thumbnail_url"])
    assert thumb.status_code == 200
    assert thumb.headers["content-type"] == "image/jpeg"
    assert 'filename="mrbill-video-2025.jpg"' in thumb.headers["content-disposition"]
    poster = Image.open(io.BytesIO(thumb.content))
    assert (poster.format, poster.size) == ("JPEG", (1280, 720))
    # It is the video's first picture (the title card), up to JPEG and H.264 losses.
    video = await _file(content, link["url"])
    assert video.headers["content-type"] == "video/mp4"
    with av.open(io.BytesIO(video.content)) as container:
        first = next(container.decode(video=0)).to_image()
    difference = ImageStat.Stat(ImageChops.difference(poster.convert("RGB"), first)).mean
    assert max(difference) < 4, difference
    # Deleting the request removes the thumbnail with the video.
    assert (await content.delete(f"/content-requests/{rid}", headers=user.auth)).status_code == 204
    assert not await worker.blobs.exists(thumb_key)
    assert not await worker.blobs.exists(f"videos/{user.tenant_id}/{user.user_id}/2025/{rid}.mp4")


async def test_a_heartbeat_that_fails_does_not_fail_the_video(
    content: httpx.AsyncClient,
    new_user: NewUser,
    pocs: MemoryPocSource,
    worker: Deps,
    wait_for_status: Poll,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The queue refuses every lease extension (Redis away for the whole render): the
    video is still made, in one attempt, and the failures are logged."""

    async def refused(delivery: object) -> None:
        raise ConnectionError("the queue is away")

    render = jobs._render

    def slow_render(*args: Any) -> Any:  # long enough for a heartbeat or two, however warm
        time.sleep(1.5)
        return render(*args)

    monkeypatch.setattr(worker.queue, "extend", refused)
    monkeypatch.setattr(jobs, "_render", slow_render)
    # A logger keeps the processors of its first use; a fresh one logs into the capture.
    monkeypatch.setattr(jobs, "_log", structlog.get_logger("media_jobs"))
    user = await new_user()
    pocs.add(user.tenant_id, user.user_id, *sample_pocs(2, year=2025))
    body = {"type": "video", "year": 2025, "title": "Heartbeat"}
    with capture_logs() as logs:
        created = (await content.post("/content-requests", json=body, headers=user.auth)).json()
        done = await wait_for_status(created["request_id"], user.auth, ("succeeded", "failed"))
    assert done["status"] == "succeeded", done
    events = [e["event"] for e in logs]
    assert events.count("job_started") == 1  # not failed, then done again on a retry
    assert "heartbeat_failed" in events


async def test_a_report_has_no_thumbnail(
    content: httpx.AsyncClient, new_user: NewUser, worker: Deps, wait_for_status: Poll
) -> None:
    user = await new_user()
    body = {"type": "report", "year": 2031}
    created = (await content.post("/content-requests", json=body, headers=user.auth)).json()
    await wait_for_status(created["request_id"], user.auth, ("succeeded",))
    link = await content.get(
        f"/content-requests/{created['request_id']}/download", headers=user.auth
    )
    assert link.json()["thumbnail_url"] is None


async def test_idempotency_key_makes_retries_safe(
    content: httpx.AsyncClient, new_user: NewUser, pocs: MemoryPocSource
) -> None:
    user = await new_user()
    key = {"Idempotency-Key": f"k-{uuid.uuid4()}", **user.auth}
    body = {"type": "video", "from": "2025-03-01", "to": "2025-05-31", "language": "en"}
    calls = pocs.calls
    first = await content.post("/content-requests", json=body, headers=key)
    again = await content.post("/content-requests", json=body, headers=key)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["request_id"] == first.json()["request_id"]
    assert pocs.calls == calls + 1  # the POC service was asked once
    other = await content.post("/content-requests", json={**body, "type": "report"}, headers=key)
    assert other.status_code == 422
    assert other.headers["content-type"].startswith("application/problem+json")
    listed = (await content.get("/content-requests", headers=user.auth)).json()["items"]
    assert len(listed) == 1


async def test_filter_tags_match_as_pocs_keep_them(
    content: httpx.AsyncClient, new_user: NewUser, pocs: MemoryPocSource
) -> None:
    """A tag typed as a person writes it ("Machine Learning") finds the POCs tagged
    ``machine-learning``: the filter is normalised the way POCs' tags are."""
    user = await new_user()
    ml, rust, other = sample_pocs(3, year=2025, seed=11)
    pocs.add(
        user.tenant_id,
        user.user_id,
        {**ml, "tags": ["machine-learning"]},
        {**rust, "tags": ["rust"]},
        {**other, "tags": ["web"]},
    )
    body = {"type": "report", "year": 2025, "filter": {"tags": [" Machine  Learning", "RUST"]}}
    response = await content.post("/content-requests", json=body, headers=user.auth)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["filter"]["tags"] == ["machine-learning", "rust"]
    assert created["poc_count"] == 2


async def test_empty_year_gives_a_friendly_file(
    content: httpx.AsyncClient, new_user: NewUser, worker: Deps, wait_for_status: Poll
) -> None:
    user = await new_user()
    for kind in ("report", "video"):
        body = {"type": kind, "year": 2031}
        created = (await content.post("/content-requests", json=body, headers=user.auth)).json()
        assert created["poc_count"] == 0
        done = await wait_for_status(created["request_id"], user.auth, ("succeeded", "failed"))
        assert done["status"] == "succeeded", done


async def test_progress_is_pushed_as_server_sent_events(
    content: httpx.AsyncClient, new_user: NewUser, pocs: MemoryPocSource, worker: Deps
) -> None:
    user = await new_user()
    pocs.add(user.tenant_id, user.user_id, *sample_pocs(15, year=2025))
    body = {"type": "video", "year": 2025}
    created = (await content.post("/content-requests", json=body, headers=user.auth)).json()
    stream = await content.get(
        f"/content-requests/{created['request_id']}/events", headers=user.auth, timeout=60
    )
    assert stream.status_code == 200
    assert stream.headers["content-type"].startswith("text/event-stream")
    events = [block for block in stream.text.split("\n\n") if block.startswith("event:")]
    progress = [int(e.split('"progress": ')[1].split(",")[0]) for e in events]
    assert progress == sorted(progress)
    assert len(events) >= 3  # queued/running, some progress, done
    assert '"status": "succeeded"' in events[-1]


async def test_cancel_and_delete(
    content: httpx.AsyncClient,
    new_user: NewUser,
    worker: Deps,
    wait_for_status: Poll,
    pocs: MemoryPocSource,
) -> None:
    user = await new_user()
    created = (
        await content.post(
            "/content-requests", json={"type": "report", "year": 2025}, headers=user.auth
        )
    ).json()
    rid = created["request_id"]
    done = await wait_for_status(rid, user.auth, ("succeeded",))
    late_cancel = await content.post(f"/content-requests/{rid}/cancel", headers=user.auth)
    assert late_cancel.status_code == 409
    assert (await content.delete(f"/content-requests/{rid}", headers=user.auth)).status_code == 204
    assert (await content.get(f"/content-requests/{rid}", headers=user.auth)).status_code == 404
    assert done["size_bytes"] > 0
    assert not await worker.blobs.exists(
        f"tenants/{user.tenant_id}/users/{user.user_id}/reports/{rid}.pdf"
    )
    # A request cancelled while queued or rendering stops, and leaves no file.
    pocs.add(user.tenant_id, user.user_id, *sample_pocs(20, year=2025))
    created = (
        await content.post(
            "/content-requests", json={"type": "video", "year": 2025}, headers=user.auth
        )
    ).json()
    cancelled = await content.post(
        f"/content-requests/{created['request_id']}/cancel", headers=user.auth
    )
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] in ("cancelled",)
    again = await content.post(
        f"/content-requests/{created['request_id']}/cancel", headers=user.auth
    )
    assert again.json()["status"] == "cancelled"  # idempotent
    key = f"videos/{user.tenant_id}/{user.user_id}/2025/{created['request_id']}.mp4"
    assert isinstance(worker.queue, RedisStreamsQueue)
    deadline = asyncio.get_running_loop().time() + 30
    while await worker.queue.depth():  # until the worker has let go of the job
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.1)
    assert not await worker.blobs.exists(key)
    final = await content.get(f"/content-requests/{created['request_id']}", headers=user.auth)
    assert final.json()["status"] == "cancelled"


async def test_list_is_paginated_and_filtered(
    content: httpx.AsyncClient, new_user: NewUser
) -> None:
    user = await new_user()
    ids = []
    for n in range(5):
        body = {"type": "report" if n % 2 else "video", "year": 2020 + n}
        ids.append((await content.post("/content-requests", json=body, headers=user.auth)).json())
    pages = await follow_pages(content, "/content-requests", user.auth, "request_id", limit=2)
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [i for p in pages for i in p] == [r["request_id"] for r in reversed(ids)]
    videos = await content.get("/content-requests?type=video", headers=user.auth)
    assert len(videos.json()["items"]) == 3
    for cursor in malformed_cursors("request_id"):
        response = await content.get(
            "/content-requests", params={"cursor": cursor}, headers=user.auth
        )
        assert response.status_code == 400, (cursor, response.text)


async def test_a_failure_is_explained_in_the_readers_language(
    content: httpx.AsyncClient,
    new_user: NewUser,
    worker: Deps,
    wait_for_status: Poll,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every attempt fails with an OSError: the reason says so in words, in English or in
    Portuguese as the reader asks, and names no exception; the log keeps the exception."""

    def broken_render(*args: Any) -> Any:
        raise OSError("No space left on device")

    monkeypatch.setattr(jobs, "_render", broken_render)
    monkeypatch.setattr(jobs, "_log", structlog.get_logger("media_jobs"))
    user = await new_user()
    body = {"type": "report", "year": 2031}
    with capture_logs() as logs:
        created = (await content.post("/content-requests", json=body, headers=user.auth)).json()
        done = await wait_for_status(created["request_id"], user.auth, ("succeeded", "failed"))
    assert done["status"] == "failed", done
    assert done["error_code"] == "generation_failed"
    assert done["error"] == "The file could not be generated; please try again later"
    assert "OSError" not in str(done)
    assert any(e.get("error") == "OSError" for e in logs if e["event"] == "job_failed")
    url = f"/content-requests/{created['request_id']}"
    pt = await content.get(url, headers={**user.auth, "Accept-Language": "pt-BR,pt;q=0.9"})
    assert pt.json()["error"] == "Não foi possível gerar o arquivo; tente de novo mais tarde"
    assert pt.json()["error_code"] == "generation_failed"
    assert "Accept-Language" in pt.headers["vary"]
    listed = await content.get("/content-requests", headers={**user.auth, "Accept-Language": "pt"})
    assert listed.json()["items"][0]["error"] == pt.json()["error"]


async def test_download_links_say_what_is_wrong_with_them(
    content: httpx.AsyncClient, blobs: LocalBlobStore
) -> None:
    """Each case its own problem, in one language: altered (403), expired (403: ask for a
    new one), or to a file deleted since (404)."""
    key = f"tenants/{uuid.uuid4()}/users/{uuid.uuid4()}/reports/{uuid.uuid4()}.pdf"
    await blobs.put_bytes(key, b"%PDF-1.7", content_type="application/pdf")
    good = await blobs.download_url(key, expires_in=60, filename="r.pdf")
    expired = await blobs.download_url(key, expires_in=-5, filename="r.pdf")
    cases = [
        (good.replace("sig=", "sig=0"), 403, "This download link is not valid"),
        (expired, 403, "The download link has expired; ask for a new one"),
    ]
    pt = {
        "This download link is not valid": "Este link de download não é válido",
        "The download link has expired; ask for a new one": "O link de download expirou; peça um novo",
        "File not found": "Arquivo não encontrado",
    }
    for url, status, detail in cases:
        for language, said in (("en", detail), ("pt-BR", pt[detail])):
            parts = urlsplit(url)
            response = await content.get(
                f"{parts.path}?{parts.query}", headers={"Accept-Language": language}
            )
            assert response.status_code == status, (url, response.text)
            assert response.headers["content-type"].startswith("application/problem+json")
            assert response.json()["detail"] == said
    await blobs.delete(key)
    for language, said in (("en", "File not found"), ("pt-BR", "Arquivo não encontrado")):
        gone = await content.get(
            f"{urlsplit(good).path}?{urlsplit(good).query}", headers={"Accept-Language": language}
        )
        assert gone.status_code == 404, gone.text
        assert gone.headers["content-type"].startswith("application/problem+json")
        assert gone.json()["detail"] == said
