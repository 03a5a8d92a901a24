"""Tenant isolation (every id-bearing endpoint answers 404 to another tenant) and bad input."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
import pytest

from media_jobs.jobs import Deps
from platform_api.content.pocs import MemoryPocSource
from tests.harness.cross_tenant import Probe, assert_all_not_found
from tests.unit.media_jobs.samples import nasty_pocs

from .conftest import Poll, User

NewUser = Callable[[], Awaitable[User]]
CONTENT_PROBES = [
    Probe("GET", "/content-requests/{request_id}"),
    Probe("GET", "/content-requests/{request_id}/download"),
    Probe("GET", "/content-requests/{request_id}/events"),
    Probe("POST", "/content-requests/{request_id}/cancel"),
    Probe("DELETE", "/content-requests/{request_id}"),
]


async def test_other_tenants_and_users_get_404(
    content: httpx.AsyncClient,
    new_user: NewUser,
    pocs: MemoryPocSource,
    worker: Deps,
    wait_for_status: Poll,
) -> None:
    a, b = await new_user(), await new_user()
    pocs.add(a.tenant_id, a.user_id, *nasty_pocs(2025))
    created = await content.post(
        "/content-requests", json={"type": "report", "year": 2025}, headers=a.auth
    )
    rid = created.json()["request_id"]
    done = await wait_for_status(rid, a.auth, ("succeeded", "failed"))
    assert done["status"] == "succeeded", done  # huge text, emoji, RTL: still a good file
    await assert_all_not_found(content, CONTENT_PROBES, {"request_id": rid}, b.account.access_token)
    assert (await content.get("/content-requests", headers=b.auth)).json()["items"] == []
    # Still there for its owner, untouched.
    mine = await content.get(f"/content-requests/{rid}/download", headers=a.auth)
    assert mine.status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"type": "pdf", "year": 2025},
        {"type": "report"},
        {"type": "report", "year": 1999},
        {"type": "report", "year": 2025, "from": "2025-01-01", "to": "2025-02-01"},
        {"type": "report", "from": "2025-05-01", "to": "2025-01-01"},
        {"type": "report", "from": "2015-01-01", "to": "2025-01-01"},
        {"type": "report", "from": "2025-01-01"},
        {"type": "video", "year": 2025, "language": "fr"},
        {"type": "video", "year": 2025, "filter": {"tags": ["x" * 51]}},
        {"type": "video", "year": 2025, "filter": {"tags": ["t"] * 21}},
        {"type": "video", "year": 2025, "extra": 1},
        {"type": "report", "year": 2025, "filter": {"status": "Done"}},
        {"type": "report", "year": 2025, "filter": {"status": "finished"}},
        {"type": "video", "year": "twenty"},
    ],
)
async def test_invalid_requests_are_problem_json_422(
    content: httpx.AsyncClient, new_user: NewUser, body: dict[str, object]
) -> None:
    user = await new_user()
    response = await content.post("/content-requests", json=body, headers=user.auth)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_malformed_and_unauthenticated_requests(
    content: httpx.AsyncClient, new_user: NewUser
) -> None:
    user = await new_user()
    anonymous = await content.post("/content-requests", json={"type": "report", "year": 2025})
    assert anonymous.status_code == 401
    broken = await content.post(
        "/content-requests",
        content=b"{not json",
        headers={**user.auth, "content-type": "application/json"},
    )
    assert broken.status_code == 400
    bad_key = await content.post(
        "/content-requests",
        json={"type": "report", "year": 2025},
        headers={**user.auth, "Idempotency-Key": "has space"},
    )
    assert bad_key.status_code == 422
    for path in ("/content-requests/not-a-uuid", "/files/../../etc/passwd"):
        response = await content.get(path, headers=user.auth)
        assert response.status_code in (403, 404, 422), (path, response.status_code)
        assert response.headers["content-type"].startswith("application/problem+json")
