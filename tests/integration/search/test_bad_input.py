"""Malformed and huge queries get a 4xx problem+json, never a 500."""

from __future__ import annotations

import uuid

import httpx
import pytest

from platform_api.search.index import SearchQuery
from platform_api.search.routes import _fingerprint
from tests.harness.identity import SignUp
from tests.harness.pagination import encode


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/search", {"q": "x" * 201}, 422),
        ("/search", {"q": "nul\x00byte"}, 422),
        ("/search", {"tags": ["t"] * 11}, 422),
        ("/search", {"tags": ["x" * 51]}, 422),
        ("/search", {"language": ["x" * 51]}, 422),
        ("/search", {"status": "finished"}, 422),
        ("/search", {"sort": "random"}, 422),
        ("/search", {"tag_mode": "xor"}, 422),
        ("/search", {"owner": "someone"}, 422),
        ("/search", {"limit": 0}, 422),
        ("/search", {"limit": 51}, 422),
        ("/search", {"cursor": "!!!"}, 400),
        ("/search", {"cursor": encode({"q": "x", "after": [0]})}, 400),
        ("/search", {"cursor": encode([1, 2])}, 400),
        ("/search", {"cursor": "c" * 501}, 422),
        ("/suggest", {}, 422),
        ("/suggest", {"q": ""}, 422),
        ("/suggest", {"q": "x" * 101}, 422),
        ("/suggest", {"q": "a", "limit": 21}, 422),
    ],
)
async def test_bad_queries(
    search: httpx.AsyncClient, sign_up: SignUp, path: str, params: dict, status: int
) -> None:
    owner = await sign_up()
    response = await search.get(path, params=params, headers=owner.auth)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_forged_positions_are_400(search: httpx.AsyncClient, sign_up: SignUp) -> None:
    owner = await sign_up()
    first = await search.get("/search", params={"limit": 1}, headers=owner.auth)
    fingerprint_source = first.json()  # an empty tenant: no next page, forge one
    assert fingerprint_source["next_cursor"] is None

    q = SearchQuery(uuid.UUID(owner.tenant_id), uuid.UUID(owner.user_id), limit=1)
    for after in ([-1], [10_001], ["x"], [True], [1, 2], [None]):
        cursor = encode({"q": _fingerprint(q), "after": after})
        response = await search.get(
            "/search", params={"limit": 1, "cursor": cursor}, headers=owner.auth
        )
        assert response.status_code == 400, (after, response.text)


async def test_weird_but_valid_queries_work(search: httpx.AsyncClient, sign_up: SignUp) -> None:
    owner = await sign_up()
    for q in ('"', "a:b", "(x OR y", "*", "title:[a TO b]", "ção ✓ 日本語", "-", "   ", "c++ c#"):
        response = await search.get("/search", params={"q": q}, headers=owner.auth)
        assert response.status_code == 200, (q, response.text)
        suggest = await search.get("/suggest", params={"q": q}, headers=owner.auth)
        assert suggest.status_code == (200 if q.strip() else 422), (q, suggest.text)
