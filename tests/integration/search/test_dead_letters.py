"""Poison events: parked as dead letters after N attempts, never during an outage, and never
holding back the events behind them; on the in-memory bus and on real Redis Streams."""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from platform_api.dojos.events import dojo_event
from platform_api.kernel import tenant_transaction
from platform_api.kernel.erasure import tenant_deleted
from platform_api.kernel.events import Consumer, Event, InMemoryBus, Publisher
from platform_api.kernel.events_redis import RedisStreamsConsumer, RedisStreamsPublisher
from platform_api.search import dead_letters
from platform_api.search.consumer import IndexConsumer
from platform_api.search.index_dojos import DojoDocument, DojoIndex, DojoQuery, DojoRemoval
from platform_api.search.index_dojos_tantivy import TantivyDojoIndex
from platform_api.search.service import Search
from platform_api.search.settings import SearchSettings

REDELIVER_AFTER = 0.2
MAX_ATTEMPTS = 3


class FaultyDojoIndex:
    """The real embedded index, except that it refuses some documents (as OpenSearch refuses
    one that breaks its mapping) and can be taken away altogether (an outage)."""

    def __init__(self, inner: DojoIndex, poison: set[uuid.UUID]) -> None:
        self.inner = inner
        self.poison = poison
        self.down = False
        self.refuse_drop = False  # an erasure that fails while the index answers

    async def drop_tenant(self, tenant_id: uuid.UUID) -> None:
        if self.refuse_drop:
            raise RuntimeError("delete_by_query: version conflicts")
        await self.inner.drop_tenant(tenant_id)

    async def apply(self, upserts: Sequence[DojoDocument], removals: Sequence[DojoRemoval]) -> None:
        if self.down:
            raise ConnectionError("the index is away")
        if any(d.dojo_id in self.poison for d in upserts):
            raise RuntimeError("mapper_parsing_exception")
        await self.inner.apply(upserts, removals)

    async def ping(self) -> None:
        if self.down:
            raise ConnectionError("the index is away")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@dataclass
class Rig:
    engine: Search
    index: FaultyDojoIndex
    publisher: Publisher
    consumer: Consumer

    async def consume(self, until: float = 10.0) -> None:
        """Run the consumer until the bus has nothing left for it."""
        worker = IndexConsumer(
            self.engine, self.consumer, wait_seconds=0.05, max_attempts=MAX_ATTEMPTS
        )
        deadline = time.monotonic() + until
        while await self.consumer.lag():
            assert time.monotonic() < deadline, "the consumer did not get through"
            try:
                await worker.run_once()
            except ConnectionError:
                if not self.index.down:
                    raise


@pytest.fixture(params=["memory", "redis"])
async def rig(
    request: pytest.FixtureRequest, search: httpx.AsyncClient, redis_url: str
) -> AsyncIterator[Rig]:
    engine: Search = search.app.state.search  # type: ignore[attr-defined]
    index = FaultyDojoIndex(TantivyDojoIndex(), poison=set())
    original, engine.dojo_index = engine.dojo_index, index  # type: ignore[assignment]
    if request.param == "memory":
        bus = InMemoryBus(topics=["dojo", "identity"], redeliver_after=REDELIVER_AFTER)
        yield Rig(engine, index, bus, bus)
    else:
        prefix = f"test-dead-{uuid.uuid4().hex[:8]}"
        publisher = RedisStreamsPublisher.from_url(redis_url, prefix=prefix)
        consumer = await RedisStreamsConsumer.open(
            redis_url,
            topics=["dojo", "identity"],
            group="search",
            name="c1",
            prefix=prefix,
            claim_idle_seconds=REDELIVER_AFTER,
        )
        yield Rig(engine, index, publisher, consumer)
        client = aioredis.Redis.from_url(redis_url)
        await client.delete(f"{prefix}:dojo", f"{prefix}:identity")
        for closeable in (client, publisher, consumer):
            await closeable.aclose()
    engine.dojo_index = original
    await index.inner.aclose()


def _created(tenant: uuid.UUID, name: str) -> Event:
    """A ``dojo.created`` event as the dojo service makes it."""
    now = datetime.now(UTC)
    creator = uuid.uuid4()
    row = {
        "dojo_id": uuid.uuid4(), "tenant_id": tenant, "creator_id": creator, "name": name,
        "description": "", "language": "Python", "format": "randori", "status": "scheduled",
        "is_private": False, "tags": [], "version": 1, "scheduled_start_time": None,
        "created_at": now, "started_at": None, "ended_at": None,
    }  # fmt: skip
    return dojo_event("dojo.created", row, [creator])


async def _names(engine: Search, tenant: uuid.UUID) -> list[str]:
    page = await engine.dojo_index.search(DojoQuery(tenant, uuid.uuid4(), sort="name"))
    return [h.document.name for h in page.hits]


async def _parked(engine: Search, tenant: uuid.UUID) -> list[Any]:
    async with tenant_transaction(engine.pool, tenant) as conn:
        return await conn.fetch("SELECT * FROM dead_letters ORDER BY type, event_id")


