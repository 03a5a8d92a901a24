"""The consumer's guarantees: idempotent, out-of-order safe, robust to bad events."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from platform_api.kernel import tenant_transaction
from platform_api.kernel.events import Event, InMemoryBus, new_event
from platform_api.search.service import Search, apply_events

from .conftest import Sync


def _poc_event(kind: str, tenant: uuid.UUID, poc: uuid.UUID, version: int, **fields: Any) -> Event:
    now = datetime.now(UTC).isoformat()
    payload = {
        "poc_id": str(poc), "tenant_id": str(tenant), "owner_id": str(tenant),
        "name": f"Version {version}", "description": "", "language": "Go", "tags": [],
        "frameworks": [], "repository_url": None, "status": "idea", "visibility": "tenant",
        "created_at": now, "updated_at": now, "version": version, **fields,
    }  # fmt: skip
    if kind in ("poc.deleted", "poc.purged"):
        payload = {"poc_id": str(poc), "owner_id": str(tenant)}
    return new_event(kind, tenant_id=tenant, aggregate_id=poc, version=version, payload=payload)


@pytest.fixture
def engine(search: httpx.AsyncClient) -> Search:
    return search.app.state.search  # type: ignore[attr-defined]


async def _names(engine: Search, tenant: uuid.UUID) -> list[str]:
    from platform_api.search.index import SearchQuery

    page = await engine.index.search(SearchQuery(tenant, tenant, sort="name"))
    return [h.document.name for h in page.hits]


async def test_newest_version_wins_whatever_the_order(engine: Search) -> None:
    for _ in range(5):
        tenant, poc = uuid.uuid4(), uuid.uuid4()
        events = [_poc_event("poc.created", tenant, poc, 1)]
        events += [_poc_event("poc.updated", tenant, poc, v) for v in range(2, 6)]
        shuffled = events + events[:3]  # and some duplicates
        random.shuffle(shuffled)
        for start in range(0, len(shuffled), 2):  # in small batches
            await apply_events(engine, shuffled[start : start + 2])
        assert await _names(engine, tenant) == ["Version 5"]


async def test_a_deletion_is_not_undone_by_a_late_update(engine: Search) -> None:
    tenant, poc = uuid.uuid4(), uuid.uuid4()
    outcomes = await apply_events(
        engine,
        [_poc_event("poc.created", tenant, poc, 1), _poc_event("poc.deleted", tenant, poc, 3)],
    )
    assert outcomes["applied"] == 1
    late = await apply_events(engine, [_poc_event("poc.updated", tenant, poc, 2)])
    assert late == {"stale": 1}
    assert await _names(engine, tenant) == []
    await apply_events(engine, [_poc_event("poc.restored", tenant, poc, 4)])
    assert await _names(engine, tenant) == ["Version 4"]
    await apply_events(engine, [_poc_event("poc.purged", tenant, poc, 5)])
    assert await _names(engine, tenant) == []


async def test_bad_and_foreign_events_are_skipped(engine: Search) -> None:
    tenant, poc = uuid.uuid4(), uuid.uuid4()
    other_tenant = uuid.uuid4()
    mismatched = _poc_event("poc.created", tenant, poc, 1, tenant_id=str(other_tenant))
    broken = _poc_event("poc.created", tenant, poc, 1, created_at="yesterday")
    unknown = _poc_event("poc.renamed", tenant, poc, 1)
    empty_dojo = new_event(
        "dojo.created", tenant_id=tenant, aggregate_id=poc, version=1, payload={}
    )
    other = new_event("chat.sent", tenant_id=tenant, aggregate_id=poc, version=1, payload={})
    huge = _poc_event("poc.updated", tenant, poc, 2**31)
    good = _poc_event("poc.created", tenant, poc, 2)
    events = [mismatched, broken, unknown, empty_dojo, other, huge, good]
    outcomes = await apply_events(engine, events)
    assert outcomes == {"malformed": 4, "ignored": 2, "applied": 1}
    assert await _names(engine, tenant) == ["Version 2"]
    assert await _names(engine, other_tenant) == []
    # The unusable ones are parked as dead letters of the envelope's tenant, once each.
    await apply_events(engine, [broken])
    async with tenant_transaction(engine.pool, tenant) as conn:
        parked = await conn.fetch("SELECT event_id, reason, attempts FROM dead_letters")
    assert {r["event_id"] for r in parked} == {mismatched.id, broken.id, empty_dojo.id, huge.id}
    assert all(r["reason"].startswith("malformed") and r["attempts"] == 1 for r in parked)


async def test_lag_metric_and_redelivery_after_a_failure(
    engine: Search, bus: InMemoryBus, sync: Sync, search: httpx.AsyncClient
) -> None:
    tenant, poc = uuid.uuid4(), uuid.uuid4()
    await bus.publish([_poc_event("poc.created", tenant, poc, 1)])
    await sync()
    assert await _names(engine, tenant) == ["Version 1"]
    metrics = (await search.get("/metrics")).text
    assert "search_index_lag_seconds " in metrics
    assert 'search_events_total{outcome="applied"}' in metrics
