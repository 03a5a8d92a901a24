"""Where POC data comes from: the POC service's export API (never its tables).

The content service snapshots what it renders when a request is made, so later edits to a
POC do not change a report being generated, and the workers need no token of the user.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Protocol

import httpx

from platform_api.kernel import Problem, outgoing_headers
from platform_api.kernel.auth import Principal

POC_FIELDS = (
    "poc_id",
    "name",
    "description",
    "language",
    "frameworks",
    "tags",
    "status",
    "repository_url",
    "started_on",
    "finished_on",
    "created_at",
    "visibility",
)


@dataclass(frozen=True)
class PocQuery:
    """A user's POCs worked on in [from_date, to_date] (see :func:`work_period`), optionally
    filtered."""

    from_date: date
    to_date: date
    tags: tuple[str, ...] = ()
    language: str | None = None
    status: str | None = None


class PocSource(Protocol):
    async def fetch(self, who: Principal, token: str, query: PocQuery) -> list[dict[str, Any]]:
        """The caller's POCs matching ``query``, in the order their work started, as plain
        dicts (``POC_FIELDS``)."""
        ...


def _text(value: Any) -> str:
    # PostgreSQL text and jsonb cannot hold NUL characters; nothing legitimate needs them.
    return str(value).replace("\x00", "")


def normalize(raw: dict[str, Any]) -> dict[str, Any]:
    """Keep the known fields, with stable types (lists of strings, id as a string)."""
    poc = {name: raw.get(name) for name in POC_FIELDS}
    poc_id = raw.get("poc_id") or raw.get("id")
    if not poc_id:
        poc_id = uuid.uuid5(uuid.NAMESPACE_URL, f"{raw.get('name')}|{raw.get('created_at')}")
    poc["poc_id"] = str(uuid.UUID(str(poc_id)))
    poc["name"] = _text(raw.get("name") or "—")
    for key in ("tags", "frameworks"):
        value = raw.get(key) or []
        poc[key] = [_text(v) for v in value] if isinstance(value, list) else [_text(value)]
    for key in ("description", "language", "status", "repository_url", "visibility"):
        poc[key] = None if poc[key] is None else _text(poc[key])
    for key in ("started_on", "finished_on", "created_at"):
        poc[key] = None if poc[key] is None else str(poc[key])
    return poc


def _day(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value or "")[:10])
    except ValueError:
        return None


def work_period(poc: dict[str, Any], today: date | None = None) -> tuple[date, date] | None:
    """When a POC's work happened: ``[started_on, finished_on]``; a POC in progress with no
    ``finished_on`` goes on until ``today`` (so it is in every year it was worked on), one
    with only one of the dates otherwise is one day; without ``started_on``,
    ``finished_on``, then the day it was registered (``created_at``). ``None`` when it has
    no usable date at all."""
    started, finished = _day(poc.get("started_on")), _day(poc.get("finished_on"))
    start = started or finished or _day(poc.get("created_at"))
    if start is None:
        return None
    end = finished or start
    if started and not finished and poc.get("status") == "in_progress":
        end = max(start, today or datetime.now(UTC).date())
    return (start, end) if start <= end else (end, start)


def work_day(poc: dict[str, Any]) -> date | None:
    """The day a POC's work started (:func:`work_period`): what reports sort and count by."""
    period = work_period(poc)
    return period[0] if period else None


def matches(poc: dict[str, Any], query: PocQuery, today: date | None = None) -> bool:
    """Whether a normalized POC was worked on in the query's period (its
    :func:`work_period` overlaps it) and passes the filters (tags: any of them)."""
    period = work_period(poc, today)
    if period is None or period[0] > query.to_date or period[1] < query.from_date:
        return False
    if query.tags and not set(query.tags) & set(poc["tags"]):
        return False
    if query.language and (poc["language"] or "").lower() != query.language.lower():
        return False
    return not (query.status and poc["status"] != query.status)


def _order(poc: dict[str, Any]) -> tuple[date, str, str]:
    return (work_day(poc) or date.min, poc["created_at"] or "", poc["poc_id"])


def select(
    raw_pocs: list[dict[str, Any]], query: PocQuery, today: date | None = None
) -> list[dict[str, Any]]:
    """The POCs ``query`` asks for, in the order their work started."""
    pocs = [normalize(raw) for raw in raw_pocs]
    return sorted((p for p in pocs if matches(p, query, today)), key=_order)


class HttpPocSource:
    """``GET {pocs_url}/pocs/export?format=json&scope=mine``, then the query's filters.

    The caller's bearer token is forwarded, so the POC service applies its own tenant and
    visibility rules. Accepts a JSON list or ``{"items": [...]}``.
    """

    def __init__(self, base_url: str, *, timeout: float = 10.0, client: Any = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._client: httpx.AsyncClient = client or httpx.AsyncClient(timeout=timeout)

    async def fetch(self, who: Principal, token: str, query: PocQuery) -> list[dict[str, Any]]:
        params = {"format": "json", "scope": "mine"}
        try:
            response = await self._client.get(
                f"{self.base_url}/pocs/export",
                params=params,
                headers=outgoing_headers({"Authorization": f"Bearer {token}"}),
            )
        except httpx.HTTPError as exc:
            raise Problem(503, "The POC service is unavailable; try again shortly") from exc
        if response.status_code != 200:
            raise Problem(
                503,
                "The POC service answered {status}; try again",
                params={"status": response.status_code},
            )
        try:
            data = response.json()
            return select(data["items"] if isinstance(data, dict) else data, query)
        except (ValueError, KeyError, TypeError) as exc:
            raise Problem(502, "The POC service sent an unexpected answer") from exc

    async def aclose(self) -> None:
        await self._client.aclose()


@dataclass
class MemoryPocSource:
    """POCs held in memory by (tenant, user), for tests and demos; filters like the real API."""

    pocs: dict[tuple[uuid.UUID, uuid.UUID], list[dict[str, Any]]] = field(default_factory=dict)
    calls: int = 0

    def add(self, tenant_id: uuid.UUID, user_id: uuid.UUID, *pocs: dict[str, Any]) -> None:
        self.pocs.setdefault((tenant_id, user_id), []).extend(pocs)

    async def fetch(self, who: Principal, token: str, query: PocQuery) -> list[dict[str, Any]]:
        self.calls += 1
        return select(self.pocs.get((who.tenant_id, who.user_id), []), query)

    async def aclose(self) -> None:
        return None
