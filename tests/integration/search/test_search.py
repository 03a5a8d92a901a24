"""Search over HTTP: typo tolerance, filters, facets, highlights, sorting, pages, freshness."""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from platform_api.search.index import PocDocument
from platform_api.search.service import Search
from tests.harness.identity import Account, SignUp
from tests.harness.pocs import MakePoc

from .conftest import Sync

InviteMember = Callable[..., Awaitable[Account]]

CATALOG = [
    {"name": "FastAPI billing service", "language": "python", "tags": ["api", "billing"],
     "frameworks": ["FastAPI"], "status": "done", "description": "Invoices in Python."},
    {"name": "Django admin tricks", "language": "Python", "tags": ["web", "admin"],
     "frameworks": ["Django"], "status": "in_progress"},
    {"name": "React dashboard", "language": "TypeScript", "tags": ["web", "frontend"],
     "frameworks": ["React"], "status": "idea"},
    {"name": "Realtime cursors", "language": "TypeScript", "tags": ["crdt", "frontend"],
     "frameworks": ["React", "Yjs"], "status": "done"},
    {"name": "gRPC gateway", "language": "Go", "tags": ["api"], "status": "abandoned"},
]  # fmt: skip


async def _tenant_with_catalog(
    sign_up: SignUp, make_poc: MakePoc, sync: Sync, visibility: str = "tenant"
) -> tuple[Account, list[dict[str, Any]]]:
    owner = await sign_up()
    pocs = [await make_poc(owner, visibility=visibility, **poc) for poc in CATALOG]
    await sync()
    return owner, pocs


async def _search(client: httpx.AsyncClient, who: Account, **params: Any) -> dict[str, Any]:
    response = await client.get("/search", params=params, headers=who.auth)
    assert response.status_code == 200, response.text
    return response.json()


def _names(body: dict[str, Any]) -> list[str]:
    return [item["name"] for item in body["items"]]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("pyhton", {"FastAPI billing service", "Django admin tricks"}),
        ("reactt", {"React dashboard", "Realtime cursors"}),
        ("dashbaord", {"React dashboard"}),
        ("fastapi", {"FastAPI billing service"}),
        ("billing invoices", {"FastAPI billing service"}),
        ("grpc", {"gRPC gateway"}),
        ("dash", {"React dashboard"}),  # as you type
        ("realtime c", {"Realtime cursors"}),  # the first letter of the next word
        ("d", {"React dashboard", "Django admin tricks"}),
        ("kubernetes", set()),
    ],
)
async def test_typo_tolerant_search(
    search: httpx.AsyncClient,
    sign_up: SignUp,
    make_poc: MakePoc,
    sync: Sync,
    q: str,
    expected: set[str],
) -> None:
    owner, _ = await _tenant_with_catalog(sign_up, make_poc, sync)
    body = await _search(search, owner, q=q)
    assert set(_names(body)) == expected
    assert body["total"] == len(expected)


async def test_filters_facets_and_highlights(
    search: httpx.AsyncClient, sign_up: SignUp, make_poc: MakePoc, sync: Sync
) -> None:
    owner, _ = await _tenant_with_catalog(sign_up, make_poc, sync)
    everything = await _search(search, owner)
    assert everything["total"] == 5
    facets = {k: {f["value"]: f["count"] for f in v} for k, v in everything["facets"].items()}
    assert facets["language"] == {"Python": 2, "TypeScript": 2, "Go": 1}
    assert facets["tags"]["api"] == 2
    assert facets["tags"]["frontend"] == 2
    assert facets["status"] == {"done": 2, "in_progress": 1, "idea": 1, "abandoned": 1}
    web_api = await _search(search, owner, tags=["web", "api"])
    assert web_api["total"] == 0
    either = await _search(search, owner, tags=["web", "api"], tag_mode="any")
    assert either["total"] == 4
    both = await _search(search, owner, tags=["frontend", "crdt"])
    assert _names(both) == ["Realtime cursors"]
    python_done = await _search(search, owner, language="PYTHON", status="done")
    assert _names(python_done) == ["FastAPI billing service"]
    two_languages = await _search(search, owner, language=["go", "typescript"], q="api")
    assert _names(two_languages) == ["gRPC gateway"]
    assert _names(await _search(search, owner, language="golang")) == ["gRPC gateway"]
    assert _names(await _search(search, owner, tags=["CRDT", "crdt"])) == ["Realtime cursors"]
    typed = await _search(search, owner, q="reactt")
    facets = {f["value"]: f["count"] for f in typed["facets"]["language"]}
    assert facets == {"TypeScript": 2}
    marked = await _search(search, owner, q="dashbord")
    assert marked["items"][0]["highlights"]["name"] == "React <mark>dashboard</mark>"


