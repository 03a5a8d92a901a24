"""The search index port: documents, queries, results, and the adapter protocol.

Adapters: ``index_tantivy`` (embedded, no server; in RAM for tests) and ``index_opensearch``
(production). Both get the same typo tolerance rule (OpenSearch's ``AUTO`` fuzziness: terms of
3-5 characters may be one edit off, longer ones two, a transposition counts as one edit; the
last term also matches as a prefix) and pass the same contract suite.
"""

from __future__ import annotations

import html
import re
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Literal, Protocol, TypeVar

from platform_api.kernel.text import nfc

Sort = Literal["relevance", "newest", "name"]
TagMode = Literal["all", "any"]
MAX_TERMS = 10
_WORD = re.compile(r"\w+")
# Letters that fold to others without being a base letter and a mark (ASCII folding).
_LIGATURES = str.maketrans({"ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "đ": "d", "ł": "l", "ð": "d",
                            "þ": "th", "\u0131": "i"})  # fmt: skip


def fold(text: str) -> str:
    """Lower case without accents ("Ação" → "acao"), as the embedded index keeps words: a
    query typed without them finds words written with them, and the other way round."""
    decomposed = unicodedata.normalize("NFKD", text.lower().translate(_LIGATURES))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


class BadCursor(ValueError):
    """A page position the index did not produce."""


@dataclass(frozen=True, slots=True)
class PocDocument:
    """What the index holds about one POC (from a ``poc.*`` event or the POC feed)."""

    tenant_id: uuid.UUID
    poc_id: uuid.UUID
    owner_id: uuid.UUID
    name: str
    description: str
    language: str | None
    tags: tuple[str, ...]
    frameworks: tuple[str, ...]
    status: str
    visibility: str
    repository_url: str | None
    created_at: datetime
    updated_at: datetime
    version: int

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> PocDocument:
        """Build from a POC snapshot (``platform_api.pocs.events.snapshot``); ValueError if bad."""
        try:
            created = datetime.fromisoformat(data["created_at"])
            updated = datetime.fromisoformat(data["updated_at"])
            version = data["version"]
            if not isinstance(version, int) or created.tzinfo is None or updated.tzinfo is None:
                raise ValueError("bad version or naive dates")
            return cls(
                tenant_id=uuid.UUID(str(data["tenant_id"])),
                poc_id=uuid.UUID(str(data["poc_id"])),
                owner_id=uuid.UUID(str(data["owner_id"])),
                name=nfc(str(data["name"])),
                description=nfc(str(data.get("description") or "")),
                language=nfc(str(data["language"])) if data.get("language") else None,
                tags=tuple(nfc(str(t)) for t in data.get("tags") or ()),
                frameworks=tuple(nfc(str(f)) for f in data.get("frameworks") or ()),
                status=str(data["status"]),
                visibility=str(data["visibility"]),
                repository_url=str(data["repository_url"]) if data.get("repository_url") else None,
                created_at=created,
                updated_at=updated,
                version=version,
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"not a POC snapshot: {exc}") from exc

    @property
    def key(self) -> tuple[uuid.UUID, uuid.UUID]:
        return self.tenant_id, self.poc_id

    @property
    def doc_id(self) -> uuid.UUID:
        return self.poc_id


@dataclass(frozen=True, slots=True)
class Removal:
    """A POC to drop from the index (deleted at ``version``)."""

    tenant_id: uuid.UUID
    poc_id: uuid.UUID
    version: int

    @property
    def doc_id(self) -> uuid.UUID:
        return self.poc_id


@dataclass(frozen=True)
class SearchQuery:
    """One search. ``tenant_id`` and ``viewer_id`` come from the caller's token only."""

    tenant_id: uuid.UUID
    viewer_id: uuid.UUID
    text: str = ""
    languages: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    tag_mode: TagMode = "all"
    statuses: tuple[str, ...] = ()
    owner_id: uuid.UUID | None = None
    sort: Sort = "relevance"
    limit: int = 20
    after: list[Any] | None = None  # the adapter's own page position, from ``next_after``


