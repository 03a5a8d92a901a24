"""Search use cases: apply POC and dojo events to the index (idempotent, out-of-order safe),
rebuild a tenant's documents from the POC and dojo services' feeds, and query.

Both kinds follow one rule: the newest version of a document wins. The ``search`` database
keeps the version the index holds per (tenant, kind, document); duplicates and older events
are skipped, and a late update never undoes a removal.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeAlias

import asyncpg
import httpx
import structlog
from prometheus_client import CollectorRegistry, Gauge, Histogram
from prometheus_client import Counter as PromCounter

from platform_api.kernel import Problem, tenant_transaction
from platform_api.kernel.erasure import TENANT_DELETED
from platform_api.kernel.events import Event

from . import store
from .index import BadCursor, PocDocument, Removal, SearchIndex, SearchPage, SearchQuery
from .index_dojos import DojoDocument, DojoIndex, DojoPage, DojoQuery, DojoRemoval
from .settings import SearchSettings

_log = structlog.get_logger("search")
KIND = "poc"
DOJO = "dojo"
UPSERTS = ("poc.created", "poc.updated", "poc.restored")
REMOVALS = ("poc.deleted", "poc.purged")
DOJO_UPSERTS = (
    "dojo.created",
    "dojo.updated",
    "dojo.started",
    "dojo.ended",
    "dojo.archived",
    "dojo.participant.joined",
    "dojo.participant.left",
)
MAX_VERSION = 2**31 - 1  # index_versions.version is an integer column
Change: TypeAlias = PocDocument | Removal | DojoDocument | DojoRemoval
Item: TypeAlias = tuple[Event, Change]


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
    dojo_index: DojoIndex
    dojos_client: httpx.AsyncClient
    write_lock: asyncio.Lock = field(default_factory=asyncio.Lock)


def _parse(event: Event) -> tuple[str, Change] | None:
    """The index change an event asks for and its kind; None for events this index does not
    use; ValueError for a payload it cannot use."""
    if event.version > MAX_VERSION:
        raise ValueError("the version is out of range")
    if event.type in REMOVALS:
        return KIND, Removal(event.tenant_id, event.aggregate_id, event.version)
    change: PocDocument | DojoDocument
    if event.type in UPSERTS:
        change = PocDocument.from_payload(event.payload)
    elif event.type in DOJO_UPSERTS:
        change = DojoDocument.from_payload(event.payload)
    else:
        return None
    if change.key != (event.tenant_id, event.aggregate_id) or change.version != event.version:
        raise ValueError("the payload does not match the envelope")
    return (KIND if isinstance(change, PocDocument) else DOJO), change


async def _write(search: Search, kind: str, changes: Sequence[Change]) -> None:
    if kind == KIND:
        await search.index.apply(
            [c for c in changes if isinstance(c, PocDocument)],
            [c for c in changes if isinstance(c, Removal)],
        )
    else:
        await search.dojo_index.apply(
            [c for c in changes if isinstance(c, DojoDocument)],
            [c for c in changes if isinstance(c, DojoRemoval)],
        )


async def apply_events(search: Search, events: Sequence[Event]) -> Counter[str]:
    """Bring the index up to date with ``events``: newest version per document wins, always.

    Duplicates and events older than what the index holds are skipped (their versions are
    in the ``search`` database). The index is written first and the versions after, so a
    crash in between only makes the redelivered events apply again (idempotent). Events
    whose payload is unusable are counted ``malformed`` and parked as dead letters.
    """
    from .dead_letters import park

    outcomes: Counter[str] = Counter()
    for event in events:
        if event.type == TENANT_DELETED:
            await erase_tenant(search, event.tenant_id)
            outcomes["erased"] += 1
    latest: dict[tuple[str, uuid.UUID, uuid.UUID], Item] = {}
    for event in events:
        if event.type == TENANT_DELETED:
            continue
        try:
            parsed = _parse(event)
        except ValueError as exc:
            _log.error("malformed_event", event_id=str(event.id), error=str(exc))
            await park(search, event, f"malformed: {exc}", attempts=1)
            outcomes["malformed"] += 1
            continue
        if parsed is None:
            outcomes["ignored"] += 1
            continue
        kind, change = parsed
        key = (kind, event.tenant_id, event.aggregate_id)
        if key in latest:
            outcomes["stale"] += 1
            if latest[key][0].version >= event.version:
                continue
        latest[key] = (event, change)
    groups: dict[tuple[uuid.UUID, str], list[Item]] = {}
    for (kind, tenant_id, _), item in latest.items():
        groups.setdefault((tenant_id, kind), []).append(item)
    async with search.write_lock:
        async with search.pool.acquire() as conn:
            erased = await store.erased_tenants(conn, {tenant for tenant, _ in groups})
        fresh: dict[tuple[uuid.UUID, str], list[Item]] = {}
        for (tenant_id, kind), items in groups.items():
            if tenant_id in erased:  # late news of an organization that is gone
                outcomes["ignored"] += len(items)
                continue
            async with tenant_transaction(search.pool, tenant_id) as conn:
                stored = await store.versions(conn, kind, [e.aggregate_id for e, _ in items])
            for event, change in items:
                known = stored.get(event.aggregate_id)
                if known is not None and known["version"] >= event.version:
                    outcomes["stale"] += 1
                else:
                    fresh.setdefault((tenant_id, kind), []).append((event, change))
        for kind in (KIND, DOJO):
            changes = [c for (_, k), items in fresh.items() if k == kind for _, c in items]
            await _write(search, kind, changes)
        for (tenant_id, kind), items in fresh.items():
            entries = [
                store.Indexed(
                    e.aggregate_id,
                    e.version,
                    isinstance(c, Removal | DojoRemoval),
                    e.id,
                    e.occurred_at,
                )
                for e, c in items
            ]
            async with tenant_transaction(search.pool, tenant_id) as conn:
                await store.record(conn, tenant_id, kind, entries)
    applied = [e for items in fresh.values() for e, _ in items]
    _observe(search, applied, outcomes)
    return outcomes


async def erase_tenant(search: Search, tenant_id: uuid.UUID) -> None:
    """Remove an erased organization's POCs and dojos from the index, and its bookkeeping.

    The mark goes first, so that batches checking it from now on skip the organization
    (a consumer process that checked just before writes its batch anyway: identity's second
    erasure, once the organization's tokens have expired, takes that too). A crash before
    the index is dropped leaves the event to be redelivered; every step is idempotent. A
    deleted member needs nothing here: the POC service erases what only they could reach,
    with the usual removal events.
    """
    async with search.write_lock:
        async with tenant_transaction(search.pool, tenant_id) as conn:
            await store.erase_tenant(conn, tenant_id)
        await search.index.drop_tenant(tenant_id)
        await search.dojo_index.drop_tenant(tenant_id)


def _observe(search: Search, applied: list[Event], outcomes: Counter[str]) -> None:
    if applied:
        outcomes["applied"] += len(applied)
        now = datetime.now(UTC)
        for event in applied:
            search.metrics.lag_histogram.observe((now - event.occurred_at).total_seconds())
        search.metrics.lag.set(max((now - e.occurred_at).total_seconds() for e in applied))
    for outcome, count in outcomes.items():
        search.metrics.events.labels(outcome).inc(count)


async def _feed(
    client: httpx.AsyncClient, path: str, token: str, service: str
) -> list[dict[str, Any]]:
    """Every item of a service's internal feed (``X-Service-Token``), page by page."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"limit": 500, **({"cursor": cursor} if cursor else {})}
        try:
            response = await client.get(path, params=params, headers={"X-Service-Token": token})
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise Problem(
                503,
                "The {service} service could not be read: {error}",
                params={"service": service, "error": type(exc).__name__},
            ) from exc
        page = response.json()
        items += page["items"]
        cursor = page.get("next_cursor")
        if not cursor:
            return items


async def fetch_snapshots(search: Search, tenant_id: uuid.UUID) -> list[PocDocument]:
    """Every live POC of a tenant, from the POC service's internal feed."""
    token = search.settings.effective_service_token()
    path = f"/internal/tenants/{tenant_id}/pocs"
    return [
        PocDocument.from_payload(i) for i in await _feed(search.pocs_client, path, token, "POC")
    ]


async def fetch_dojos(search: Search, tenant_id: uuid.UUID) -> list[DojoDocument]:
    """Every dojo of a tenant, from the dojo service's internal feed."""
    token = search.settings.effective_dojos_token()
    path = f"/internal/tenants/{tenant_id}/dojos"
    items = await _feed(search.dojos_client, path, token, "dojo")
    return [DojoDocument.from_payload(i) for i in items]


@dataclass(frozen=True)
class RebuildCounts:
    indexed: int
    removed: int
    kept_newer: int


@dataclass(frozen=True)
class ReindexReport(RebuildCounts):
    """POC counts (as before dojos were indexed) and the dojos'."""

    dojos: RebuildCounts = RebuildCounts(0, 0, 0)


async def _rebuild(
    search: Search,
    tenant_id: uuid.UUID,
    kind: str,
    snapshots: Sequence[PocDocument | DojoDocument],
    indexed_versions: Callable[[uuid.UUID], Awaitable[dict[uuid.UUID, int]]],
    started: datetime,
) -> RebuildCounts:
    """Write ``snapshots`` (a feed whose reading began at ``started``) unless events brought
    something newer meanwhile, and remove what the feed no longer has (unless an event
    indexed it since ``started``: the feed may have been read before it existed)."""
    async with search.write_lock:
        async with tenant_transaction(search.pool, tenant_id) as conn:
            stored = await store.versions(conn, kind)
        indexed = await indexed_versions(tenant_id)
        upserts = [
            s
            for s in snapshots
            if not (s.doc_id in stored and stored[s.doc_id]["version"] > s.version)
        ]
        present = {s.doc_id for s in snapshots}
        candidates = set(indexed) | {d for d, r in stored.items() if not r["deleted"]}
        gone = [
            (
                doc_id,
                max(indexed.get(doc_id, 0), stored[doc_id]["version"] if doc_id in stored else 0),
            )
            for doc_id in candidates - present
            if not (doc_id in stored and stored[doc_id]["indexed_at"] > started)
        ]
        removals: list[Change] = [
            Removal(tenant_id, d, v) if kind == KIND else DojoRemoval(tenant_id, d, v)
            for d, v in gone
        ]
        await _write(search, kind, [*upserts, *removals])
        async with tenant_transaction(search.pool, tenant_id) as conn:
            await store.record(
                conn,
                tenant_id,
                kind,
                [store.Indexed(s.doc_id, s.version, False) for s in upserts]
                + [store.Indexed(d, v, True) for d, v in gone],
                force=True,
            )
    return RebuildCounts(len(upserts), len(gone), len(snapshots) - len(upserts))


async def reindex_tenant(search: Search, tenant_id: uuid.UUID) -> ReindexReport:
    """Rebuild a tenant's POCs and dojos from the services' feeds, keeping anything newer
    that events brought in meanwhile, and removing documents the feeds no longer have."""
    async with search.pool.acquire() as conn:
        if await store.erased_tenants(conn, [tenant_id]):
            return ReindexReport(0, 0, 0)  # erased: nothing to index, whatever a feed has
    started = datetime.now(UTC)  # before the feed is read, not after
    pocs = await fetch_snapshots(search, tenant_id)
    poc_counts = await _rebuild(search, tenant_id, KIND, pocs, search.index.versions, started)
    started = datetime.now(UTC)
    dojos = await fetch_dojos(search, tenant_id)
    dojo_counts = await _rebuild(
        search, tenant_id, DOJO, dojos, search.dojo_index.versions, started
    )
    return ReindexReport(**poc_counts.__dict__, dojos=dojo_counts)


async def rebuild_after_upgrade(
    search: Search, *, tenants: Sequence[uuid.UUID] | None = None, first_retry: float = 2.0
) -> None:
    """Fill indexes opened empty beside an earlier schema version's directory (their
    ``older_versions``) from the services' feeds, for every tenant seen (or ``tenants``),
    then delete the old directories. What fails (a service or the database still starting)
    is tried again, waiting longer each time; searches meanwhile answer from what is in so
    far, and events keep coming in (a rebuild keeps whatever they made newer)."""
    upgraded: list[Any] = [
        index for index in (search.index, search.dojo_index) if getattr(index, "older_versions", [])
    ]
    if not upgraded:
        return
    pending = list(tenants) if tenants is not None else None
    wait = first_retry
    while True:
        failed: list[uuid.UUID] = []
        try:
            if pending is None:
                pending = await known_tenants(search)
                _log.info("index_upgrade_rebuild_started", tenants=len(pending))
            for tenant_id in pending:
                try:
                    await reindex_tenant(search, tenant_id)
                except Exception as exc:  # a service away: this tenant comes again
                    failed.append(tenant_id)
                    _log.warning(
                        "index_upgrade_rebuild_failed", tenant=str(tenant_id), error=repr(exc)
                    )
        except Exception as exc:  # the database away: start again
            _log.warning("index_upgrade_rebuild_failed", error=repr(exc))
        else:
            if not failed:
                break
            pending = failed
        await asyncio.sleep(wait)
        wait = min(wait * 2, 60.0)
    for index in upgraded:
        index.forget_older_versions()
    _log.info("index_upgrade_rebuild_done")


async def known_tenants(search: Search) -> list[uuid.UUID]:
    async with search.pool.acquire() as conn:
        return await store.known_tenants(conn)


async def run_search(search: Search, query: SearchQuery) -> SearchPage:
    """Query the POC index; a cursor it did not make is a 400, an unreachable index a 503."""
    started = time.perf_counter()
    try:
        page = await search.index.search(query)
    except BadCursor:
        raise Problem(400, "The cursor is malformed") from None
    except (OSError, ConnectionError) as exc:
        raise Problem(503, "The search index is not reachable") from exc
    _log.debug("searched", ms=round((time.perf_counter() - started) * 1000, 2), total=page.total)
    return page


async def run_dojo_search(search: Search, query: DojoQuery) -> DojoPage:
    """Query the dojo index, with the same error mapping as :func:`run_search`."""
    try:
        return await search.dojo_index.search(query)
    except BadCursor:
        raise Problem(400, "The cursor is malformed") from None
    except (OSError, ConnectionError) as exc:
        raise Problem(503, "The search index is not reachable") from exc
