"""The HTTP adapter of the PocSource port: what it asks the POC service, and its failures."""

from __future__ import annotations

import uuid
from datetime import date

import httpx
import pytest

from platform_api.content.pocs import HttpPocSource, MemoryPocSource, PocQuery, select
from platform_api.kernel import Problem
from platform_api.kernel.auth import Principal

WHO = Principal(uuid.uuid4(), uuid.uuid4(), ("member",), "jti")
QUERY = PocQuery(date(2025, 1, 1), date(2025, 12, 31), tags=("ml", "aws"), language="Go")


def _source(handler: httpx.MockTransport) -> HttpPocSource:
    return HttpPocSource("http://pocs", client=httpx.AsyncClient(transport=handler))


async def test_asks_the_export_api_with_the_callers_token() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200,
            json={
                "items": [
                    {
                        "id": str(uuid.uuid4()),
                        "name": "A",
                        "tags": ["solo", "ml"],
                        "language": "Go",
                        "created_at": "2025-02-01",
                    },
                    {
                        "id": str(uuid.uuid4()),
                        "name": "other year",
                        "tags": ["ml"],
                        "language": "Go",
                        "created_at": "2024-06-01",
                    },
                    {
                        "id": str(uuid.uuid4()),
                        "name": "other tag",
                        "tags": ["web"],
                        "language": "Go",
                        "created_at": "2025-06-01",
                    },
                    {
                        "id": str(uuid.uuid4()),
                        "name": "other language",
                        "tags": ["ml"],
                        "language": "Rust",
                        "created_at": "2025-06-01",
                    },
                ]
            },
        )

    found = await _source(httpx.MockTransport(handler)).fetch(WHO, "tok", QUERY)
    request = seen[0]
    assert request.url.path == "/pocs/export"
    assert request.headers["authorization"] == "Bearer tok"
    params = request.url.params
    assert (params["format"], params["scope"]) == ("json", "mine")
    # The export API returns all of the caller's POCs; dates and filters apply here.
    assert [p["name"] for p in found] == ["A"]
    assert found[0]["tags"] == ["solo", "ml"]
    assert found[0]["frameworks"] == []


@pytest.mark.parametrize(
    ("response", "status"),
    [
        (httpx.Response(500), 503),
        (httpx.Response(200, text="nope"), 502),
        (httpx.Response(200, json={"items": [{"id": "not-a-uuid"}]}), 502),
    ],
)
async def test_failures_become_problems(response: httpx.Response, status: int) -> None:
    source = _source(httpx.MockTransport(lambda _request: response))
    with pytest.raises(Problem) as caught:
        await source.fetch(WHO, "tok", QUERY)
    assert caught.value.status == status


async def test_unreachable_service_is_503() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("down", request=request)

    with pytest.raises(Problem) as caught:
        await _source(httpx.MockTransport(handler)).fetch(WHO, "tok", QUERY)
    assert caught.value.status == 503


async def test_memory_source_filters_like_the_api() -> None:
    source = MemoryPocSource()
    source.add(
        WHO.tenant_id,
        WHO.user_id,
        {"name": "in", "tags": ["ml"], "language": "go", "created_at": "2025-03-01"},
        {"name": "wrong tag", "tags": ["x"], "language": "Go", "created_at": "2025-03-01"},
        {"name": "old", "tags": ["ml"], "language": "Go", "created_at": "2024-03-01"},
    )
    assert [p["name"] for p in await source.fetch(WHO, "t", QUERY)] == ["in"]


def _poc(
    name: str,
    created: str,
    started: str | None = None,
    finished: str | None = None,
    status: str = "done",
) -> dict:
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, name)),
        "name": name,
        "created_at": f"{created}T12:00:00+00:00",
        "started_on": started,
        "finished_on": finished,
        "status": status,
    }


WORKED = [
    _poc("registered later", "2026-01-10", "2025-03-01", "2025-04-15"),
    _poc("registered early, done before", "2025-02-01", "2023-05-01", "2023-06-01"),
    _poc("across new year", "2024-11-01", "2024-11-20", "2025-02-10"),
    _poc("only finished", "2026-02-01", None, "2025-06-30"),
    _poc("no dates", "2025-07-04"),
    _poc("still open", "2025-09-01", "2025-08-01"),
    _poc("in progress since 2024", "2024-05-01", "2024-06-01", status="in_progress"),
]
TODAY = date(2026, 3, 1)


@pytest.mark.parametrize(
    ("year", "names"),
    [
        (2023, ["registered early, done before"]),
        (2024, ["in progress since 2024", "across new year"]),
        (
            2025,
            [
                "in progress since 2024",
                "across new year",
                "registered later",
                "only finished",
                "no dates",
                "still open",
            ],
        ),
        (2026, ["in progress since 2024"]),
        (2027, []),  # not worked on yet
    ],
)
def test_a_year_holds_the_pocs_worked_on_in_it(year: int, names: list[str]) -> None:
    """Not the day a POC was registered: when its work happened, in the order it started."""
    query = PocQuery(date(year, 1, 1), date(year, 12, 31))
    assert [p["name"] for p in select(WORKED, query, TODAY)] == names
