"""What the OpenSearch indexes of POCs and dojos share (opensearch-py, async client).

One index per document kind, routed by tenant (one shard per tenant query) and written with
external versioning, so a late, older event can never overwrite a newer one even with many
consumers. Each kind (``index_opensearch``, ``index_dojos_opensearch``) brings its mapping,
its ``_source`` conversion and who may see what; the writes, paging, facets, suggestions and
version listings are the same for both and live here.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Generic, TypeVar

from opensearchpy import AsyncOpenSearch, NotFoundError

from .index import BadCursor, Hit, Indexed, Paged, SearchPage, Suggestions, terms

_DATE_SORTS = frozenset({"created_at", "updated_at", "start_at"})
TEXT_SUB = {"text": {"type": "text", "analyzer": "standard"}}
LOWER = {"lower": {"type": "custom", "filter": ["lowercase"]}}


D = TypeVar("D", bound=Indexed)
R = TypeVar("R", bound=Indexed)
Q = TypeVar("Q", bound=Paged)


def check_bulk(response: dict[str, Any]) -> None:
    """Raise if a bulk write failed for another reason than a newer version being there
    (409) or deleting what is not there (404)."""
    for item in response.get("items", []):
        result = next(iter(item.values()))
        if result.get("status", 200) >= 300 and result.get("status") not in (404, 409):
            raise RuntimeError(f"OpenSearch refused a write: {result.get('error')}")


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


def text_match(text: str, fields: list[str]) -> dict[str, Any]:
    """Every term in some of ``fields``, typos forgiven, the last one also as a prefix."""
    return {
        "multi_match": {
            "query": text,
            "type": "bool_prefix",
            "fields": fields,
            "fuzziness": "AUTO",
            "operator": "and",
        }
    }


class OpenSearchAdapter(Generic[D, R, Q]):
    """The index port on OpenSearch for one document kind (see the subclasses)."""

    id_field: ClassVar[str]
    facets: ClassVar[dict[str, int]]
    default_index: ClassVar[str]
    # Sort name -> sort key; without text, or sorted by ``newest``, the newest come first.
    sorts: ClassVar[dict[str, dict[str, str]]] = {
        "name": {"name.sort": "asc"},
        "newest": {"created_at": "desc"},
    }
    # The kind's documents to and from their ``_source`` (staticmethods).
    to_source: Callable[[D], dict[str, Any]]
    from_source: Callable[[dict[str, Any]], D]

    def __init__(self, url: str, *, index: str | None = None, replicas: int = 1) -> None:
        self._client = AsyncOpenSearch(hosts=[url], timeout=10, max_retries=2)
        self.index = index or self.default_index
        self.replicas = replicas

    def index_body(self) -> dict[str, Any]:
        """Settings and mappings of this kind's index."""
        raise NotImplementedError

    async def ensure_index(self) -> None:
        """Create the index with its mapping unless it exists."""
        if not await self._client.indices.exists(index=self.index):
            await self._client.indices.create(index=self.index, body=self.index_body())

    async def apply(self, upserts: Sequence[D], removals: Sequence[R]) -> None:
        actions: list[dict[str, Any]] = []
        for removal in removals:
            meta = self._meta(removal)
            actions.append({"delete": {**meta, "version_type": "external_gte"}})
        for doc in upserts:
            actions.append({"index": {**self._meta(doc), "version_type": "external"}})
            actions.append(self.to_source(doc))
        if actions:
            check_bulk(await self._client.bulk(body=actions, refresh="wait_for"))

    def _meta(self, item: Indexed) -> dict[str, Any]:
        return {
            "_index": self.index,
            "_id": str(item.doc_id),
            "routing": str(item.tenant_id),
            "version": item.version,
        }

    def search_body(
        self, q: Q, text: str, query: dict[str, Any], fields: list[str]
    ) -> dict[str, Any]:
        """A page of ``query`` (a bool query of filters) matching ``text`` in ``fields``,
        with totals, facets, highlights and the cursor checked against the sort."""
        query["must"] = [text_match(text, fields)] if text else [{"match_all": {}}]
        named = self.sorts.get(q.sort) or (None if text else self.sorts["newest"])
        sort: list[Any] = [dict(named) if named else "_score", {self.id_field: "asc"}]
        body: dict[str, Any] = {
            "query": {"bool": query},
            "sort": sort,
            "size": q.limit + 1,
            "track_total_hits": True,
            "track_scores": True,
            "aggs": {n: {"terms": {"field": n, "size": s}} for n, s in self.facets.items()},
            "highlight": highlight_body(),
        }
        if q.after is not None:
            body["search_after"] = search_after(q.after, sort)
        return body

    def build_body(self, q: Q, text: str) -> dict[str, Any]:
        """The search body of ``q`` (``text``: its terms), from :meth:`search_body`."""
        raise NotImplementedError

    async def search(self, query: Q) -> SearchPage[D]:
        text = " ".join(terms(query.text))
        body = self.build_body(query, text)
        response = await self._client.search(
            index=self.index, body=body, routing=str(query.tenant_id)
        )
        raw = response["hits"]["hits"]
        hits = [
            Hit(
                self.from_source(h["_source"]),
                h.get("_score") if query.sort == "relevance" and text else None,
                {k: v[0] for k, v in h.get("highlight", {}).items() if v},
            )
            for h in raw[: query.limit]
        ]
        aggregations = response["aggregations"]
        facets = {
            name: [(b["key"], int(b["doc_count"])) for b in aggregations[name]["buckets"]]
            for name in self.facets
        }
        next_after = raw[query.limit - 1]["sort"] if len(raw) > query.limit else None
        return SearchPage(hits, int(response["hits"]["total"]["value"]), facets, next_after)

    async def suggestions(
        self, tenant_id: uuid.UUID, visible: dict[str, Any], prefix: str, limit: int
    ) -> Suggestions:
        """Names and tags of the ``visible`` documents (a bool query) starting like ``prefix``."""
        text = " ".join(terms(prefix))
        if not text:
            return Suggestions([], [])
        stem = "-".join(prefix.lower().split())
        should = [text_match(text, ["name"]), {"prefix": {"tags": stem}}]
        body = {
            "query": {"bool": {**visible, "should": should, "minimum_should_match": 1}},
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
                "sort": [{self.id_field: "asc"}],
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

    async def drop_tenant(self, tenant_id: uuid.UUID) -> None:
        """Delete by query; documents it could not delete (failures, a version conflict with
        a write at that moment, a timeout) raise, so that the erasure is tried again."""
        answer = await self._client.delete_by_query(
            index=self.index,
            body={"query": {"term": {"tenant_id": str(tenant_id)}}},
            routing=str(tenant_id),
            refresh=True,
            conflicts="proceed",
        )
        if answer.get("failures") or answer.get("version_conflicts") or answer.get("timed_out"):
            raise ConnectionError(
                f"OpenSearch kept documents of {tenant_id}: {answer.get('failures')!r},"
                f" {answer.get('version_conflicts')} version conflicts"
            )

    async def ping(self) -> None:
        if not await self._client.ping():
            raise ConnectionError("OpenSearch is not reachable")

    async def drop(self) -> None:
        """Delete the index (tests)."""
        with contextlib.suppress(NotFoundError):
            await self._client.indices.delete(index=self.index)

    async def aclose(self) -> None:
        await self._client.close()
