"""The dojo side of the search index port: documents, queries, results, the adapter protocol.

Adapters: ``index_dojos_tantivy`` (embedded) and ``index_dojos_opensearch`` (production, the
design brief's "Dojo Search Index" mapping). Typo tolerance is the POC index's rule (see
``index``). Who sees a dojo mirrors the dojo service: everyone in its tenant, unless it is
private; then only its creator, its active participants and tenant admins.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from platform_api.kernel.text import nfc

from .index import Hit, SearchPage, Suggestions

DojoSort = Literal["relevance", "newest", "name", "start"]
DojoStatus = Literal["scheduled", "active", "ended", "archived"]
DOJO_FACETS = {"status": 10, "language": 20, "tags": 30}


def _when(value: Any, *, required: bool = False) -> datetime | None:
    if value is None and not required:
        return None
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError("naive date")
    return parsed


@dataclass(frozen=True, slots=True)
class DojoDocument:
    """What the index holds about one dojo (from a ``dojo.*`` event or the dojo feed)."""

    tenant_id: uuid.UUID
    dojo_id: uuid.UUID
    creator_id: uuid.UUID
    name: str
    description: str
    language: str
    format: str
    status: str
    is_private: bool
    tags: tuple[str, ...]
    participant_ids: tuple[uuid.UUID, ...]
    participant_count: int
    scheduled_start_time: datetime | None
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    version: int

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> DojoDocument:
        """Build from a dojo event's payload (``platform_api.dojos.events.dojo_payload``).

        Payloads written before privacy, tags and participant ids existed lack them: such
        dojos were visible to the whole tenant, so they read as public, untagged.
        """
        try:
            version, count = data["version"], data["participant_count"]
            for number in (version, count):
                if not isinstance(number, int) or isinstance(number, bool) or number < 0:
                    raise ValueError("bad version or participant count")
            private = data.get("is_private", False)
            if not isinstance(private, bool):
                raise ValueError("bad is_private")
            for name in ("name", "language", "status"):
                if not isinstance(data[name], str):
                    raise ValueError(f"bad {name}")
            return cls(
                tenant_id=uuid.UUID(str(data["tenant_id"])),
                dojo_id=uuid.UUID(str(data["dojo_id"])),
                creator_id=uuid.UUID(str(data["creator_id"])),
                name=nfc(str(data["name"])),
                description=nfc(str(data.get("description") or "")),
                language=nfc(str(data["language"])),
                format=str(data.get("format") or ""),
                status=str(data["status"]),
                is_private=private,
                tags=tuple(nfc(str(t)) for t in data.get("tags") or ()),
                participant_ids=tuple(uuid.UUID(str(u)) for u in data.get("participant_ids") or ()),
                participant_count=count,
                scheduled_start_time=_when(data.get("scheduled_start_time")),
                created_at=_when(data["created_at"], required=True),  # type: ignore[arg-type]
                started_at=_when(data.get("started_at")),
                ended_at=_when(data.get("ended_at")),
                version=version,
            )
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise ValueError(f"not a dojo snapshot: {exc}") from exc

    @property
    def key(self) -> tuple[uuid.UUID, uuid.UUID]:
        return self.tenant_id, self.dojo_id

    @property
    def doc_id(self) -> uuid.UUID:
        return self.dojo_id


@dataclass(frozen=True, slots=True)
class DojoRemoval:
    """A dojo to drop from the index (gone from the dojo service's feed) at ``version``."""

    tenant_id: uuid.UUID
    dojo_id: uuid.UUID
    version: int

    @property
    def doc_id(self) -> uuid.UUID:
        return self.dojo_id


@dataclass(frozen=True)
class DojoQuery:
    """One dojo search. ``tenant_id``, ``viewer_id`` and ``sees_private`` (tenant admins)
    come from the caller's token only. No ``statuses``: every status but archived, as the
    dojo service's list."""

    tenant_id: uuid.UUID
    viewer_id: uuid.UUID
    sees_private: bool = False
    text: str = ""
    languages: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    sort: DojoSort = "relevance"
    limit: int = 20
    after: list[Any] | None = None  # the adapter's own page position, from ``next_after``


DojoHit = Hit[DojoDocument]
DojoPage = SearchPage[DojoDocument]


class DojoIndex(Protocol):
    async def apply(self, upserts: Sequence[DojoDocument], removals: Sequence[DojoRemoval]) -> None:
        """Write and remove documents durably (visible to the next search)."""

    async def search(self, query: DojoQuery) -> DojoPage:
        """Dojos the viewer may see, with totals and facets (status, language, tags) over
        every match. Sorts: ``relevance`` (newest first without text), ``newest`` (created),
        ``name``, ``start`` (the dojo's date: started, else scheduled, else created;
        earliest first, e.g. the next scheduled ones)."""

    async def suggest(
        self,
        tenant_id: uuid.UUID,
        viewer_id: uuid.UUID,
        sees_private: bool,
        prefix: str,
        limit: int,
    ) -> Suggestions:
        """Names and tags of dojos the viewer may see that start like ``prefix`` (typos too),
        archived ones left out as in a search without ``statuses``."""

    async def versions(self, tenant_id: uuid.UUID) -> dict[uuid.UUID, int]:
        """Every indexed dojo of the tenant with its version (for rebuilds)."""

    async def drop_tenant(self, tenant_id: uuid.UUID) -> None:
        """Remove every dojo of the tenant (an organization deleted: erasure)."""

    async def ping(self) -> None: ...

    async def aclose(self) -> None: ...
