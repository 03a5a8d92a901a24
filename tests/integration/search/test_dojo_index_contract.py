"""One contract, every dojo index adapter: tantivy in RAM, tantivy on disk, OpenSearch (when
``SEARCH_TEST_OPENSEARCH_URL`` points at a cluster)."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from platform_api.search.index import BadCursor
from platform_api.search.index_dojos import DojoDocument, DojoIndex, DojoQuery, DojoRemoval
from platform_api.search.index_dojos_opensearch import OpenSearchDojoIndex
from platform_api.search.index_dojos_tantivy import TantivyDojoIndex
from tests.harness.search_index import ADAPTERS, open_adapter, reopened

T = uuid.uuid4()
CREATOR, GUEST, OTHER = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
START = datetime(2025, 3, 1, 18, 30, tzinfo=UTC)


@pytest.fixture(params=ADAPTERS)
async def index(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[DojoIndex]:
    async with open_adapter(request.param, tmp_path, TantivyDojoIndex, OpenSearchDojoIndex) as idx:
        yield idx


def dojo(name: str, *, n: int, tenant: uuid.UUID = T, **kw: object) -> DojoDocument:
    created = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(minutes=n)
    fields: dict = {
        "tenant_id": tenant, "dojo_id": uuid.uuid4(), "creator_id": CREATOR, "name": name,
        "description": "", "language": "Python", "format": "randori", "status": "scheduled",
        "is_private": False, "tags": (), "participant_ids": (CREATOR,), "participant_count": 1,
        "scheduled_start_time": None, "created_at": created, "started_at": None,
        "ended_at": None, "version": 1, **kw,
    }  # fmt: skip
    return DojoDocument(**fields)


CORPUS = [
    dojo("FizzBuzz randori", n=1, tags=("tdd", "kata"), description="Fizz for 3, buzz for 5",
         scheduled_start_time=START),
    dojo("Bowling kata in Rust", n=2, language="Rust", status="active", tags=("kata",),
         started_at=START - timedelta(days=30)),
    dojo("Roman numerals", n=3, language="TypeScript", status="ended", tags=("tdd",),
         started_at=START - timedelta(days=10), ended_at=START - timedelta(days=10, hours=-1)),
    dojo("Secret refactoring", n=4, is_private=True, participant_ids=(CREATOR, GUEST),
         participant_count=2, tags=("private-tag",)),
    dojo("Archived game of life", n=5, status="archived", tags=("kata",)),
    dojo("Other tenant fizzbuzz", n=6, tenant=uuid.uuid4(), tags=("tdd",)),
]  # fmt: skip


async def test_contract(index: DojoIndex) -> None:
    await index.apply(CORPUS, [])

    async def names(viewer: uuid.UUID = OTHER, **kw: object) -> list[str]:
        page = await index.search(DojoQuery(tenant_id=T, viewer_id=viewer, **kw))  # type: ignore[arg-type]
        return [h.document.name for h in page.hits]

    # Tenant, privacy and "all but archived" by default.
    public = ["Bowling kata in Rust", "FizzBuzz randori", "Roman numerals"]
    assert await names(sort="name") == public
    for insider in (CREATOR, GUEST):
        assert "Secret refactoring" in await names(insider, sort="name")
    assert "Secret refactoring" in await names(sees_private=True)
    # Typos, prefixes, several fields.
    assert await names(text="fizbuz") == ["FizzBuzz randori"]
    assert await names(text="bowlng") == ["Bowling kata in Rust"]
    assert await names(text="buzz for") == ["FizzBuzz randori"]
    assert await names(text="typescrpt") == ["Roman numerals"]
    assert await names(text="refactoring") == []
    assert await names(GUEST, text="refactorng") == ["Secret refactoring"]
    # Filters.
    assert await names(languages=("rust",)) == ["Bowling kata in Rust"]
    assert await names(statuses=("archived",)) == ["Archived game of life"]
    assert await names(statuses=("active", "ended"), sort="name") == [
        "Bowling kata in Rust",
        "Roman numerals",
    ]
    assert await names(tags=("tdd", "kata")) == ["FizzBuzz randori"]
    # Sorts: newest created first; by start (started, else scheduled, else created).
    by_creation = ["Roman numerals", "Bowling kata in Rust", "FizzBuzz randori"]
    assert await names(sort="newest") == by_creation
    assert await names() == by_creation  # no words: newest first
    assert await names(sort="start") == [
        "Bowling kata in Rust",  # started 30 days before START
        "Roman numerals",  # 10 days before
        "FizzBuzz randori",  # scheduled at START
    ]
    # Pages that add up, and positions the index never made.
    first = await index.search(DojoQuery(T, OTHER, sort="name", limit=2))
    assert (first.total, len(first.hits)) == (3, 2)
    assert first.next_after is not None
    rest = await index.search(DojoQuery(T, OTHER, sort="name", limit=2, after=first.next_after))
    assert [h.document.name for h in rest.hits] == ["Roman numerals"]
    assert rest.next_after is None
    with pytest.raises(BadCursor):
        await index.search(DojoQuery(T, OTHER, after=[{"x": 1}]))
    # Facets count only what the viewer may see.
    page = await index.search(DojoQuery(T, OTHER))
    assert dict(page.facets["status"]) == {"scheduled": 1, "active": 1, "ended": 1}
    assert dict(page.facets["language"]) == {"Python": 1, "Rust": 1, "TypeScript": 1}
    assert dict(page.facets["tags"]) == {"tdd": 2, "kata": 2}
    insider = await index.search(DojoQuery(T, GUEST))
    assert dict(insider.facets["tags"])["private-tag"] == 1
    # Highlights are escaped HTML with marks.
    marked = await index.search(DojoQuery(T, OTHER, text="randori"))
    assert "<mark>randori</mark>" in marked.hits[0].highlights["name"]
    # Suggestions: names and tags, private ones for insiders only.
    assert (await index.suggest(T, OTHER, False, "fiz", 5)).names == ["FizzBuzz randori"]
    assert (await index.suggest(T, OTHER, False, "secr", 5)).names == []
    assert (await index.suggest(T, GUEST, False, "secr", 5)).names == ["Secret refactoring"]
    assert (await index.suggest(T, OTHER, False, "priv", 5)).tags == []
    assert (await index.suggest(T, CREATOR, False, "priv", 5)).tags == ["private-tag"]
    assert (await index.suggest(T, OTHER, True, "archi", 5)).names == []
    # Round trip of a document, versions, replacement and removal.
    stored = (await index.search(DojoQuery(T, OTHER, text="roman"))).hits[0].document
    assert stored == CORPUS[2]
    assert (await index.versions(T))[CORPUS[0].dojo_id] == 1
    started = dataclasses.replace(
        CORPUS[0], status="active", started_at=START, participant_count=3, version=4
    )
    await index.apply([started], [DojoRemoval(T, CORPUS[1].dojo_id, 2)])
    assert await names(sort="name") == ["FizzBuzz randori", "Roman numerals"]
    assert (await index.versions(T))[CORPUS[0].dojo_id] == 4
    now = (await index.search(DojoQuery(T, OTHER, text="fizzbuzz"))).hits[0].document
    assert (now.status, now.participant_count) == ("active", 3)
    # A participant who leaves a private dojo stops seeing it.
    left = dataclasses.replace(
        CORPUS[3], participant_ids=(CREATOR,), participant_count=1, version=2
    )
    await index.apply([left], [])
    assert "Secret refactoring" not in await names(GUEST)
    # An erased organization leaves nothing; another keeps everything.
    other = CORPUS[-1].tenant_id
    await index.drop_tenant(T)
    assert await index.versions(T) == {}
    assert (await index.search(DojoQuery(T, OTHER))).hits == []
    assert await index.versions(other) == {CORPUS[-1].dojo_id: CORPUS[-1].version}


async def test_disk_index_survives_a_restart(tmp_path: Path) -> None:
    again = await reopened(TantivyDojoIndex, tmp_path, CORPUS[:2])
    page = await again.search(DojoQuery(T, OTHER, text="fizbuz"))
    assert [h.document for h in page.hits] == [CORPUS[0]]
    await again.aclose()
