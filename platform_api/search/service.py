"""Search use cases: apply POC events to the index (idempotent, out-of-order safe), rebuild a
tenant's index from the POC service's feed, and query it."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import asyncpg
import httpx
import structlog
from prometheus_client import CollectorRegistry, Gauge, Histogram
from prometheus_client import Counter as PromCounter

from platform_api.kernel import Problem, tenant_transaction
from platform_api.kernel.events import Event

from . import store
from .index import BadCursor, PocDocument, Removal, SearchIndex, SearchPage, SearchQuery
from .settings import SearchSettings

_log = structlog.get_logger("search")
KIND = "poc"
UPSERTS = ("poc.created", "poc.updated", "poc.restored")
REMOVALS = ("poc.deleted", "poc.purged")


class SearchMetrics:
    """Index freshness: events by outcome, lag from change to searchable, consumer backlog."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.events = PromCounter(
            "search_events_total", "Events consumed by outcome", ["outcome"], registry=registry
        )
        self.lag = Gauge(
            "search_index_lag_seconds",
            "Seconds from a change to it being searchable (latest batch, worst event)",
            registry=registry,
        )
        self.lag_histogram = Histogram(
            "search_index_lag_seconds_histogram",
            "Seconds from a change to it being searchable",
            registry=registry,
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
        )
        self.backlog = Gauge(
            "search_consumer_backlog", "Events waiting for the consumer", registry=registry
        )


@dataclass
class Search:
    """Everything the use cases need, built once per process by ``create_app``."""

    settings: SearchSettings
    pool: asyncpg.Pool
    index: SearchIndex
    metrics: SearchMetrics
    pocs_client: httpx.AsyncClient
    write_lock: asyncio.Lock = field(default_factory=asyncio.Lock)


def _parse(event: Event) -> PocDocument | Removal | None:
    """The index change an event asks for; None for events this index does not use."""
    if event.type in REMOVALS:
        return Removal(event.tenant_id, event.aggregate_id, event.version)
    if event.type not in UPSERTS:
        return None
    doc = PocDocument.from_payload(event.payload)
    if doc.key != (event.tenant_id, event.aggregate_id) or doc.version != event.version:
        raise ValueError("the payload does not match the envelope")
    return doc


async def apply_events(search: Search, events: Sequence[Event]) -> Counter[str]:
    """Bring the index up to date with ``events``: newest version per POC wins, always.

    Duplicates and events older than what the index holds are skipped (their versions are
    in the ``search`` database). The index is written first and the versions after, so a
    crash in between only makes the redelivered events apply again (idempotent).
    """
    outcomes: Counter[str] = Counter()
    latest: dict[tuple[uuid.UUID, uuid.UUID], tuple[Event, PocDocument | Removal]] = {}
    for event in events:
        try:
            change = _parse(event)
        except ValueError as exc:
            _log.error("malformed_event_skipped", event_id=str(event.id), error=str(exc))
            outcomes["malformed"] += 1
            continue
        if change is None:
            outcomes["ignored"] += 1
            continue
        key = (event.tenant_id, event.aggregate_id)
        if key in latest and latest[key][0].version >= event.version:
            outcomes["stale"] += 1
            continue
        if key in latest:
            outcomes["stale"] += 1
        latest[key] = (event, change)
    by_tenant: dict[uuid.UUID, list[tuple[Event, PocDocument | Removal]]] = {}
    for (tenant_id, _), item in latest.items():
        by_tenant.setdefault(tenant_id, []).append(item)
    async with search.write_lock:
        fresh: dict[uuid.UUID, list[tuple[Event, PocDocument | Removal]]] = {}
        for tenant_id, items in by_tenant.items():
            async with tenant_transaction(search.pool, tenant_id) as conn:
                stored = await store.versions(conn, KIND, [e.aggregate_id for e, _ in items])
            for event, change in items:
                known = stored.get(event.aggregate_id)
                if known is not None and known["version"] >= event.version:
                    outcomes["stale"] += 1
                else:
                    fresh.setdefault(tenant_id, []).append((event, change))
        changes = [c for items in fresh.values() for _, c in items]
        await search.index.apply(
            [c for c in changes if isinstance(c, PocDocument)],
            [c for c in changes if isinstance(c, Removal)],
        )
        for tenant_id, items in fresh.items():
            entries = [
                store.Indexed(
                    e.aggregate_id, e.version, isinstance(c, Removal), e.id, e.occurred_at
                )
                for e, c in items
            ]
            async with tenant_transaction(search.pool, tenant_id) as conn:
                await store.record(conn, tenant_id, KIND, entries)
    applied = [e for items in fresh.values() for e, _ in items]
    if applied:
        outcomes["applied"] += len(applied)
    now = datetime.now(UTC)
    for event in applied:
        search.metrics.lag_histogram.observe((now - event.occurred_at).total_seconds())
    if applied:
        search.metrics.lag.set(max((now - e.occurred_at).total_seconds() for e in applied))
    for outcome, count in outcomes.items():
        search.metrics.events.labels(outcome).inc(count)
    return outcomes


