"""The embedded dojo index: tantivy, beside the POC index (``<data_dir>/dojos-v<N>``).

Same engine, typo rule and paging as ``index_tantivy``. Who may see a document is indexed
as its ``audience``: ``tenant`` for a public dojo, else ``user:<id>`` for its creator and
each active participant; a query matches the viewer's audience terms (tenant admins skip it,
as the dojo service lets them see every dojo of their tenant).
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import tantivy
from tantivy import Occur, Query

from .index import Suggestions, highlight, terms
from .index_dojos import DOJO_FACETS, DojoDocument, DojoHit, DojoPage, DojoQuery, DojoRemoval
from .index_tantivy import (
    EPOCH,
    MAX_OFFSET,
    any_of,
    page_offset,
    tag_suggestions,
    term,
    text_clauses,
)

SCHEMA_VERSION = 1
TEXT_FIELDS = {"name": 3.0, "tags_text": 2.0, "language_text": 2.0, "description": 1.0}
DATES = ("scheduled_start_time", "started_at", "ended_at")


def _schema() -> tantivy.Schema:
    b = tantivy.SchemaBuilder()
    for name in ("dojo_id", "tenant_id", "creator_id", "format", "language_key", "participants"):
        b.add_text_field(name, stored=True, tokenizer_name="raw")
    b.add_text_field("audience", stored=False, tokenizer_name="raw")
    for name in ("status", "language", "tags", "name_sort"):
        b.add_text_field(name, stored=True, tokenizer_name="raw", fast=True)
    for name in TEXT_FIELDS:
        b.add_text_field(name, stored=name in ("name", "description"))
    # Times as microseconds since the epoch (tantivy's dates keep whole seconds only).
    for name in ("created_us", "start_us", "version", "participant_count", "private"):
        b.add_integer_field(name, stored=True, indexed=True, fast=True)
    for name in DATES:
        b.add_integer_field(f"{name}_us", stored=True)
    return b.build()


def _micros(value: datetime) -> int:
    return (value - EPOCH) // timedelta(microseconds=1)


def audience(doc: DojoDocument) -> list[str]:
    if not doc.is_private:
        return ["tenant"]
    people = {doc.creator_id, *doc.participant_ids}
    return sorted(f"user:{u}" for u in people)


def _document(doc: DojoDocument) -> tantivy.Document:
    d = tantivy.Document()
    for name, value in (
        ("dojo_id", str(doc.dojo_id)),
        ("tenant_id", str(doc.tenant_id)),
        ("creator_id", str(doc.creator_id)),
        ("format", doc.format),
        ("status", doc.status),
        ("language", doc.language),
        ("language_key", doc.language.lower()),
        ("language_text", doc.language),
        ("name", doc.name),
        ("name_sort", doc.name.lower()),
        ("description", doc.description),
        ("tags_text", " ".join(doc.tags)),
    ):
        d.add_text(name, value)
    for tag in doc.tags:
        d.add_text("tags", tag)
    for person in doc.participant_ids:
        d.add_text("participants", str(person))
    for who in audience(doc):
        d.add_text("audience", who)
    start = doc.started_at or doc.scheduled_start_time or doc.created_at
    for name, number in (
        ("created_us", _micros(doc.created_at)),
        ("start_us", _micros(start)),
        ("version", doc.version),
        ("participant_count", doc.participant_count),
        ("private", int(doc.is_private)),
    ):
        d.add_integer(name, number)
    for name in DATES:
        value = getattr(doc, name)
        if value is not None:
            d.add_integer(f"{name}_us", _micros(value))
    return d


def _from_stored(data: dict[str, list[Any]]) -> DojoDocument:
    def one(name: str) -> Any:
        return (data.get(name) or [None])[0]

    def when(name: str) -> datetime | None:
        value = one(name)
        return None if value is None else EPOCH + timedelta(microseconds=int(value))

    return DojoDocument(
        tenant_id=uuid.UUID(one("tenant_id")),
        dojo_id=uuid.UUID(one("dojo_id")),
        creator_id=uuid.UUID(one("creator_id")),
        name=one("name"),
        description=one("description") or "",
        language=one("language"),
        format=one("format") or "",
        status=one("status"),
        is_private=bool(one("private")),
        tags=tuple(data.get("tags", ())),
        participant_ids=tuple(uuid.UUID(u) for u in data.get("participants", ())),
        participant_count=int(one("participant_count")),
        scheduled_start_time=when("scheduled_start_time_us"),
        created_at=when("created_us"),  # type: ignore[arg-type]
        started_at=when("started_at_us"),
        ended_at=when("ended_at_us"),
        version=int(one("version")),
    )


class TantivyDojoIndex:
    """The :class:`~platform_api.search.index_dojos.DojoIndex` on tantivy (blocking calls in
    worker threads; writes serialised by a lock)."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.schema = _schema()
        if path is None:
            self._index = tantivy.Index(self.schema)
        else:
            directory = Path(path) / f"dojos-v{SCHEMA_VERSION}"
            directory.mkdir(parents=True, exist_ok=True)
            self._index = tantivy.Index(self.schema, path=str(directory), reuse=True)
        self._writer = self._index.writer(heap_size=15_000_000, num_threads=1)
        self._lock = threading.Lock()

    async def apply(self, upserts: Sequence[DojoDocument], removals: Sequence[DojoRemoval]) -> None:
        if upserts or removals:
            await asyncio.to_thread(self._apply, upserts, removals)

    def _apply(self, upserts: Sequence[DojoDocument], removals: Sequence[DojoRemoval]) -> None:
        with self._lock:
            try:
                for removal in removals:
                    self._writer.delete_documents_by_term("dojo_id", str(removal.dojo_id))
                for doc in upserts:
                    self._writer.delete_documents_by_term("dojo_id", str(doc.dojo_id))
                    self._writer.add_document(_document(doc))
                self._writer.commit()
            except BaseException:
                self._writer.rollback()  # nothing half-done rides along with the next commit
                raise
            self._index.reload()

    def _visible(
        self, tenant_id: uuid.UUID, viewer_id: uuid.UUID, sees_private: bool
    ) -> list[tuple[Occur, Query]]:
        """The tenant from the token; private dojos only for their people (or admins)."""
        clauses = [
            (
                Occur.Must,
                Query.const_score_query(term(self.schema, "tenant_id", str(tenant_id)), 0.0),
            )
        ]
        if not sees_private:
            mine = any_of(self.schema, "audience", ["tenant", f"user:{viewer_id}"])
            clauses.append((Occur.Must, Query.const_score_query(mine, 0.0)))
        return clauses

    def _query(self, q: DojoQuery, words: list[str]) -> Query:
        clauses = self._visible(q.tenant_id, q.viewer_id, q.sees_private)
        clauses += text_clauses(self.schema, words, TEXT_FIELDS)
        filters: list[Query] = []
        if q.languages:
            filters.append(any_of(self.schema, "language_key", [x.lower() for x in q.languages]))
        if q.statuses:
            filters.append(any_of(self.schema, "status", q.statuses))
        else:
            clauses.append((Occur.MustNot, term(self.schema, "status", "archived")))
        filters += [term(self.schema, "tags", tag) for tag in q.tags]
        clauses += [(Occur.Must, Query.const_score_query(f, 0.0)) for f in filters]
        return Query.boolean_query(clauses)

    async def search(self, query: DojoQuery) -> DojoPage:
        return await asyncio.to_thread(self._search, query)

    def _search(self, q: DojoQuery) -> DojoPage:
        offset = page_offset(q.after)
        words = terms(q.text)
        query = self._query(q, words)
        searcher = self._index.searcher()
        order: dict[str, Any] = {}
        if q.sort == "name":
            order = {"order_by_field": "name_sort", "order": tantivy.Order.Asc}
        elif q.sort == "start":
            order = {"order_by_field": "start_us", "order": tantivy.Order.Asc}
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
            hits.append(DojoHit(doc, float(key) if not order else None, marks))
        aggregations = searcher.aggregate(
            query, {n: {"terms": {"field": n, "size": s}} for n, s in DOJO_FACETS.items()}
        )
        facets = {
            name: [(b["key"], int(b["doc_count"])) for b in aggregations[name]["buckets"]]
            for name in DOJO_FACETS
        }
        more = len(result.hits) > q.limit and offset + q.limit <= MAX_OFFSET
        total = int(getattr(result, "count", 0) or 0)
        return DojoPage(hits, total, facets, [offset + q.limit] if more else None)

    async def suggest(
        self,
        tenant_id: uuid.UUID,
        viewer_id: uuid.UUID,
        sees_private: bool,
        prefix: str,
        limit: int,
    ) -> Suggestions:
        return await asyncio.to_thread(
            self._suggest, tenant_id, viewer_id, sees_private, prefix, limit
        )

    def _suggest(
        self,
        tenant_id: uuid.UUID,
        viewer_id: uuid.UUID,
        sees_private: bool,
        prefix: str,
        limit: int,
    ) -> Suggestions:
        words = terms(prefix)
        if not words:
            return Suggestions([], [])
        searcher = self._index.searcher()
        visible = self._visible(tenant_id, viewer_id, sees_private)
        visible.append((Occur.MustNot, term(self.schema, "status", "archived")))
        by_name = Query.boolean_query(visible + text_clauses(self.schema, words, {"name": 1.0}))
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
        query = term(self.schema, "tenant_id", str(tenant_id))
        hits = searcher.search(query, limit=max(1, searcher.num_docs)).hits
        found = {}
        for _, address in hits:
            data = searcher.doc(address).to_dict()
            found[uuid.UUID(data["dojo_id"][0])] = int(data["version"][0])
        return found

    async def ping(self) -> None:
        self._index.searcher()

    async def aclose(self) -> None:
        await asyncio.to_thread(self._close)

    def _close(self) -> None:
        with self._lock:
            self._writer.wait_merging_threads()