class Indexed(Protocol):
    """A document or a removal, of either kind: what writing it to an index needs."""

    @property
    def tenant_id(self) -> uuid.UUID: ...

    @property
    def doc_id(self) -> uuid.UUID: ...

    @property
    def version(self) -> int: ...


class Paged(Protocol):
    """A search of either kind: what reading one page of it needs."""

    @property
    def tenant_id(self) -> uuid.UUID: ...

    @property
    def text(self) -> str: ...

    @property
    def sort(self) -> str: ...

    @property
    def limit(self) -> int: ...

    @property
    def after(self) -> list[Any] | None: ...


D = TypeVar("D")


@dataclass
class Hit(Generic[D]):
    """One found document (a POC's or a dojo's) with its score and ``<mark>`` highlights."""

    document: D
    score: float | None
    highlights: dict[str, str] = field(default_factory=dict)


@dataclass
class SearchPage(Generic[D]):
    """A page of hits, the total and facets over every match, and the next page's position."""

    hits: list[Hit[D]]
    total: int
    facets: dict[str, list[tuple[str, int]]]
    next_after: list[Any] | None


@dataclass
class Suggestions:
    names: list[str]
    tags: list[str]


class SearchIndex(Protocol):
    async def apply(self, upserts: Sequence[PocDocument], removals: Sequence[Removal]) -> None:
        """Write and remove documents durably (visible to the next search)."""

    async def search(self, query: SearchQuery) -> SearchPage[PocDocument]: ...

    async def suggest(
        self, tenant_id: uuid.UUID, viewer_id: uuid.UUID, prefix: str, limit: int
    ) -> Suggestions:
        """Names and tags of POCs the viewer may see that start like ``prefix`` (typos too)."""

    async def versions(self, tenant_id: uuid.UUID) -> dict[uuid.UUID, int]:
        """Every indexed POC of the tenant with its version (for rebuilds)."""

    async def drop_tenant(self, tenant_id: uuid.UUID) -> None:
        """Remove every POC of the tenant (an organization deleted: erasure)."""

    async def ping(self) -> None: ...

    async def aclose(self) -> None: ...


def terms(text: str) -> list[str]:
    """Lower-case word terms of a query, as the indexes tokenise text (at most ``MAX_TERMS``)."""
    return [t[:40] for t in _WORD.findall(text.lower())][:MAX_TERMS]


def fuzziness(term: str) -> int:
    """Edits allowed for ``term`` (OpenSearch's AUTO: 0 up to 2 characters, 1 up to 5, else 2)."""
    return 0 if len(term) <= 2 else 1 if len(term) <= 5 else 2


def edit_distance(a: str, b: str, limit: int) -> int:
    """Optimal string alignment distance (a transposition is one edit), capped at ``limit + 1``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, start=1):
            cost = 0 if ca == cb else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]


def matches(word: str, term: str, *, prefix: bool) -> bool:
    """Whether an indexed ``word`` matches a query ``term`` under the typo rule (accents
    and case aside)."""
    word, term = fold(word), fold(term)
    if word == term or (prefix and word.startswith(term)):
        return True
    allowed = fuzziness(term)
    return allowed > 0 and edit_distance(word, term, allowed) <= allowed


def highlight(text: str, query_terms: Sequence[str], *, window: int = 160) -> str | None:
    """HTML-escaped excerpt of ``text`` with matching words in ``<mark>``; None if none match."""
    if not text or not query_terms:
        return None
    last = len(query_terms) - 1
    spans = [
        m.span()
        for m in _WORD.finditer(text)
        if any(matches(m.group(), t, prefix=i == last) for i, t in enumerate(query_terms))
    ]
    if not spans:
        return None
    start = 0 if len(text) <= window else max(0, spans[0][0] - window // 4)
    end = min(len(text), start + window)
    out, cursor = ["…" if start else ""], start
    for a, b in spans:
        if a < start or b > end:
            continue
        out += [html.escape(text[cursor:a]), "<mark>", html.escape(text[a:b]), "</mark>"]
        cursor = b
    out += [html.escape(text[cursor:end]), "…" if end < len(text) else ""]
    return "".join(out)
