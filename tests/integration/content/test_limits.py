"""Requests waiting or rendering at once are capped per user and per organization, so that
one user's batch of videos cannot hold every other organization's reports in the queue."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from platform_api.content.app import create_app
from platform_api.content.pocs import MemoryPocSource, PocQuery
from platform_api.content.settings import ContentSettings
from platform_api.kernel import KeySet, Principal, TokenVerifier
from platform_api.kernel.blobs import LocalBlobStore
from platform_api.kernel.queues.redis_streams import RedisStreamsQueue
from tests.harness.asgi import serve

from .conftest import User

PT = {"Accept-Language": "pt-BR"}


class HeldPocSource(MemoryPocSource):
    """The POC service, answering only once ``gate`` is open (a slow export)."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.gate.set()

    async def fetch(self, who: Principal, token: str, query: PocQuery) -> list[dict[str, Any]]:
        await self.gate.wait()
        return await super().fetch(who, token, query)


@pytest.fixture
def pocs_source() -> HeldPocSource:
    return HeldPocSource()


@pytest.fixture
async def capped(
    content_settings: ContentSettings,
    identity: httpx.AsyncClient,
    pocs_source: HeldPocSource,
    blobs: LocalBlobStore,
) -> AsyncIterator[httpx.AsyncClient]:
    """The content app with a cap of 2 per user, on a queue no worker reads: what it accepts
    stays queued."""
    settings = content_settings.model_copy(
        update={"max_active_per_user": 2, "queue_name": f"capped-{uuid.uuid4().hex[:8]}"}
    )
    keys = KeySet(jwks_url="http://testserver/.well-known/jwks.json", http_client=identity)
    verifier = TokenVerifier(keys, issuer="https://mrbill.local/identity", audience="mrbill-api")
    queue = RedisStreamsQueue(settings.redis_url, settings.queue_name, visibility_timeout=3)
    app = create_app(settings, pocs=pocs_source, blobs=blobs, queue=queue, verifier=verifier)
    async with serve(app) as client:
        yield client
    await queue.purge()
    await queue.aclose()


async def test_a_user_waits_for_one_to_finish_past_the_cap(
    capped: httpx.AsyncClient, new_user: Callable[[], Awaitable[User]]
) -> None:
    user, other = await new_user(), await new_user()

    async def ask(who: User, year: int) -> httpx.Response:
        body = {"type": "video", "year": year}
        return await capped.post("/content-requests", json=body, headers={**who.auth, **PT})

    first, second = await ask(user, 2024), await ask(user, 2025)
    assert (first.status_code, second.status_code) == (201, 201)
    refused = await ask(user, 2026)
    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.headers["retry-after"] == "30"
    assert refused.json()["detail"] == (
        "Você tem 2 relatórios ou vídeos em andamento; espere um terminar"
    )
    assert (await ask(other, 2026)).status_code == 201  # another organization is not held
    cancel = f"/content-requests/{first.json()['request_id']}/cancel"
    assert (await capped.post(cancel, headers=user.auth)).status_code == 200
    assert (await ask(user, 2026)).status_code == 201


async def test_a_retry_made_while_the_first_is_made_is_its_replay_even_at_the_cap(
    capped: httpx.AsyncClient, new_user: Callable[[], Awaitable[User]], pocs_source: HeldPocSource
) -> None:
    """Request and retry with the same Idempotency-Key, both waiting on a slow POC export,
    one below the cap: the first takes the last place and the retry replays it."""
    user = await new_user()
    body = {"type": "video", "year": 2024}
    assert (await capped.post("/content-requests", json=body, headers=user.auth)).status_code == 201
    pocs_source.gate.clear()
    headers = {**user.auth, "Idempotency-Key": f"k-{uuid.uuid4().hex}"}
    body = {"type": "report", "year": 2025}
    first = asyncio.create_task(capped.post("/content-requests", json=body, headers=headers))
    retry = asyncio.create_task(capped.post("/content-requests", json=body, headers=headers))
    await asyncio.sleep(0.3)  # both are waiting on the export
    pocs_source.gate.set()
    answers = sorted([await first, await retry], key=lambda r: r.status_code)
    assert [a.status_code for a in answers] == [200, 201], [a.text for a in answers]
    assert answers[0].json()["request_id"] == answers[1].json()["request_id"]
    assert answers[0].headers["idempotent-replayed"] == "true"
