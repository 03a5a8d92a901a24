"""Plain data the API returns, parsed into small frozen dataclasses (no UI, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

STATUSES = ("idea", "in_progress", "done", "abandoned")
VISIBILITIES = ("private", "tenant")
TERMINAL = ("succeeded", "failed", "cancelled")


@dataclass(frozen=True)
class Me:
    user_id: str
    email: str
    full_name: str
    role: str
    tenant_id: str
    tenant_name: str

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Me:
        user, tenant = data["user"], data["tenant"]
        return cls(
            user["user_id"], user["email"], user["full_name"], user["role"],
            tenant["tenant_id"], tenant["name"],
        )  # fmt: skip


@dataclass(frozen=True)
class Poc:
    """A POC as the POC service holds it; ``version`` makes the ETag for edits."""

    poc_id: str
    name: str
    description: str = ""
    language: str = ""
    tags: tuple[str, ...] = ()
    frameworks: tuple[str, ...] = ()
    repository_url: str = ""
    status: str = "idea"
    visibility: str = "private"
    version: int = 0
    owner_id: str = ""
    updated_at: str = ""

    @property
    def etag(self) -> str:
        return f'"{self.version}"'

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Poc:
        return cls(
            poc_id=str(data["poc_id"]),
            name=data["name"],
            description=data.get("description") or "",
            language=data.get("language") or "",
            tags=tuple(data.get("tags") or ()),
            frameworks=tuple(data.get("frameworks") or ()),
            repository_url=data.get("repository_url") or "",
            status=data.get("status") or "idea",
            visibility=data.get("visibility") or "private",
            version=int(data.get("version") or 0),
            owner_id=str(data.get("owner_id") or ""),
            updated_at=data.get("updated_at") or "",
        )


@dataclass(frozen=True)
class Facet:
    value: str
    count: int


@dataclass(frozen=True)
class SearchPage:
    items: tuple[Poc, ...]
    total: int
    languages: tuple[Facet, ...]
    tags: tuple[Facet, ...]
    next_cursor: str | None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SearchPage:
        facets = data.get("facets") or {}

        def facet_list(name: str) -> tuple[Facet, ...]:
            return tuple(Facet(f["value"], int(f["count"])) for f in facets.get(name) or ())

        return cls(
            items=tuple(Poc.from_json(hit) for hit in data.get("items") or ()),
            total=int(data.get("total") or 0),
            languages=facet_list("language"),
            tags=facet_list("tags"),
            next_cursor=data.get("next_cursor"),
        )


@dataclass(frozen=True)
class ContentRequest:
    request_id: str
    type: str
    status: str
    progress: int
    title: str = ""
    error: str | None = None
    size_bytes: int | None = None
    poc_count: int = 0

    @property
    def done(self) -> bool:
        return self.status in TERMINAL

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ContentRequest:
        return cls(
            request_id=str(data["request_id"]),
            type=data["type"],
            status=data["status"],
            progress=int(data.get("progress") or 0),
            title=data.get("title") or "",
            error=data.get("error"),
            size_bytes=data.get("size_bytes"),
            poc_count=int(data.get("poc_count") or 0),
        )


@dataclass(frozen=True)
class Download:
    url: str
    filename: str
    content_type: str


@dataclass(frozen=True)
class Dojo:
    dojo_id: str
    name: str
    status: str  # scheduled | active | ended | archived
    language: str = ""
    description: str = ""
    scheduled_start_time: str | None = None
    participant_count: int = 0

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Dojo:
        return cls(
            dojo_id=str(data["dojo_id"]),
            name=data["name"],
            status=data["status"],
            language=data.get("language") or "",
            description=data.get("description") or "",
            scheduled_start_time=data.get("scheduled_start_time"),
            participant_count=int(data.get("participant_count") or 0),
        )


@dataclass(frozen=True)
class Ticket:
    """A short-lived room ticket from the dojo service and the room's WebSocket URL."""

    ticket: str
    url: str
    role: str
    expires_in: int = 60
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Ticket:
        return cls(data["ticket"], data["url"], data["role"], int(data.get("expires_in") or 60))
