"""The embedded index: tantivy (Lucene-like, in Rust) in this process, no server needed.

Why tantivy: it runs on any laptop with ``pip install`` (the embedded PostgreSQL from PyPI has
no pg_trgm, so PostgreSQL could not be typo-tolerant there), it has real fuzzy term queries
(Levenshtein automata), BM25 relevance, fast-field sorting and term aggregations for facets.
Files live in ``<data_dir>/pocs-v<SCHEMA_VERSION>``; ``path=None`` keeps the index in RAM.
Tantivy allows one writer per index directory: one process owns it (the search service).
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import tantivy
from tantivy import Occur, Query

from .index import (
    BadCursor,
    Hit,
    PocDocument,
    Removal,
    SearchPage,
    SearchQuery,
    Suggestions,
    fuzziness,
    highlight,
    matches,
    terms,
)

SCHEMA_VERSION = 1
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_OFFSET = 10_000
# Full-text fields and their weights.
TEXT_FIELDS = {
    "name": 3.0,
    "tags_text": 2.0,
    "language_text": 2.0,
    "frameworks_text": 1.5,
    "description": 1.0,
}
FACETS = {"language": 20, "tags": 30, "status": 10}


def _schema() -> tantivy.Schema:
    b = tantivy.SchemaBuilder()
    for name in ("poc_id", "tenant_id", "owner_id", "visibility", "language_key"):
        b.add_text_field(name, stored=True, tokenizer_name="raw")
    for name in ("status", "language", "tags", "name_sort"):
        b.add_text_field(name, stored=True, tokenizer_name="raw", fast=True)
    b.add_text_field("frameworks", stored=True, tokenizer_name="raw")
    b.add_text_field("repository_url", stored=True, tokenizer_name="raw", index_option="basic")
    for name in TEXT_FIELDS:
        b.add_text_field(name, stored=name in ("name", "description"))
    # Times as microseconds since the epoch: tantivy's date fields keep whole seconds only.
    for name in ("created_us", "updated_us", "version"):
        b.add_integer_field(name, stored=True, indexed=True, fast=True)
    return b.build()


def _document(doc: PocDocument) -> tantivy.Document:
    d = tantivy.Document()
    for name, value in (
        ("poc_id", str(doc.poc_id)),
        ("tenant_id", str(doc.tenant_id)),
        ("owner_id", str(doc.owner_id)),
        ("visibility", doc.visibility),
        ("status", doc.status),
        ("name", doc.name),
        ("name_sort", doc.name.lower()),
        ("description", doc.description),
        ("tags_text", " ".join(doc.tags)),
        ("frameworks_text", " ".join(doc.frameworks)),
    ):
        d.add_text(name, value)
    for tag in doc.tags:
        d.add_text("tags", tag)
    for framework in doc.frameworks:
        d.add_text("frameworks", framework)
    if doc.language:
        d.add_text("language", doc.language)
        d.add_text("language_key", doc.language.lower())
        d.add_text("language_text", doc.language)
    if doc.repository_url:
        d.add_text("repository_url", doc.repository_url)
    d.add_integer("created_us", _micros(doc.created_at))
    d.add_integer("updated_us", _micros(doc.updated_at))
    d.add_integer("version", doc.version)
    return d


def _micros(value: datetime) -> int:
    return (value - EPOCH) // timedelta(microseconds=1)


def _from_stored(data: dict[str, list[Any]]) -> PocDocument:
    def one(name: str) -> Any:
        values = data.get(name) or [None]
        return values[0]

    def when(name: str) -> datetime:
        return EPOCH + timedelta(microseconds=int(one(name)))

    return PocDocument(
        tenant_id=uuid.UUID(one("tenant_id")),
        poc_id=uuid.UUID(one("poc_id")),
        owner_id=uuid.UUID(one("owner_id")),
        name=one("name"),
        description=one("description") or "",
        language=one("language"),
        tags=tuple(data.get("tags", ())),
        frameworks=tuple(data.get("frameworks", ())),
        status=one("status"),
        visibility=one("visibility"),
        repository_url=one("repository_url"),
        created_at=when("created_us"),
        updated_at=when("updated_us"),
        version=int(one("version")),
    )


def term(schema: tantivy.Schema, field: str, value: str) -> Query:
    return Query.term_query(schema, field, value)


def any_of(schema: tantivy.Schema, field: str, values: Sequence[str]) -> Query:
    return Query.boolean_query([(Occur.Should, term(schema, field, v)) for v in values])


def text_clauses(
    schema: tantivy.Schema, words: list[str], fields: dict[str, float]
) -> list[tuple[Occur, Query]]:
    """Every term must match some field: exactly (boosted), with typos, or as a prefix."""
    clauses = []
    for i, word in enumerate(words):
        options: list[tuple[Occur, Query]] = []
        for name, boost in fields.items():
            exact = Query.boost_query(term(schema, name, word), boost * 2)
            options.append((Occur.Should, exact))
            if fuzziness(word):
                fuzzy = Query.fuzzy_term_query(schema, name, word, fuzziness(word), True)
                options.append((Occur.Should, Query.boost_query(fuzzy, boost)))
            if i == len(words) - 1 and len(word) >= 2:
                prefix = Query.fuzzy_term_query(schema, name, word, 0, True, True)
                options.append((Occur.Should, Query.boost_query(prefix, boost)))
        clauses.append((Occur.Must, Query.boolean_query(options)))
    return clauses


def tag_suggestions(
    searcher: tantivy.Searcher, visible: Query, prefix: str, limit: int
) -> list[str]:
    """Tags of the visible documents (facet counts) that start like ``prefix`` (typos too)."""
    buckets = searcher.aggregate(visible, {"tags": {"terms": {"field": "tags", "size": 1000}}})
    stem = "-".join(prefix.lower().split())
    return [
        b["key"]
        for b in buckets["tags"]["buckets"]
        if b["key"].startswith(stem) or matches(b["key"][: len(stem)], stem, prefix=False)
    ][:limit]


def page_offset(after: list[Any] | None) -> int:
    """The offset a page position of these indexes stands for; BadCursor if it is not one."""
    if after is None:
        return 0
    if len(after) != 1 or not isinstance(after[0], int) or isinstance(after[0], bool):
        raise BadCursor("not a position of this index")
    if not 0 <= after[0] <= MAX_OFFSET:
        raise BadCursor("position out of range")
    return after[0]


class TantivyIndex:
    """The :class:`~platform_api.search.index.SearchIndex` on tantivy (blocking calls run in
    worker threads; writes are serialised by a lock)."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.schema = _schema()
        if path is None:
            self._index = tantivy.Index(self.schema)
        else:
            directory = Path(path) / f"pocs-v{SCHEMA_VERSION}"
            directory.mkdir(parents=True, exist_ok=True)
            self._index = tantivy.Index(self.schema, path=str(directory), reuse=True)
        self._writer = self._index.writer(heap_size=50_000_000, num_threads=1)
        self._lock = threading.Lock()

    # --- writes ---------------------------------------------------------------------------

    async def apply(self, upserts: Sequence[PocDocument], removals: Sequence[Removal]) -> None:
        if upserts or removals:
            await asyncio.to_thread(self._apply, upserts, removals)

    def _apply(self, upserts: Sequence[PocDocument], removals: Sequence[Removal]) -> None:
        with self._lock:
            try:
                for removal in removals:
                    self._writer.delete_documents_by_term("poc_id", str(removal.poc_id))
                for doc in upserts:
                    self._writer.delete_documents_by_term("poc_id", str(doc.poc_id))
                    self._writer.add_document(_document(doc))
                self._writer.commit()
            except BaseException:
                self._writer.rollback()  # nothing half-done rides along with the next commit
                raise
            self._index.reload()

    # --- queries --------------------------------------------------------------------------

    def _term(self, field: str, value: str) -> Query:
        return term(self.schema, field, value)

    def _any_of(self, field: str, values: Sequence[str]) -> Query:
        return any_of(self.schema, field, values)

    def _visible(self, tenant_id: uuid.UUID, viewer_id: uuid.UUID) -> list[tuple[Occur, Query]]:
        """Tenant from the token, and visibility: shared with the tenant, or the viewer's own."""
        visible = Query.boolean_query(
            [
                (Occur.Should, self._term("visibility", "tenant")),
                (Occur.Should, self._term("owner_id", str(viewer_id))),
            ]
        )
        return [
            (Occur.Must, Query.const_score_query(self._term("tenant_id", str(tenant_id)), 0.0)),
            (Occur.Must, Query.const_score_query(visible, 0.0)),
        ]

    def _text(self, words: list[str], fields: dict[str, float]) -> list[tuple[Occur, Query]]:
        return text_clauses(self.schema, words, fields)

    def _query(self, q: SearchQuery, words: list[str]) -> Query:
        clauses = self._visible(q.tenant_id, q.viewer_id) + self._text(words, TEXT_FIELDS)
        filters: list[Query] = []
        if q.languages:
            filters.append(self._any_of("language_key", [lang.lower() for lang in q.languages]))
        if q.statuses:
            filters.append(self._any_of("status", q.statuses))
        if q.owner_id:
            filters.append(self._term("owner_id", str(q.owner_id)))
        if q.tags and q.tag_mode == "any":
            filters.append(self._any_of("tags", q.tags))
        elif q.tags:
            filters += [self._term("tags", tag) for tag in q.tags]
        clauses += [(Occur.Must, Query.const_score_query(f, 0.0)) for f in filters]
        return Query.boolean_query(clauses)

    async def search(self, query: SearchQuery) -> SearchPage:
        return await asyncio.to_thread(self._search, query)

    def _search(self, q: SearchQuery) -> SearchPage:
        offset = page_offset(q.after)
        words = terms(q.text)
        query = self._query(q, words)
        searcher = self._index.searcher()
        order: dict[str, Any] = {}
        if q.sort == "name":
            order = {"order_by_field": "name_sort", "order": tantivy.Order.Asc}
        elif q.sort == "newest" or not words:
            order = {"order_by_field": "created_us", "order": tantivy.Order.Desc}
        result = searcher.search(query, limit=q.limit + 1, offset=offset, count=True, **order)
        hits = []
        for key, address in result.hits[: q.limit]:
            doc = _from_stored(searcher.doc(address).to_dict())
            marks = {
                name: text
                for name, text in (
                    ("name", highlight(doc.name, words)),
                    ("description", highlight(doc.description, words)),
                )
                if text
            }
            score = float(key) if not order else None
            hits.append(Hit(doc, score, marks))
        aggregations = searcher.aggregate(
            query, {name: {"terms": {"field": name, "size": size}} for name, size in FACETS.items()}
        )
        facets = {
            name: [(b["key"], int(b["doc_count"])) for b in aggregations[name]["buckets"]]
            for name in FACETS
        }
        more = len(result.hits) > q.limit and offset + q.limit <= MAX_OFFSET
        return SearchPage(
            hits,
            int(getattr(result, "count", 0) or 0),
            facets,
            [offset + q.limit] if more else None,
        )

    async def suggest(
        self, tenant_id: uuid.UUID, viewer_id: uuid.UUID, prefix: str, limit: int
    ) -> Suggestions:
        return await asyncio.to_thread(self._suggest, tenant_id, viewer_id, prefix, limit)

    def _suggest(
        self, tenant_id: uuid.UUID, viewer_id: uuid.UUID, prefix: str, limit: int
    ) -> Suggestions:
        words = terms(prefix)
        if not words:
            return Suggestions([], [])
        searcher = self._index.searcher()
        visible = self._visible(tenant_id, viewer_id)
        by_name = Query.boolean_query(visible + self._text(words, {"name": 1.0}))
        names: list[str] = []
        for _, address in searcher.search(by_name, limit=limit * 3).hits:
            name = searcher.doc(address).to_dict()["name"][0]
            if name not in names:
                names.append(name)
        tags = tag_suggestions(searcher, Query.boolean_query(visible), prefix, limit)
        return Suggestions(names[:limit], tags)

    async def versions(self, tenant_id: uuid.UUID) -> dict[uuid.UUID, int]:
        return await asyncio.to_thread(self._versions, tenant_id)

    def _versions(self, tenant_id: uuid.UUID) -> dict[uuid.UUID, int]:
        searcher = self._index.searcher()
        query = self._term("tenant_id", str(tenant_id))
        hits = searcher.search(query, limit=max(1, searcher.num_docs)).hits
        found = {}
        for _, address in hits:
            data = searcher.doc(address).to_dict()
            found[uuid.UUID(data["poc_id"][0])] = int(data["version"][0])
        return found

    async def ping(self) -> None:
        self._index.searcher()

    async def aclose(self) -> None:
        await asyncio.to_thread(self._close)

    def _close(self) -> None:
        with self._lock:
            self._writer.wait_merging_threads()
