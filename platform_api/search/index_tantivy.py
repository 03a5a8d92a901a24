"""The embedded index: tantivy (Lucene-like, in Rust) in this process, no server needed.

Why tantivy: it runs on any laptop with ``pip install`` (the embedded PostgreSQL from PyPI has
no pg_trgm, so PostgreSQL could not be typo-tolerant there), it has real fuzzy term queries
(Levenshtein automata), BM25 relevance, fast-field sorting and term aggregations for facets.
Files live in ``<data_dir>/pocs-v2``; ``path=None`` keeps the index in RAM. Tantivy allows
one writer per index directory: one process owns it (the search service). What the POC and
dojo indexes share is in ``tantivy_base``.
"""

from __future__ import annotations

import functools
import uuid
from typing import Any

import tantivy
from tantivy import Occur, Query

from .index import PocDocument, Removal, SearchQuery, Suggestions, fold
from .tantivy_base import (
    FOLDED,
    Clauses,
    TantivyAdapter,
    filtered,
    first,
    from_micros,
    micros,
    text_clauses,
)

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
        b.add_text_field(name, stored=name in ("name", "description"), tokenizer_name=FOLDED)
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
        ("name_sort", fold(doc.name)),
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
    d.add_integer("created_us", micros(doc.created_at))
    d.add_integer("updated_us", micros(doc.updated_at))
    d.add_integer("version", doc.version)
    return d


def _from_stored(data: dict[str, list[Any]]) -> PocDocument:
    def one(name: str) -> Any:
        return first(data, name)

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
        created_at=from_micros(one("created_us")),
        updated_at=from_micros(one("updated_us")),
        version=int(one("version")),
    )


class TantivyIndex(TantivyAdapter[PocDocument, Removal, SearchQuery]):
    """The :class:`~platform_api.search.index.SearchIndex` on tantivy."""

    kind = "pocs"
    heap_size = 50_000_000
    id_field = "poc_id"
    facets = FACETS

    build_schema = staticmethod(_schema)
    to_document = staticmethod(_document)
    from_stored = staticmethod(_from_stored)

    def _visible(self, tenant_id: uuid.UUID, viewer_id: uuid.UUID) -> Clauses:
        """Tenant from the token, and visibility: shared with the tenant, or the viewer's own."""
        visible = Query.boolean_query(
            [
                (Occur.Should, self._term("visibility", "tenant")),
                (Occur.Should, self._term("owner_id", str(viewer_id))),
            ]
        )
        return [filtered(self._term("tenant_id", str(tenant_id))), filtered(visible)]

    def build_query(self, q: SearchQuery, words: list[str]) -> Query:
        clauses = self._visible(q.tenant_id, q.viewer_id)
        clauses += text_clauses(self.schema, words, TEXT_FIELDS)
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
        clauses += [filtered(f) for f in filters]
        return Query.boolean_query(clauses)

    async def suggest(
        self, tenant_id: uuid.UUID, viewer_id: uuid.UUID, prefix: str, limit: int
    ) -> Suggestions:
        visible = functools.partial(self._visible, tenant_id, viewer_id)
        return await self.suggestions(visible, prefix, limit)
