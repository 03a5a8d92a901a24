"""The OpenSearch adapter's mapping and queries, checked without a cluster (the contract
suite runs them against one when ``SEARCH_TEST_OPENSEARCH_URL`` is set)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from platform_api.search.index import BadCursor, PocDocument, SearchQuery
from platform_api.search.index_opensearch import OpenSearchIndex, _document, _source, index_body

BRIEF_FIELDS = {
    "poc_id", "user_id", "tenant_id", "name", "description", "language", "tags",
    "frameworks", "is_public", "repository_url", "created_at", "updated_at", "code_snippets",
}  # fmt: skip
T, U = uuid.uuid4(), uuid.uuid4()


@pytest.fixture
async def index() -> OpenSearchIndex:
    idx = OpenSearchIndex("http://127.0.0.1:9", replicas=2)
    yield idx
    await idx.aclose()


def test_mapping_extends_the_design_brief() -> None:
    body = index_body(replicas=2)
    properties = body["mappings"]["properties"]
    assert set(properties) >= BRIEF_FIELDS | {"status", "visibility", "version"}
    assert properties["name"]["fields"]["keyword"] == {"type": "keyword"}
    assert properties["code_snippets"]["analyzer"] == "code_analyzer"
    assert body["settings"]["index"] == {"number_of_shards": 3, "number_of_replicas": 2}
    assert body["mappings"]["dynamic"] == "strict"


def test_documents_round_trip() -> None:
    now = datetime(2025, 5, 1, 12, 30, 1, 123456, tzinfo=UTC)
    doc = PocDocument(
        T, uuid.uuid4(), U, "Name", "Desc", "Go", ("a", "b"), ("Gin",), "done", "private",
        "https://x.dev/r", now, now, 7,
    )  # fmt: skip
    source = _source(doc)
    assert source["is_public"] is False
    assert source["user_id"] == str(U)
    assert _document(source) == doc


async def test_query_always_filters_tenant_and_visibility(index: OpenSearchIndex) -> None:
    body = index.build_body(
        SearchQuery(
            T, U, text="pyhton web", languages=("Python",), tags=("a", "b"), statuses=("done",)
        ),
        "pyhton web",
    )
    filters = body["query"]["bool"]["filter"]
    assert filters[0] == {"term": {"tenant_id": str(T)}}
    visibility = filters[1]["bool"]["should"]
    assert {"term": {"user_id": str(U)}} in visibility
    assert {"term": {"is_public": True}} in visibility
    assert {"terms": {"language.key": ["python"]}} in filters
    assert [f for f in filters if f.get("term", {}).get("tags")] == [
        {"term": {"tags": "a"}},
        {"term": {"tags": "b"}},
    ]
    text = body["query"]["bool"]["must"][0]["multi_match"]
    assert (text["fuzziness"], text["type"], text["operator"]) == ("AUTO", "bool_prefix", "and")
    assert body["sort"] == ["_score", {"poc_id": "asc"}]
    assert set(body["aggs"]) == {"language", "tags", "status"}
    assert body["highlight"]["encoder"] == "html"


async def test_sorts_tag_modes_and_cursors(index: OpenSearchIndex) -> None:
    any_tags = index.build_body(SearchQuery(T, U, tags=("a", "b"), tag_mode="any"), "")
    assert {"terms": {"tags": ["a", "b"]}} in any_tags["query"]["bool"]["filter"]
    assert any_tags["sort"][0] == {"created_at": "desc"}  # no text: newest first
    by_name = index.build_body(SearchQuery(T, U, sort="name", after=["abc", "id"]), "x")
    assert by_name["sort"][0] == {"name.sort": "asc"}
    assert by_name["search_after"] == ["abc", "id"]
    with pytest.raises(BadCursor):
        index.build_body(SearchQuery(T, U, after=[{"script": "x"}, 1]), "x")
    with pytest.raises(BadCursor):
        index.build_body(SearchQuery(T, U, after=[1]), "x")
    # Values of the wrong type for their sort key: relevance wants a number, then the id.
    for forged in (["abc", "id"], [0.5, 7], [None, "id"]):
        with pytest.raises(BadCursor):
            index.build_body(SearchQuery(T, U, after=forged), "x")
    assert index.build_body(SearchQuery(T, U, after=[0.5, "id"]), "x")["search_after"] == [
        0.5,
        "id",
    ]