async def test_a_poison_event_is_parked_after_n_attempts(rig: Rig) -> None:
    tenant = uuid.uuid4()
    poison, good = _created(tenant, "Poison kata"), _created(tenant, "Good kata")
    rig.index.poison.add(poison.aggregate_id)
    await rig.publisher.publish([poison, good])
    await rig.consume()
    # The good event was not held back; the poison one was tried MAX_ATTEMPTS times.
    assert await _names(rig.engine, tenant) == ["Good kata"]
    parked = await _parked(rig.engine, tenant)
    assert [(r["event_id"], r["attempts"]) for r in parked] == [(poison.id, MAX_ATTEMPTS)]
    assert "mapper_parsing_exception" in parked[0]["reason"]
    assert parked[0]["event"]["payload"]["name"] == "Poison kata"
    assert await rig.consumer.lag() == 0  # acknowledged: it does not come back
    samples = [s for m in rig.engine.metrics.events.collect() for s in m.samples]
    assert any(s.labels == {"outcome": "dead_lettered"} and s.value >= 1 for s in samples)
    # Once the index accepts it, a replay indexes it and clears the dead letter.
    rig.index.poison.clear()
    assert await dead_letters.replay(rig.engine, tenant) == (1, 0)
    assert await _names(rig.engine, tenant) == ["Good kata", "Poison kata"]
    assert await _parked(rig.engine, tenant) == []


async def test_an_outage_parks_nothing(rig: Rig) -> None:
    tenant = uuid.uuid4()
    events = [_created(tenant, f"Kata {n}") for n in range(3)]
    rig.index.down = True
    await rig.publisher.publish(events)
    worker = IndexConsumer(rig.engine, rig.consumer, wait_seconds=0.05, max_attempts=MAX_ATTEMPTS)
    deadline = time.monotonic() + (MAX_ATTEMPTS + 2) * REDELIVER_AFTER * 3
    attempts = 0
    while time.monotonic() < deadline:
        try:
            await worker.run_once()
        except ConnectionError:
            attempts += 1
    assert attempts > MAX_ATTEMPTS  # every delivery failed, many more times than the limit
    assert await _parked(rig.engine, tenant) == []
    assert await rig.consumer.lag() == 3
    rig.index.down = False
    await rig.consume()
    assert await _names(rig.engine, tenant) == ["Kata 0", "Kata 1", "Kata 2"]
    assert await _parked(rig.engine, tenant) == []


async def test_the_dead_letters_command(
    search: httpx.AsyncClient,
    search_settings: SearchSettings,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    engine: Search = search.app.state.search  # type: ignore[attr-defined]
    tenant = uuid.uuid4()
    stuck = _created(tenant, "Stuck kata")
    broken = _created(tenant, "Broken kata")
    broken = dataclasses.replace(broken, payload={**broken.payload, "created_at": "then"})
    await dead_letters.park(engine, stuck, "failed 5 times: RuntimeError()", attempts=5)
    await dead_letters.park(engine, broken, "malformed: bad date", attempts=1)
    settings = search_settings.model_copy(update={"data_dir": str(tmp_path), "consume": False})
    assert await dead_letters.main(["--tenant", str(tenant)], settings=settings) == 2
    listed = capsys.readouterr().out
    assert f"{stuck.id} dojo.created v1 after 5: failed 5 times" in listed
    assert await dead_letters.main(["--tenant", str(tenant), "--replay"], settings=settings) == 2
    assert f"{tenant}: replayed 1, still unusable 1" in capsys.readouterr().out
    assert [r["event_id"] for r in await _parked(engine, tenant)] == [broken.id]
    rebuilt = TantivyDojoIndex(tmp_path)
    page = await rebuilt.search(DojoQuery(tenant, uuid.uuid4()))
    assert [h.document.name for h in page.hits] == ["Stuck kata"]
    await rebuilt.aclose()


async def test_a_replay_goes_on_past_an_event_that_fails_again(rig: Rig) -> None:
    tenant = uuid.uuid4()
    still_poison, fixed = _created(tenant, "Still poison kata"), _created(tenant, "Fixed kata")
    for event in (still_poison, fixed):
        await dead_letters.park(rig.engine, event, "failed 3 times: RuntimeError()", attempts=3)
    rig.index.poison.add(still_poison.aggregate_id)
    # One that the index still refuses stays parked; it does not stop the others.
    assert await dead_letters.replay(rig.engine, tenant) == (1, 1)
    assert await _names(rig.engine, tenant) == ["Fixed kata"]
    assert [r["event_id"] for r in await _parked(rig.engine, tenant)] == [still_poison.id]


async def test_an_erasure_that_keeps_failing_is_never_parked(rig: Rig) -> None:
    """Erasure is an obligation: past MAX_ATTEMPTS it is still tried, never set aside."""
    tenant, bystander = uuid.uuid4(), uuid.uuid4()
    rig.index.refuse_drop = True
    await rig.publisher.publish([tenant_deleted(tenant), _created(bystander, "Good kata")])
    worker = IndexConsumer(rig.engine, rig.consumer, wait_seconds=0.05, max_attempts=MAX_ATTEMPTS)
    deadline = time.monotonic() + (MAX_ATTEMPTS + 2) * REDELIVER_AFTER * 3
    while time.monotonic() < deadline:
        await worker.run_once()
    assert await _names(rig.engine, bystander) == ["Good kata"]  # not held back by it
    assert await _parked(rig.engine, tenant) == []
    assert await rig.consumer.lag() == 1
    rig.index.refuse_drop = False
    await rig.consume()
    async with rig.engine.pool.acquire() as conn:
        assert (
            await conn.fetchval("SELECT count(*) FROM erased_tenants WHERE tenant_id = $1", tenant)
            == 1
        )
