"""The production dojo index on Amazon OpenSearch Service (opensearch-py, async client).

Mapping: the design brief's "Dojo Search Index" (``dojo_id``, ``creator_id``, ``tenant_id``,
``name`` text + keyword, ``description``, ``language``/``status``/``tags`` keywords,
``is_private``, the four dates, ``participant_count``; 2 shards, 1 replica) plus what the API
needs: ``participant_ids`` (who may see a private dojo), ``format``, ``start_at`` (sorting),
``version``, a lower-cased sort key for names and language, and text sub-fields so that tags
and languages are typo-tolerant too. Documents are routed by tenant and written with
external versioning, as POCs are (``index_opensearch``).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from opensearchpy import AsyncOpenSearch, NotFoundError

from .index import Suggestions, terms
from .index_dojos import DOJO_FACETS, DojoDocument, DojoHit, DojoPage, DojoQuery, DojoRemoval
from .index_opensearch import check_bulk, highlight_body, search_after

TEXT_FIELDS = ["name^3", "tags.text^2", "language.text^2", "description"]
_TEXT_SUB = {"text": {"type": "text", "analyzer": "standard"}}
DATES = ("scheduled_start_time", "created_at", "started_at", "ended_at")


def dojo_index_body(shards: int = 2, replicas: int = 1) -> dict[str, Any]:
    """Settings and mappings of the dojo index (the brief's, extended)."""
    return {
        "settings": {
            "index": {"number_of_shards": shards, "number_of_replicas": replicas},
            "analysis": {"normalizer": {"lower": {"type": "custom", "filter": ["lowercase"]}}},
        },
        "mappings": {
            "dynamic": "strict",
            "properties": {
                "dojo_id": {"type": "keyword"},
                "creator_id": {"type": "keyword"},
                "tenant_id": {"type": "keyword"},
                "name": {
                    "type": "text",
                    "fields": {
                        "keyword": {"type": "keyword"},
                        "sort": {"type": "keyword", "normalizer": "lower"},
                    },
                },
                "description": {"type": "text"},
                "language": {
                    "type": "keyword",
                    "fields": {**_TEXT_SUB, "key": {"type": "keyword", "normalizer": "lower"}},
                },
                "status": {"type": "keyword"},
                "is_private": {"type": "boolean"},
                "scheduled_start_time": {"type": "date"},
                "created_at": {"type": "date"},
                "started_at": {"type": "date"},
                "ended_at": {"type": "date"},
                "participant_count": {"type": "integer"},
                "tags": {"type": "keyword", "fields": _TEXT_SUB},
                "participant_ids": {"type": "keyword"},
                "format": {"type": "keyword"},
                "start_at": {"type": "date"},
                "version": {"type": "long"},
            },
        },
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _source(doc: DojoDocument) -> dict[str, Any]:
    source: dict[str, Any] = {
        "dojo_id": str(doc.dojo_id),
        "creator_id": str(doc.creator_id),
        "tenant_id": str(doc.tenant_id),
        "name": doc.name,
        "description": doc.description,
        "language": doc.language,
        "status": doc.status,
        "is_private": doc.is_private,
        "participant_count": doc.participant_count,
        "tags": list(doc.tags),
        "participant_ids": [str(u) for u in doc.participant_ids],
        "format": doc.format,
        "start_at": _iso(doc.started_at or doc.scheduled_start_time or doc.created_at),
        "version": doc.version,
    }
    return source | {name: _iso(getattr(doc, name)) for name in DATES}


def _document(source: dict[str, Any]) -> DojoDocument:
    def when(name: str) -> datetime | None:
        value = source.get(name)
        return datetime.fromisoformat(value) if value else None

    return DojoDocument(
        tenant_id=uuid.UUID(source["tenant_id"]),
        dojo_id=uuid.UUID(source["dojo_id"]),
        creator_id=uuid.UUID(source["creator_id"]),
        name=source["name"],
        description=source.get("description") or "",
        language=source["language"],
        format=source.get("format") or "",
        status=source["status"],
        is_private=bool(source["is_private"]),
        tags=tuple(source.get("tags") or ()),
        participant_ids=tuple(uuid.UUID(u) for u in source.get("participant_ids") or ()),
        participant_count=int(source["participant_count"]),
        scheduled_start_time=when("scheduled_start_time"),
        created_at=datetime.fromisoformat(source["created_at"]),
        started_at=when("started_at"),
        ended_at=when("ended_at"),
        version=int(source["version"]),
    )


class OpenSearchDojoIndex:
    """The :class:`~platform_api.search.index_dojos.DojoIndex` on OpenSearch."""

    def __init__(self, url: str, *, index: str = "mrbill-dojos-v1", replicas: int = 1) -> None:
        self._client = AsyncOpenSearch(hosts=[url], timeout=10, max_retries=2)
        self.index = index
        self.replicas = replicas

    async def ensure_index(self) -> None:
        """Create the index with its mapping unless it exists."""
        if not await self._client.indices.exists(index=self.index):
            await self._client.indices.create(
                index=self.index, body=dojo_index_body(replicas=self.replicas)
            )

    async def apply(self, upserts: Sequence[DojoDocument], removals: Sequence[DojoRemoval]) -> None:
        actions: list[dict[str, Any]] = []
        for removal in removals:
            meta = {"_index": self.index, "_id": str(removal.dojo_id)}
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
            meta = {"_index": self.index, "_id": str(doc.dojo_id), "routing": str(doc.tenant_id)}
            actions.append({"index": {**meta, "version": doc.version, "version_type": "external"}})
            actions.append(_source(doc))
        if actions:
            check_bulk(await self._client.bulk(body=actions, refresh="wait_for"))

    def _filters(
        self, tenant_id: uuid.UUID, viewer_id: uuid.UUID, sees_private: bool
    ) -> list[dict[str, Any]]:
        """The tenant from the token; private dojos only for their people (or admins)."""
        filters: list[dict[str, Any]] = [{"term": {"tenant_id": str(tenant_id)}}]
        if not sees_private:
            filters.append(
                {
                    "bool": {
                        "should": [
                            {"term": {"is_private": False}},
                            {"term": {"creator_id": str(viewer_id)}},
                            {"term": {"participant_ids": str(viewer_id)}},
                        ],
                        "minimum_should_match": 1,
                    }
                }
            )
        return filters

    def _body(self, q: DojoQuery, text: str) -> dict[str, Any]:
        filters = self._filters(q.tenant_id, q.viewer_id, q.sees_private)
        if q.languages:
            filters.append({"terms": {"language.key": [x.lower() for x in q.languages]}})
        if q.statuses:
            filters.append({"terms": {"status": list(q.statuses)}})
        filters += [{"term": {"tags": tag}} for tag in q.tags]
        must_not = [] if q.statuses else [{"term": {"status": "archived"}}]
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
            sort: list[Any] = [{"name.sort": "asc"}, {"dojo_id": "asc"}]
        elif q.sort == "start":
            sort = [{"start_at": "asc"}, {"dojo_id": "asc"}]
        elif q.sort == "newest" or not text:
            sort = [{"created_at": "desc"}, {"dojo_id": "asc"}]
        else:
            sort = ["_score", {"dojo_id": "asc"}]
        query = {"filter": filters, "must": must or [{"match_all": {}}], "must_not": must_not}
        body: dict[str, Any] = {
            "query": {"bool": query},
            "sort": sort,
            "size": q.limit + 1,
            "track_total_hits": True,
            "track_scores": True,
            "aggs": {n: {"terms": {"field": n, "size": s}} for n, s in DOJO_FACETS.items()},
            "highlight": highlight_body(),
        }
        if q.after is not None:
            body["search_after"] = search_after(q.after, sort)
        return body

    async def search(self, query: DojoQuery) -> DojoPage:
        text = " ".join(terms(query.text))
        response = await self._client.search(
            index=self.index, body=self._body(query, text), routing=str(query.tenant_id)
        )
        raw = response["hits"]["hits"]
        hits = [
            DojoHit(
                _document(h["_source"]),
                h.get("_score") if query.sort == "relevance" and text else None,
                {k: v[0] for k, v in h.get("highlight", {}).items() if v},
            )
            for h in raw[: query.limit]
        ]
        aggregations = response["aggregations"]
        facets = {
            name: [(b["key"], int(b["doc_count"])) for b in aggregations[name]["buckets"]]
            for name in DOJO_FACETS
        }
        next_after = raw[query.limit - 1]["sort"] if len(raw) > query.limit else None
        return DojoPage(hits, int(response["hits"]["total"]["value"]), facets, next_after)

    async def suggest(
        self,
        tenant_id: uuid.UUID,
        viewer_id: uuid.UUID,
        sees_private: bool,
        prefix: str,
        limit: int,
    ) -> Suggestions:
        text = " ".join(terms(prefix))
        if not text:
            return Suggestions([], [])
        stem = "-".join(prefix.lower().split())
        name_match = {
            "multi_match": {
                "query": text,
                "type": "bool_prefix",
                "fields": ["name"],
                "fuzziness": "AUTO",
                "operator": "and",
            }
        }
        body = {
            "query": {
                "bool": {
                    "filter": self._filters(tenant_id, viewer_id, sees_private),
                    "must_not": [{"term": {"status": "archived"}}],
                    "should": [name_match, {"prefix": {"tags": stem}}],
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
                "sort": [{"dojo_id": "asc"}],
                "size": 1000,
            }
            if after:
                body["search_after"] = after
            response = await self._client.search(
                index=self.index, body=body, routing=str(tenant_id)
            )
            hits = response["hits"]["hits"]
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
