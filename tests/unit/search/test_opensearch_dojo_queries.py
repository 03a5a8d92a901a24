"""The OpenSearch dojo adapter's mapping and queries, checked without a cluster (the contract
suite runs them against one when ``SEARCH_TEST_OPENSEARCH_URL`` is set)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from platform_api.search.index import BadCursor
from platform_api.search.index_dojos import DojoDocument, DojoQuery
from platform_api.search.index_dojos_opensearch import (
    OpenSearchDojoIndex,
    _document,
    _source,
    dojo_index_body,
)

# The design brief's "Dojo Search Index": every field with its type.
BRIEF = {
    "dojo_id": "keyword", "creator_id": "keyword", "tenant_id": "keyword", "name": "text",
    "description": "text", "language": "keyword", "status": "keyword", "is_private": "boolean",
    "scheduled_start_time": "date", "created_at": "date", "started_at": "date",
    "ended_at": "date", "participant_count": "integer", "tags": "keyword",
}  # fmt: skip
T, U = uuid.uuid4(), uuid.uuid4()


@pytest.fixture
async def index() -> AsyncIterator[OpenSearchDojoIndex]:
    idx = OpenSearchDojoIndex("http://127.0.0.1:9", replicas=1)
    yield idx
    await idx.aclose()


def test_mapping_is_the_design_briefs_extended() -> None:
    body = dojo_index_body()
    properties = body["mappings"]["properties"]
    assert {name: properties[name]["type"] for name in BRIEF} == BRIEF
    assert properties["name"]["fields"]["keyword"] == {"type": "keyword"}
    assert set(properties) - set(BRIEF) == {"participant_ids", "format", "start_at", "version"}
    assert body["settings"]["index"] == {"number_of_shards": 2, "number_of_replicas": 1}
    assert body["mappings"]["dynamic"] == "strict"


def test_documents_round_trip() -> None:
    at = datetime(2025, 5, 1, 12, 30, 1, 123456, tzinfo=UTC)
    doc = DojoDocument(
        T, uuid.uuid4(), U, "Kata", "Desc", "Go", "free", "ended", True, ("a", "b"),
        (U, uuid.uuid4()), 2, None, at, at, at, 7,
    )  # fmt: skip
    source = _source(doc)
    assert source["start_at"] == at.isoformat()
    assert source["scheduled_start_time"] is None
    assert set(source) == set(dojo_index_body()["mappings"]["properties"])
    assert _document(source) == doc


async def test_queries_filter_tenant_and_privacy(index: OpenSearchDojoIndex) -> None:
    body = index.build_body(DojoQuery(T, U, text="kata", languages=("Go",), tags=("x",)), "kata")
    query = body["query"]["bool"]
    assert query["filter"][0] == {"term": {"tenant_id": str(T)}}
    who = query["filter"][1]["bool"]
    assert who["minimum_should_match"] == 1
    assert {"term": {"participant_ids": str(U)}} in who["should"]
    assert {"term": {"creator_id": str(U)}} in who["should"]
    assert {"term": {"is_private": False}} in who["should"]
    assert {"terms": {"language.key": ["go"]}} in query["filter"]
    assert query["must_not"] == [{"term": {"status": "archived"}}]
    assert query["must"][0]["multi_match"]["fuzziness"] == "AUTO"
    assert set(body["aggs"]) == {"status", "language", "tags"}
    assert body["sort"] == ["_score", {"dojo_id": "asc"}]
    # Tenant admins see private dojos, never another tenant's; statuses replace the default.
    admin = index.build_body(DojoQuery(T, U, sees_private=True, statuses=("archived",)), "")
    assert admin["query"]["bool"]["filter"] == [
        {"term": {"tenant_id": str(T)}},
        {"terms": {"status": ["archived"]}},
    ]
    assert admin["query"]["bool"]["must_not"] == []
    assert admin["sort"][0] == {"created_at": "desc"}
    assert index.build_body(DojoQuery(T, U, sort="start"), "")["sort"][0] == {"start_at": "asc"}
    # Wrong length, nested values, and values of the wrong type for the sort (newest first:
    # an epoch-millis integer, then the id), which OpenSearch itself would refuse.
    for after in ([{"x": 1}], [1], [1, 2, 3], [[1], 2], ["abc", "x"], [1.5, "x"], [True, "x"],
                  [1, 2]):  # fmt: skip
        with pytest.raises(BadCursor):
            index.build_body(DojoQuery(T, U, after=after), "")
    assert index.build_body(DojoQuery(T, U, after=[1, "id"]), "")["search_after"] == [1, "id"]