async def test_sorting_and_pages(
    search: httpx.AsyncClient, sign_up: SignUp, make_poc: MakePoc, sync: Sync
) -> None:
    owner, _ = await _tenant_with_catalog(sign_up, make_poc, sync)
    for sort, expected in (
        ("name", sorted((p["name"] for p in CATALOG), key=str.lower)),
        ("newest", [p["name"] for p in reversed(CATALOG)]),
    ):
        seen: list[str] = []
        cursor = None
        while True:
            params = {"sort": sort, "limit": 2, **({"cursor": cursor} if cursor else {})}
            body = await _search(search, owner, **params)
            seen += _names(body)
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert seen == expected, sort
    first = await _search(search, owner, sort="name", limit=2)
    other = await search.get(
        "/search",
        params={"sort": "newest", "limit": 2, "cursor": first["next_cursor"]},
        headers=owner.auth,
    )
    assert other.status_code == 400
    relevant = await _search(search, owner, q="react")
    assert relevant["items"][0]["score"] >= relevant["items"][-1]["score"]


async def test_visibility_private_pocs_only_for_their_owner(
    search: httpx.AsyncClient,
    sign_up: SignUp,
    invite_member: InviteMember,
    make_poc: MakePoc,
    sync: Sync,
) -> None:
    owner = await sign_up()
    colleague = await invite_member(owner)
    await make_poc(owner, name="Private python thing", language="Python", tags=["secret-tag"])
    await make_poc(owner, name="Shared python thing", language="Python", visibility="tenant")
    await sync()
    mine = await _search(search, owner, q="python")
    assert sorted(_names(mine)) == ["Private python thing", "Shared python thing"]
    theirs = await _search(search, colleague, q="python")
    assert _names(theirs) == ["Shared python thing"]
    assert theirs["facets"]["tags"] == []
    assert (await _search(search, colleague, owner=owner.user_id))["total"] == 1
    assert (await _search(search, colleague, owner="me"))["total"] == 0
    suggested = await search.get("/suggest", params={"q": "secr"}, headers=colleague.auth)
    assert suggested.json() == {"names": [], "tags": []}
    suggested = await search.get("/suggest", params={"q": "secr"}, headers=owner.auth)
    assert suggested.json()["tags"] == ["secret-tag"]


async def test_changes_reach_the_index(
    search: httpx.AsyncClient,
    pocs: httpx.AsyncClient,
    sign_up: SignUp,
    make_poc: MakePoc,
    sync: Sync,
) -> None:
    owner = await sign_up()
    poc = await make_poc(owner, name="Kafka consumer", visibility="tenant")
    await sync()
    assert _names(await _search(search, owner, q="kafka")) == ["Kafka consumer"]
    url = f"/pocs/{poc['poc_id']}"
    await pocs.patch(url, json={"name": "Pulsar consumer"}, headers={**owner.auth, "If-Match": "*"})
    await sync()
    assert _names(await _search(search, owner, q="kafka")) == []
    assert _names(await _search(search, owner, q="pulsar")) == ["Pulsar consumer"]
    await pocs.delete(url, headers=owner.auth)
    await sync()
    assert (await _search(search, owner))["total"] == 0
    await pocs.post(f"/trash/{poc['poc_id']}/restore", headers=owner.auth)
    await sync()
    assert _names(await _search(search, owner)) == ["Pulsar consumer"]


