"""The embedded dojo index: tantivy, beside the POC index (``<data_dir>/dojos-v2``).

Same engine, typo rule and paging as ``index_tantivy`` (both on ``tantivy_base``). Who may
see a document is indexed as its ``audience``: ``tenant`` for a public dojo, else
``user:<id>`` for its creator and each active participant; a query matches the viewer's
audience terms (tenant admins skip it, as the dojo service lets them see every dojo of
their tenant).
"""

from __future__ import annotations

import functools
import uuid
from datetime import datetime
from typing import Any

import tantivy
from tantivy import Occur, Query

from .index import Suggestions, fold
from .index_dojos import DOJO_FACETS, DojoDocument, DojoQuery, DojoRemoval
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
        b.add_text_field(name, stored=name in ("name", "description"), tokenizer_name=FOLDED)
    # Times as microseconds since the epoch (tantivy's dates keep whole seconds only).
    for name in ("created_us", "start_us", "version", "participant_count", "private"):
        b.add_integer_field(name, stored=True, indexed=True, fast=True)
    for name in DATES:
        b.add_integer_field(f"{name}_us", stored=True)
    return b.build()


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
        ("name_sort", fold(doc.name)),
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
        ("created_us", micros(doc.created_at)),
        ("start_us", micros(start)),
        ("version", doc.version),
        ("participant_count", doc.participant_count),
        ("private", int(doc.is_private)),
    ):
        d.add_integer(name, number)
    for name in DATES:
        value = getattr(doc, name)
        if value is not None:
            d.add_integer(f"{name}_us", micros(value))
    return d


def _from_stored(data: dict[str, list[Any]]) -> DojoDocument:
    def one(name: str) -> Any:
        return first(data, name)

    def when(name: str) -> datetime | None:
        value = one(name)
        return None if value is None else from_micros(value)

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


class TantivyDojoIndex(TantivyAdapter[DojoDocument, DojoRemoval, DojoQuery]):
    """The :class:`~platform_api.search.index_dojos.DojoIndex` on tantivy."""

    kind = "dojos"
    heap_size = 15_000_000
    id_field = "dojo_id"
    facets = DOJO_FACETS
    sorts = {**TantivyAdapter.sorts, "start": ("start_us", tantivy.Order.Asc)}

    build_schema = staticmethod(_schema)
    to_document = staticmethod(_document)
    from_stored = staticmethod(_from_stored)

    def _visible(self, tenant_id: uuid.UUID, viewer_id: uuid.UUID, sees_private: bool) -> Clauses:
        """The tenant from the token; private dojos only for their people (or admins)."""
        clauses = [filtered(self._term("tenant_id", str(tenant_id)))]
        if not sees_private:
            clauses.append(filtered(self._any_of("audience", ["tenant", f"user:{viewer_id}"])))
        return clauses

    def build_query(self, q: DojoQuery, words: list[str]) -> Query:
        clauses = self._visible(q.tenant_id, q.viewer_id, q.sees_private)
        clauses += text_clauses(self.schema, words, TEXT_FIELDS)
        filters: list[Query] = []
        if q.languages:
            filters.append(self._any_of("language_key", [x.lower() for x in q.languages]))
        if q.statuses:
            filters.append(self._any_of("status", q.statuses))
        else:
            clauses.append((Occur.MustNot, self._term("status", "archived")))
        filters += [self._term("tags", tag) for tag in q.tags]
        clauses += [filtered(f) for f in filters]
        return Query.boolean_query(clauses)

    def _suggestable(
        self, tenant_id: uuid.UUID, viewer_id: uuid.UUID, sees_private: bool
    ) -> Clauses:
        """What a search without ``statuses`` would find: archived dojos left out."""
        clauses = self._visible(tenant_id, viewer_id, sees_private)
        return [*clauses, (Occur.MustNot, self._term("status", "archived"))]

    async def suggest(
        self,
        tenant_id: uuid.UUID,
        viewer_id: uuid.UUID,
        sees_private: bool,
        prefix: str,
        limit: int,
    ) -> Suggestions:
        visible = functools.partial(self._suggestable, tenant_id, viewer_id, sees_private)
        return await self.suggestions(visible, prefix, limit)
