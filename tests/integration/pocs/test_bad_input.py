"""Bad input to the POC service gets a clear 4xx problem+json, never a 500."""

from __future__ import annotations

import httpx
import pytest

from tests.harness.identity import SignUp

PROBLEM = "application/problem+json"


def assert_problem(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert "Traceback" not in response.text
    return response.json()


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": "x" * 101},
        {"name": "ok", "tags": ["a" * 51]},
        {"name": "ok", "tags": [f"t{i}" for i in range(21)]},
        {"name": "ok", "tags": ["no;semicolons"]},
        {"name": "ok", "tags": "not-a-list"},
        {"name": "ok", "frameworks": ["x" * 60]},
        {"name": "ok", "repository_url": "ftp://example.com/repo"},
        {"name": "ok", "repository_url": "https://user:pw@example.com/repo"},
        {"name": "ok", "repository_url": "https://example.com/" + "a" * 300},
        {"name": "ok", "status": "finished"},
        {"name": "ok", "visibility": "public"},
        {"name": "ok", "started_on": "2024-13-01"},
        {"name": "ok", "started_on": "0001-01-01"},
        {"name": "ok", "started_on": "2024-02-01", "finished_on": "2024-01-01"},
        {"name": "nul\u0000byte"},
        {"name": "ok", "description": "x" * 20_001},
        {"name": "ok", "owner_id": "00000000-0000-0000-0000-000000000000"},
        [],
    ],
)
async def test_invalid_pocs_are_422(pocs: httpx.AsyncClient, sign_up: SignUp, body: object) -> None:
    owner = await sign_up()
    problem = assert_problem(await pocs.post("/pocs", json=body, headers=owner.auth), 422)
    assert problem["errors"]


async def test_malformed_and_oversize_bodies(pocs: httpx.AsyncClient, sign_up: SignUp) -> None:
    owner = await sign_up()
    headers = {**owner.auth, "content-type": "application/json"}
    assert_problem(await pocs.post("/pocs", content=b'{"name": ', headers=headers), 400)
    huge = b'{"name": "' + b"a" * 3_000_000 + b'"}'
    assert_problem(await pocs.post("/pocs", content=huge, headers=headers), 413)


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/pocs", {"limit": 0}),
        ("/pocs", {"limit": 101}),
        ("/pocs", {"sort": "random"}),
        ("/pocs", {"status": "nope"}),
        ("/pocs", {"q": "x" * 101}),
        ("/pocs", {"tag": ["t"] * 11}),
        ("/pocs", {"cursor": "c" * 501}),
        ("/pocs/export", {"format": "xml"}),
        ("/pocs/not-a-uuid", {}),
    ],
)
async def test_bad_queries_are_422(
    pocs: httpx.AsyncClient, sign_up: SignUp, path: str, params: dict
) -> None:
    owner = await sign_up()
    assert_problem(await pocs.get(path, params=params, headers=owner.auth), 422)


async def test_no_or_bad_token_is_401(pocs: httpx.AsyncClient) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}):
        assert_problem(await pocs.get("/pocs", headers=headers), 401)
