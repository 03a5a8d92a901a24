"""What the embedded tantivy indexes of POCs and dojos share.

One index directory per document kind (``<data_dir>/<kind>-v<N>``; ``path=None`` keeps it in
RAM). Blocking tantivy calls run in worker threads and writes are serialised by a lock.
Each kind (``index_tantivy``, ``index_dojos_tantivy``) brings its schema, its stored-document
conversion and who may see what; writing, paging by offset, highlights, facets, suggestions
and version listings are the same for both and live here.
"""

from __future__ import annotations

import asyncio
import shutil
import threading
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

import tantivy
from tantivy import Occur, Query

from .index import (
    MAX_TERMS,
    BadCursor,
    Hit,
    Indexed,
    Paged,
    SearchPage,
    Suggestions,
    fold,
    fuzziness,
    highlight,
    matches,
    terms,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The tokenizer of full-text fields: tantivy's default (words, none over 40 bytes, lower
# case) and ASCII folding, so that "acao" finds "ação". Queries go through the same one.
FOLDED = "folded"
_FOLDED = (
    tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
    .filter(tantivy.Filter.remove_long(40))
    .filter(tantivy.Filter.lowercase())
    .filter(tantivy.Filter.ascii_fold())
    .build()
)
MAX_OFFSET = 10_000
Clauses = list[tuple[Occur, Query]]
D = TypeVar("D", bound=Indexed)
R = TypeVar("R", bound=Indexed)
Q = TypeVar("Q", bound=Paged)


def micros(value: datetime) -> int:
    """Microseconds since the epoch: tantivy's date fields keep whole seconds only."""
    return (value - EPOCH) // timedelta(microseconds=1)


def from_micros(value: Any) -> datetime:
    return EPOCH + timedelta(microseconds=int(value))


def first(data: dict[str, list[Any]], name: str) -> Any:
    """The first stored value of ``name`` in a stored document, or None."""
    return (data.get(name) or [None])[0]


def term(schema: tantivy.Schema, field: str, value: str) -> Query:
    return Query.term_query(schema, field, value)


def any_of(schema: tantivy.Schema, field: str, values: Sequence[str]) -> Query:
    return Query.boolean_query([(Occur.Should, term(schema, field, v)) for v in values])


def filtered(query: Query) -> tuple[Occur, Query]:
    """A clause that must match and adds nothing to the score."""
    return Occur.Must, Query.const_score_query(query, 0.0)


def words_of(text: str) -> list[str]:
    """The terms of a query as the full-text fields hold them (at most ``MAX_TERMS``). A word
    too long for the index stays, folded, so that it finds nothing rather than vanishing
    from the query (which would then find everything)."""
    words = [word for term in terms(text) for word in (_FOLDED.analyze(term) or [fold(term)])]
    return words[:MAX_TERMS]


def text_clauses(schema: tantivy.Schema, words: list[str], fields: dict[str, float]) -> Clauses:
    """Every term must match some field: exactly (boosted), with typos, or (the last one, as
    it is being typed, even a single letter) as a prefix."""
    clauses = []
    for i, word in enumerate(words):
        options: Clauses = []
        for name, boost in fields.items():
            exact = Query.boost_query(term(schema, name, word), boost * 2)
            options.append((Occur.Should, exact))
            if fuzziness(word):
                fuzzy = Query.fuzzy_term_query(schema, name, word, fuzziness(word), True)
                options.append((Occur.Should, Query.boost_query(fuzzy, boost)))
            if i == len(words) - 1:
                prefix = Query.fuzzy_term_query(schema, name, word, 0, True, True)
                options.append((Occur.Should, Query.boost_query(prefix, boost)))
        clauses.append((Occur.Must, Query.boolean_query(options)))
    return clauses


def tag_suggestions(
    searcher: tantivy.Searcher, visible: Query, prefix: str, limit: int
) -> list[str]:
    """Tags of the visible documents (facet counts) that start like ``prefix`` (typos too)."""
    buckets = searcher.aggregate(visible, {"tags": {"terms": {"field": "tags", "size": 1000}}})
    stem = fold("-".join(prefix.split()))
    return [
        b["key"]
        for b in buckets["tags"]["buckets"]
        if fold(b["key"]).startswith(stem) or matches(b["key"][: len(stem)], stem, prefix=False)
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


class TantivyAdapter(Generic[D, R, Q]):
    """The index port on tantivy for one document kind (see the subclasses)."""

    kind: ClassVar[str]  # the directory's name: ``<kind>-v<schema_version>``
    schema_version: ClassVar[int] = 2  # 2: full text folded (``FOLDED``), names sorted folded
    heap_size: ClassVar[int]
    id_field: ClassVar[str]
    facets: ClassVar[dict[str, int]]
    # Sort name -> (fast field, order); without text, or sorted by ``newest``, newest first.
    sorts: ClassVar[dict[str, tuple[str, tantivy.Order]]] = {
        "name": ("name_sort", tantivy.Order.Asc),
        "newest": ("created_us", tantivy.Order.Desc),
    }
    # The kind's schema and its documents to and from what tantivy stores (staticmethods).
    build_schema: Callable[[], tantivy.Schema]
    to_document: Callable[[D], tantivy.Document]
    from_stored: Callable[[dict[str, list[Any]]], D]

    def __init__(self, path: str | Path | None = None) -> None:
        self.schema = self.build_schema()
        # Directories of earlier schema versions: the service rebuilds this one from the
        # POC and dojo services, then forgets them (``forget_older_versions``).
        self.older_versions: list[Path] = []
        if path is None:
            self._index = tantivy.Index(self.schema)
        else:
            self.older_versions = sorted(
                older
                for version in range(1, self.schema_version)
                if (older := Path(path) / f"{self.kind}-v{version}").is_dir()
            )
            directory = Path(path) / f"{self.kind}-v{self.schema_version}"
            directory.mkdir(parents=True, exist_ok=True)
            self._index = tantivy.Index(self.schema, path=str(directory), reuse=True)
        self._index.register_tokenizer(FOLDED, _FOLDED)
        self._writer = self._index.writer(heap_size=self.heap_size, num_threads=1)
        self._lock = threading.Lock()

    def build_query(self, q: Q, words: list[str]) -> Query:
        """The documents of ``q`` the viewer may see, matching ``words`` and its filters."""
        raise NotImplementedError

    def _term(self, field: str, value: str) -> Query:
        return term(self.schema, field, value)

    def _any_of(self, field: str, values: Sequence[str]) -> Query:
        return any_of(self.schema, field, values)

    def forget_older_versions(self) -> None:
        """Delete the directories of earlier schema versions (once this one is rebuilt)."""
        for directory in self.older_versions:
            shutil.rmtree(directory, ignore_errors=True)
        self.older_versions = []

    # --- writes ---------------------------------------------------------------------------

    async def apply(self, upserts: Sequence[D], removals: Sequence[R]) -> None:
        if upserts or removals:
            await asyncio.to_thread(self._apply, upserts, removals)

    def _apply(self, upserts: Sequence[D], removals: Sequence[R]) -> None:
        with self._lock:
            try:
                for removal in removals:
                    self._writer.delete_documents_by_term(self.id_field, str(removal.doc_id))
                for doc in upserts:
                    self._writer.delete_documents_by_term(self.id_field, str(doc.doc_id))
                    self._writer.add_document(self.to_document(doc))
                self._writer.commit()
            except BaseException:
                self._writer.rollback()  # nothing half-done rides along with the next commit
                raise
            self._index.reload()

    async def drop_tenant(self, tenant_id: uuid.UUID) -> None:
        await asyncio.to_thread(self._drop_tenant, tenant_id)

    def _drop_tenant(self, tenant_id: uuid.UUID) -> None:
        with self._lock:
            try:
                self._writer.delete_documents_by_term("tenant_id", str(tenant_id))
                self._writer.commit()
            except BaseException:
                self._writer.rollback()
                raise
            self._index.reload()

    # --- queries --------------------------------------------------------------------------

    async def search(self, query: Q) -> SearchPage[D]:
        return await asyncio.to_thread(self._search, query)

    def _search(self, q: Q) -> SearchPage[D]:
        offset = page_offset(q.after)
        words = words_of(q.text)
        query = self.build_query(q, words)
        searcher = self._index.searcher()
        order: dict[str, Any] = {}
        named = self.sorts.get(q.sort) or (None if words else self.sorts["newest"])
        if named:
            order = {"order_by_field": named[0], "order": named[1]}
        result = searcher.search(query, limit=q.limit + 1, offset=offset, count=True, **order)
        hits = []
        for key, address in result.hits[: q.limit]:
            doc = self.from_stored(searcher.doc(address).to_dict())
            marks = {
                name: text
                for name in ("name", "description")
                if (text := highlight(getattr(doc, name), words))
            }
            hits.append(Hit(doc, float(key) if not order else None, marks))
        aggregations = searcher.aggregate(
            query, {n: {"terms": {"field": n, "size": s}} for n, s in self.facets.items()}
        )
        # Most used first; among equals, in the order of their letters ("ação" before "admin").
        facets = {
            name: sorted(
                ((b["key"], int(b["doc_count"])) for b in aggregations[name]["buckets"]),
                key=lambda value: (-value[1], fold(value[0]), value[0]),
            )
            for name in self.facets
        }
        more = len(result.hits) > q.limit and offset + q.limit <= MAX_OFFSET
        total = int(getattr(result, "count", 0) or 0)
        return SearchPage(hits, total, facets, [offset + q.limit] if more else None)

    async def suggestions(
        self, visible: Callable[[], Clauses], prefix: str, limit: int
    ) -> Suggestions:
        """Names and tags of the documents ``visible()`` lets through that start like
        ``prefix`` (typos too)."""
        return await asyncio.to_thread(self._suggestions, visible, prefix, limit)

    def _suggestions(self, visible: Callable[[], Clauses], prefix: str, limit: int) -> Suggestions:
        words = words_of(prefix)
        if not words:
            return Suggestions([], [])
        searcher = self._index.searcher()
        clauses = visible()
        by_name = Query.boolean_query(clauses + text_clauses(self.schema, words, {"name": 1.0}))
        names: list[str] = []
        for _, address in searcher.search(by_name, limit=limit * 3).hits:
            name = searcher.doc(address).to_dict()["name"][0]
            if name not in names:
                names.append(name)
        tags = tag_suggestions(searcher, Query.boolean_query(clauses), prefix, limit)
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
            found[uuid.UUID(data[self.id_field][0])] = int(data["version"][0])
        return found

    async def ping(self) -> None:
        self._index.searcher()

    async def aclose(self) -> None:
        await asyncio.to_thread(self._close)

    def _close(self) -> None:
        with self._lock:
            self._writer.wait_merging_threads()
