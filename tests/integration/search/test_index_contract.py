"""One contract, every index adapter: tantivy in RAM, tantivy on disk, OpenSearch (when
``SEARCH_TEST_OPENSEARCH_URL`` points at a cluster)."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from platform_api.search.index import (
    BadCursor,
    PocDocument,
    Removal,
    SearchIndex,
    SearchQuery,
)
from platform_api.search.index_opensearch import OpenSearchIndex
from platform_api.search.index_tantivy import TantivyIndex
from tests.harness.search_index import ADAPTERS, open_adapter, reopened

T = uuid.uuid4()
OWNER, OTHER = uuid.uuid4(), uuid.uuid4()


@pytest.fixture(params=ADAPTERS)
async def index(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SearchIndex]:
    async with open_adapter(request.param, tmp_path, TantivyIndex, OpenSearchIndex) as idx:
        yield idx


def doc(
    name: str, *, n: int, tenant: uuid.UUID = T, owner: uuid.UUID = OWNER, **kw: object
) -> PocDocument:
    when = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(minutes=n)
    fields: dict = {
        "tenant_id": tenant, "poc_id": uuid.uuid4(), "owner_id": owner, "name": name,
        "description": "", "language": None, "tags": (), "frameworks": (), "status": "idea",
        "visibility": "tenant", "repository_url": None, "created_at": when,
        "updated_at": when, "version": 1, **kw,
    }  # fmt: skip
    return PocDocument(**fields)


CORPUS = [
    doc("Python data pipeline", n=1, language="Python", tags=("data", "etl"), description="Pandas and Airflow"),
    doc("React native shop", n=2, language="TypeScript", tags=("mobile", "react")),
    doc("Rust ray tracer", n=3, language="Rust", tags=("graphics",), status="done"),
    doc("Private python notes", n=4, language="Python", tags=("notes",), visibility="private", owner=OTHER),
    doc("Other tenant python", n=5, language="Python", tags=("data",), tenant=uuid.uuid4()),
]  # fmt: skip


async def test_contract(index: SearchIndex) -> None:
    await index.apply(CORPUS, [])

    async def names(**kw: object) -> list[str]:
        page = await index.search(SearchQuery(tenant_id=T, viewer_id=OWNER, **kw))  # type: ignore[arg-type]
        return [h.document.name for h in page.hits]

    # Tenant and visibility, always.
    assert await names(sort="name") == [
        "Python data pipeline",
        "React native shop",
        "Rust ray tracer",
    ]
    # Typos, prefixes, several fields.
    assert await names(text="pyhton") == ["Python data pipeline"]
    assert await names(text="reactt") == ["React native shop"]
    assert await names(text="airflw") == ["Python data pipeline"]
    assert await names(text="ray tra") == ["Rust ray tracer"]
    # Filters.
    assert await names(languages=("python",)) == ["Python data pipeline"]
    assert await names(tags=("data", "etl")) == ["Python data pipeline"]
    assert sorted(await names(tags=("etl", "mobile"), tag_mode="any")) == [
        "Python data pipeline", "React native shop"
    ]  # fmt: skip
    assert await names(statuses=("done",)) == ["Rust ray tracer"]
    assert await names(owner_id=OTHER) == []
    # Newest first, and pages that add up.
    assert await names(sort="newest") == [
        "Rust ray tracer",
        "React native shop",
        "Python data pipeline",
    ]
    first = await index.search(SearchQuery(T, OWNER, sort="newest", limit=2))
    assert first.total == 3
    assert first.next_after is not None
    rest = await index.search(SearchQuery(T, OWNER, sort="newest", limit=2, after=first.next_after))
    assert [h.document.name for h in rest.hits] == ["Python data pipeline"]
    assert rest.next_after is None
    with pytest.raises(BadCursor):
        await index.search(SearchQuery(T, OWNER, after=[{"x": 1}]))
    # Facets count only what the viewer may see.
    page = await index.search(SearchQuery(T, OWNER))
    assert dict(page.facets["language"]) == {"Python": 1, "TypeScript": 1, "Rust": 1}
    assert dict(page.facets["tags"])["data"] == 1
    # The other user sees their private POC too.
    other = await index.search(SearchQuery(T, OTHER, text="python"))
    assert sorted(h.document.name for h in other.hits) == [
        "Private python notes",
        "Python data pipeline",
    ]
    # Highlights are escaped HTML with marks.
    marked = await index.search(SearchQuery(T, OWNER, text="pipeline"))
    assert "<mark>pipeline</mark>" in marked.hits[0].highlights["name"]
    # Suggestions.
    suggested = await index.suggest(T, OWNER, "re", 5)
    assert suggested.names == ["React native shop"]
    assert (await index.suggest(T, OWNER, "no", 5)).tags == []
    assert (await index.suggest(T, OTHER, "no", 5)).tags == ["notes"]
    # Round trip of a document, versions, replacement and removal.
    stored = (await index.search(SearchQuery(T, OWNER, text="rust"))).hits[0].document
    assert stored == CORPUS[2]
    assert (await index.versions(T))[CORPUS[0].poc_id] == 1
    renamed = dataclasses.replace(CORPUS[0], name="Go pipeline", version=2)
    await index.apply([renamed], [Removal(T, CORPUS[1].poc_id, 2)])
    assert await names(sort="name") == ["Go pipeline", "Rust ray tracer"]
    assert (await index.versions(T))[CORPUS[0].poc_id] == 2
    # An erased organization leaves nothing; another keeps everything.
    other = CORPUS[4].tenant_id
    await index.drop_tenant(T)
    assert await index.versions(T) == {}
    assert (await index.search(SearchQuery(T, OWNER))).hits == []
    assert await index.versions(other) == {CORPUS[4].poc_id: 1}


async def test_disk_index_survives_a_restart(tmp_path: Path) -> None:
    again = await reopened(TantivyIndex, tmp_path, CORPUS[:2])
    page = await again.search(SearchQuery(T, OWNER, text="pyhton"))
    assert [h.document for h in page.hits] == [CORPUS[0]]
    await again.aclose()
