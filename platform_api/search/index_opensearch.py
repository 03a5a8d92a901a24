"""The production index: Amazon OpenSearch Service (opensearch-py, async client).

Mapping: the design brief's POC index (``poc_id``, ``user_id``, ``tenant_id``, ``name`` text +
keyword, ``description``, ``language``/``tags``/``frameworks`` keywords, ``is_public``,
``repository_url``, dates, ``code_snippets`` with the code analyzer) plus what our API needs:
``status``, ``visibility``, ``version``, lower-cased sort/filter keys and text sub-fields so
that tags and languages are typo-tolerant too.

High availability: ``number_of_replicas`` >= 1 with the domain's zone awareness on (set in
Terraform: ``zone_awareness_enabled``, 3 AZs) puts a primary and its replica in different
AZs. Documents are routed by tenant (one shard per tenant query) and written with external
versioning, so a late, older event can never overwrite a newer one even with many consumers.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from opensearchpy import AsyncOpenSearch, NotFoundError

from .index import (
    BadCursor,
    Hit,
    PocDocument,
    Removal,
    SearchPage,
    SearchQuery,
    Suggestions,
    terms,
)

FACETS = {"language": 20, "tags": 30, "status": 10}
TEXT_FIELDS = ["name^3", "tags.text^2", "language.text^2", "frameworks.text^1.5", "description"]
_TEXT_SUB = {"text": {"type": "text", "analyzer": "standard"}}


def index_body(shards: int = 3, replicas: int = 1) -> dict[str, Any]:
    """Settings and mappings of the POC index (the brief's, extended)."""
    return {
        "settings": {
            "index": {"number_of_shards": shards, "number_of_replicas": replicas},
            "analysis": {
                "analyzer": {
                    "code_analyzer": {
                        "type": "custom",
                        "tokenizer": "standard",
                        "filter": ["lowercase", "asciifolding", "code_filter"],
                    }
                },
                "filter": {
                    "code_filter": {
                        "type": "stop",
                        "stopwords": [
                            "function",
                            "class",
                            "var",
                            "const",
                            "let",
                            "return",
                            "if",
                            "else",
                            "for",
                            "while",
                        ],
                    }
                },
                "normalizer": {"lower": {"type": "custom", "filter": ["lowercase"]}},
            },
        },
        "mappings": {
            "dynamic": "strict",
            "properties": {
                "poc_id": {"type": "keyword"},
                "user_id": {"type": "keyword"},
                "tenant_id": {"type": "keyword"},
                "name": {
                    "type": "text",
                    "analyzer": "standard",
                    "fields": {
                        "keyword": {"type": "keyword"},
                        "sort": {"type": "keyword", "normalizer": "lower"},
                    },
                },
                "description": {"type": "text", "analyzer": "standard"},
                "language": {
                    "type": "keyword",
                    "fields": {**_TEXT_SUB, "key": {"type": "keyword", "normalizer": "lower"}},
                },
                "tags": {"type": "keyword", "fields": _TEXT_SUB},
                "frameworks": {"type": "keyword", "fields": _TEXT_SUB},
                "is_public": {"type": "boolean"},
                "visibility": {"type": "keyword"},
                "status": {"type": "keyword"},
                "repository_url": {"type": "keyword"},
                "created_at": {"type": "date"},
                "updated_at": {"type": "date"},
                "version": {"type": "long"},
                "code_snippets": {"type": "text", "analyzer": "code_analyzer"},
            },
        },
    }


def _source(doc: PocDocument) -> dict[str, Any]:
    return {
        "poc_id": str(doc.poc_id),
        "user_id": str(doc.owner_id),
        "tenant_id": str(doc.tenant_id),
        "name": doc.name,
        "description": doc.description,
        "language": doc.language,
        "tags": list(doc.tags),
        "frameworks": list(doc.frameworks),
        "is_public": doc.visibility == "tenant",
        "visibility": doc.visibility,
        "status": doc.status,
        "repository_url": doc.repository_url,
        "created_at": doc.created_at.isoformat(),
        "updated_at": doc.updated_at.isoformat(),
        "version": doc.version,
    }


def _document(source: dict[str, Any]) -> PocDocument:
    return PocDocument(
        tenant_id=uuid.UUID(source["tenant_id"]),
        poc_id=uuid.UUID(source["poc_id"]),
        owner_id=uuid.UUID(source["user_id"]),
        name=source["name"],
        description=source.get("description") or "",
        language=source.get("language"),
        tags=tuple(source.get("tags") or ()),
        frameworks=tuple(source.get("frameworks") or ()),
        status=source["status"],
        visibility=source["visibility"],
        repository_url=source.get("repository_url"),
        created_at=datetime.fromisoformat(source["created_at"]),
        updated_at=datetime.fromisoformat(source["updated_at"]),
        version=int(source["version"]),
    )


def check_bulk(response: dict[str, Any]) -> None:
    """Raise if a bulk write failed for another reason than a newer version being there
    (409) or deleting what is not there (404)."""
    for item in response.get("items", []):
        result = next(iter(item.values()))
        if result.get("status", 200) >= 300 and result.get("status") not in (404, 409):
            raise RuntimeError(f"OpenSearch refused a write: {result.get('error')}")


_DATE_SORTS = frozenset({"created_at", "updated_at", "start_at"})


def search_after(after: Sequence[Any], sort: list[Any]) -> list[Any]:
    """A cursor's sort values, each checked against its sort key's type. Cursors are plain
    base64: a forged value OpenSearch cannot parse must be our 400, not its error (a 500)."""
    if len(after) != len(sort):
        raise BadCursor("not a position of this index")
    for value, key in zip(after, sort, strict=True):
        field = key if isinstance(key, str) else next(iter(key))
        if field == "_score":
            fits = isinstance(value, int | float) and not isinstance(value, bool)
        elif field in _DATE_SORTS:
            fits = isinstance(value, int) and not isinstance(value, bool)
        else:
            fits = isinstance(value, str)
        if not fits:
            raise BadCursor("not a position of this index")
    return list(after)


def highlight_body() -> dict[str, Any]:
    """``<mark>`` highlights of the name (whole) and the description (one fragment)."""
    return {
        "encoder": "html",
        "pre_tags": ["<mark>"],
        "post_tags": ["</mark>"],
        "fields": {
            "name": {"number_of_fragments": 0},
            "description": {"fragment_size": 160, "number_of_fragments": 1},
        },
    }


class OpenSearchIndex:
    """The :class:`~platform_api.search.index.SearchIndex` on OpenSearch."""

    def __init__(self, url: str, *, index: str = "mrbill-pocs-v1", replicas: int = 1) -> None:
        self._client = AsyncOpenSearch(hosts=[url], timeout=10, max_retries=2)
        self.index = index
        self.replicas = replicas

    async def ensure_index(self) -> None:
        """Create the index with its mapping unless it exists."""
        if not await self._client.indices.exists(index=self.index):
            await self._client.indices.create(
                index=self.index, body=index_body(replicas=self.replicas)
            )

    async def apply(self, upserts: Sequence[PocDocument], removals: Sequence[Removal]) -> None:
        actions: list[dict[str, Any]] = []
        for removal in removals:
            meta = {"_index": self.index, "_id": str(removal.poc_id)}
            actions.append(
                {
                    "delete": {
                        **meta,
                        "routing": str(removal.tenant_id),
                        "version": removal.version,
                        "version_type": "external_gte",
                    }
                }
            )
        for doc in upserts:
            meta = {"_index": self.index, "_id": str(doc.poc_id), "routing": str(doc.tenant_id)}
            actions.append({"index": {**meta, "version": doc.version, "version_type": "external"}})
            actions.append(_source(doc))
        if not actions:
            return
        check_bulk(await self._client.bulk(body=actions, refresh="wait_for"))

    def _filters(self, tenant_id: uuid.UUID, viewer_id: uuid.UUID) -> list[dict[str, Any]]:
        return [
            {"term": {"tenant_id": str(tenant_id)}},
            {
                "bool": {
                    "should": [
                        {"term": {"user_id": str(viewer_id)}},
                        {"term": {"is_public": True}},
                    ],
                    "minimum_should_match": 1,
                }
            },
        ]

    def _body(self, q: SearchQuery, text: str) -> dict[str, Any]:
        filters = self._filters(q.tenant_id, q.viewer_id)
        if q.languages:
            filters.append({"terms": {"language.key": [lang.lower() for lang in q.languages]}})
        if q.statuses:
            filters.append({"terms": {"status": list(q.statuses)}})
        if q.owner_id:
            filters.append({"term": {"user_id": str(q.owner_id)}})
        if q.tags and q.tag_mode == "any":
            filters.append({"terms": {"tags": list(q.tags)}})
        else:
            filters += [{"term": {"tags": tag}} for tag in q.tags]
        must = []
        if text:
            must.append(
                {
                    "multi_match": {
                        "query": text,
                        "type": "bool_prefix",
                        "fields": TEXT_FIELDS,
                        "fuzziness": "AUTO",
                        "operator": "and",
                    }
                }
            )
        if q.sort == "name":
            sort: list[Any] = [{"name.sort": "asc"}, {"poc_id": "asc"}]
        elif q.sort == "newest" or not text:
            sort = [{"created_at": "desc"}, {"poc_id": "asc"}]
        else:
            sort = ["_score", {"poc_id": "asc"}]
        body: dict[str, Any] = {
            "query": {"bool": {"filter": filters, "must": must or [{"match_all": {}}]}},
            "sort": sort,
            "size": q.limit + 1,
            "track_total_hits": True,
            "track_scores": True,
            "aggs": {n: {"terms": {"field": n, "size": s}} for n, s in FACETS.items()},
            "highlight": highlight_body(),
        }
        if q.after is not None:
            body["search_after"] = search_after(q.after, sort)
        return body

    async def search(self, query: SearchQuery) -> SearchPage:
        text = " ".join(terms(query.text))
        response = await self._client.search(
            index=self.index, body=self._body(query, text), routing=str(query.tenant_id)
        )
        raw = response["hits"]["hits"]
        hits = [
            Hit(
                _document(h["_source"]),
                h.get("_score") if query.sort == "relevance" and text else None,
                {k: v[0] for k, v in h.get("highlight", {}).items() if v},
            )
            for h in raw[: query.limit]
        ]
        facets = {
            name: [
                (b["key"], int(b["doc_count"])) for b in response["aggregations"][name]["buckets"]
            ]
            for name in FACETS
        }
        next_after = raw[query.limit - 1]["sort"] if len(raw) > query.limit else None
        return SearchPage(hits, int(response["hits"]["total"]["value"]), facets, next_after)

    async def suggest(
        self, tenant_id: uuid.UUID, viewer_id: uuid.UUID, prefix: str, limit: int
    ) -> Suggestions:
        text = " ".join(terms(prefix))
        if not text:
            return Suggestions([], [])
        stem = "-".join(prefix.lower().split())
        body = {
            "query": {
                "bool": {
                    "filter": self._filters(tenant_id, viewer_id),
                    "should": [
                        {
                            "multi_match": {
                                "query": text,
                                "type": "bool_prefix",
                                "fields": ["name"],
                                "fuzziness": "AUTO",
                                "operator": "and",
                            }
                        },
                        {"prefix": {"tags": stem}},
                    ],
                    "minimum_should_match": 1,
                }
            },
            "size": limit * 3,
            "_source": ["name", "tags"],
            "aggs": {"tags": {"terms": {"field": "tags", "size": 200}}},
        }
        response = await self._client.search(index=self.index, body=body, routing=str(tenant_id))
        names: list[str] = []
        for hit in response["hits"]["hits"]:
            name = hit["_source"]["name"]
            if name not in names:
                names.append(name)
        buckets = response["aggregations"]["tags"]["buckets"]
        tags = [b["key"] for b in buckets if b["key"].startswith(stem)]
        return Suggestions(names[:limit], tags[:limit])

    async def versions(self, tenant_id: uuid.UUID) -> dict[uuid.UUID, int]:
        found: dict[uuid.UUID, int] = {}
        after: list[Any] | None = None
        while True:
            body: dict[str, Any] = {
                "query": {"term": {"tenant_id": str(tenant_id)}},
                "_source": ["version"],
                "sort": [{"poc_id": "asc"}],
                "size": 1000,
            }
            if after:
                body["search_after"] = after
            hits = (await self._client.search(index=self.index, body=body, routing=str(tenant_id)))[
                "hits"
            ]["hits"]
            for hit in hits:
                found[uuid.UUID(hit["_id"])] = int(hit["_source"]["version"])
            if len(hits) < 1000:
                return found
            after = hits[-1]["sort"]

    async def ping(self) -> None:
        if not await self._client.ping():
            raise ConnectionError("OpenSearch is not reachable")

    async def drop(self) -> None:
        """Delete the index (tests)."""
        with contextlib.suppress(NotFoundError):
            await self._client.indices.delete(index=self.index)

    async def aclose(self) -> None:
        await self._client.close()