async def test_suggestions(
    search: httpx.AsyncClient, sign_up: SignUp, make_poc: MakePoc, sync: Sync
) -> None:
    owner, _ = await _tenant_with_catalog(sign_up, make_poc, sync)

    async def suggest(q: str) -> dict[str, list[str]]:
        response = await search.get("/suggest", params={"q": q}, headers=owner.auth)
        assert response.status_code == 200, response.text
        return response.json()

    assert set((await suggest("rea"))["names"]) == {"React dashboard", "Realtime cursors"}
    assert (await suggest("React d"))["names"] == ["React dashboard"]
    assert (await suggest("fr"))["tags"] == ["frontend"]
    assert (await suggest("dahsboard"))["names"] == ["React dashboard"]
    assert (await suggest("zzz")) == {"names": [], "tags": []}


async def test_accents_neither_hide_nor_reorder(
    search: httpx.AsyncClient, sign_up: SignUp, make_poc: MakePoc, sync: Sync
) -> None:
    """Words are found with or without their accents, and names sort among their letters."""
    owner = await sign_up()
    for name, tags in (("Plano de ação", ["ação"]), ("Zebra", []), ("Árvore", []),
                       ("abacate", []), ("Ética", [])):  # fmt: skip
        await make_poc(owner, name=name, tags=tags)
    await sync()
    for q in ("acao", "plano acao", "ação", "AÇAO"):
        body = await _search(search, owner, q=q)
        assert _names(body) == ["Plano de ação"], q
    assert (await _search(search, owner, q="acao"))["items"][0]["highlights"]["name"] == (
        "Plano de <mark>ação</mark>"
    )
    by_name = await _search(search, owner, sort="name")
    assert _names(by_name) == ["abacate", "Árvore", "Ética", "Plano de ação", "Zebra"]
    suggested = await search.get("/suggest", params={"q": "aca"}, headers=owner.auth)
    assert suggested.json()["tags"] == ["ação"]
    await make_poc(owner, name="Painel", tags=["admin", "zebu", "ética"])
    await sync()
    tags = [f["value"] for f in (await _search(search, owner))["facets"]["tags"]]
    assert tags == ["ação", "admin", "ética", "zebu"]  # equals by their letters


@pytest.mark.parametrize("q", ["a" * 40, "grpc " + "x" * 45, "ç" * 20])
async def test_words_too_long_for_the_index_find_nothing(
    search: httpx.AsyncClient, sign_up: SignUp, make_poc: MakePoc, sync: Sync, q: str
) -> None:
    owner, _ = await _tenant_with_catalog(sign_up, make_poc, sync)
    assert (await _search(search, owner, q=q))["total"] == 0


async def test_documents_stored_decomposed_are_indexed_composed(
    search: httpx.AsyncClient, sign_up: SignUp
) -> None:
    """Names saved before text was kept composed reach the index through events and
    rebuilds as they were: the index composes them."""
    engine: Search = search.app.state.search  # type: ignore[attr-defined]
    owner = await sign_up()
    doc = PocDocument.from_payload(
        {
            "poc_id": str(uuid.uuid4()), "tenant_id": owner.tenant_id, "owner_id": owner.user_id,
            "name": unicodedata.normalize("NFD", "Plano de ação"), "status": "idea",
            "visibility": "private", "created_at": "2024-01-01T00:00:00+00:00",
            "updated_at": "2024-01-01T00:00:00+00:00", "version": 1,
        }
    )  # fmt: skip
    await engine.index.apply([doc], [])
    assert _names(await _search(search, owner, q="acao")) == ["Plano de ação"]