async def fetch_snapshots(search: Search, tenant_id: uuid.UUID) -> list[PocDocument]:
    """Every live POC of a tenant, from the POC service's internal feed."""
    docs: list[PocDocument] = []
    cursor: str | None = None
    headers = {"X-Service-Token": search.settings.effective_service_token()}
    while True:
        params: dict[str, str | int] = {"limit": 500, **({"cursor": cursor} if cursor else {})}
        try:
            response = await search.pocs_client.get(
                f"/internal/tenants/{tenant_id}/pocs", params=params, headers=headers
            )
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise Problem(503, f"The POC service could not be read: {type(exc).__name__}") from exc
        page = response.json()
        docs += [PocDocument.from_payload(item) for item in page["items"]]
        cursor = page.get("next_cursor")
        if not cursor:
            return docs


@dataclass(frozen=True)
class ReindexReport:
    indexed: int
    removed: int
    kept_newer: int


async def reindex_tenant(search: Search, tenant_id: uuid.UUID) -> ReindexReport:
    """Rebuild a tenant's documents from the POC feed, keeping anything newer that events
    brought in meanwhile, and removing documents the feed no longer has."""
    started = datetime.now(UTC)
    snapshots = await fetch_snapshots(search, tenant_id)
    async with search.write_lock:
        async with tenant_transaction(search.pool, tenant_id) as conn:
            stored = await store.versions(conn, KIND)
        indexed = await search.index.versions(tenant_id)
        upserts = [
            s
            for s in snapshots
            if not (s.poc_id in stored and stored[s.poc_id]["version"] > s.version)
        ]
        present = {s.poc_id for s in snapshots}
        candidates = set(indexed) | {d for d, r in stored.items() if not r["deleted"]}
        removals = [
            Removal(
                tenant_id,
                doc_id,
                max(indexed.get(doc_id, 0), stored[doc_id]["version"] if doc_id in stored else 0),
            )
            for doc_id in candidates - present
            if not (doc_id in stored and stored[doc_id]["indexed_at"] > started)
        ]
        await search.index.apply(upserts, removals)
        async with tenant_transaction(search.pool, tenant_id) as conn:
            await store.record(
                conn,
                tenant_id,
                KIND,
                [store.Indexed(s.poc_id, s.version, False) for s in upserts],
                force=True,
            )
            await store.record(
                conn,
                tenant_id,
                KIND,
                [store.Indexed(r.poc_id, r.version, True) for r in removals],
                force=True,
            )
    return ReindexReport(len(upserts), len(removals), len(snapshots) - len(upserts))


async def known_tenants(search: Search) -> list[uuid.UUID]:
    async with search.pool.acquire() as conn:
        return await store.known_tenants(conn)


async def run_search(search: Search, query: SearchQuery) -> SearchPage:
    """Query the index; a cursor it did not make is a 400, an unreachable index a 503."""
    started = time.perf_counter()
    try:
        page = await search.index.search(query)
    except BadCursor:
        raise Problem(400, "The cursor is malformed") from None
    except (OSError, ConnectionError) as exc:
        raise Problem(503, "The search index is not reachable") from exc
    _log.debug("searched", ms=round((time.perf_counter() - started) * 1000, 2), total=page.total)
    return page
