"""Outbox: each change writes its event in the same transaction; the relay publishes them."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any, cast

import asyncpg
import httpx
import pytest

from platform_api.kernel import tenant_transaction
from platform_api.kernel.events import Event, InMemoryBus, new_event
from platform_api.kernel.events_redis import RedisStreamsConsumer, RedisStreamsPublisher
from platform_api.kernel.outbox import OutboxRelay, enqueue
from platform_api.kernel.provision import ServiceDatabase
from platform_api.pocs import worker
from platform_api.pocs.service import purge_expired
from platform_api.pocs.settings import PocsSettings
from tests.harness.databases import cut_listeners
from tests.harness.identity import SignUp

from .conftest import MakePoc


async def _outbox(pool: asyncpg.Pool, tenant_id: str) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        return await conn.fetch(
            "SELECT type, body, sent_at FROM outbox WHERE tenant_id = $1 ORDER BY id",
            uuid.UUID(tenant_id),
        )


async def test_every_change_writes_one_event_with_its_version(
    pocs: httpx.AsyncClient, sign_up: SignUp, make_poc: MakePoc, owner_pool: asyncpg.Pool
) -> None:
    owner = await sign_up()
    poc = await make_poc(owner, tags=["a"])
    url = f"/pocs/{poc['poc_id']}"
    await pocs.patch(url, json={"tags": ["b"]}, headers={**owner.auth, "If-Match": '"1"'})
    refused = await pocs.patch(url, json={"tags": ["c"]}, headers={**owner.auth, "If-Match": '"1"'})
    assert refused.status_code == 412  # rolled back: no event
    await pocs.delete(url, headers=owner.auth)
    await pocs.post(f"/trash/{poc['poc_id']}/restore", headers=owner.auth)
    rows = await _outbox(owner_pool, owner.tenant_id)
    assert [(r["type"], r["body"]["version"]) for r in rows] == [
        ("poc.created", 1),
        ("poc.updated", 2),
        ("poc.deleted", 3),
        ("poc.restored", 4),
    ]
    updated = Event.from_dict(rows[1]["body"])
    assert updated.payload["tags"] == ["b"]
    assert str(updated.aggregate_id) == poc["poc_id"]
    assert str(updated.tenant_id) == owner.tenant_id
    assert set(Event.from_dict(rows[2]["body"]).payload) == {"poc_id", "owner_id"}


class FlakyPublisher:
    def __init__(self, fail: bool) -> None:
        self.fail = fail
        self.events: list[Event] = []

    async def publish(self, events: Sequence[Event]) -> None:
        if self.fail:
            raise ConnectionError("bus away")
        self.events += events

    async def aclose(self) -> None:
        return None


async def test_relay_publishes_each_event_once_and_survives_bus_outages(
    sign_up: SignUp, make_poc: MakePoc, owner_pool: asyncpg.Pool
) -> None:
    owner = await sign_up()
    for i in range(7):
        await make_poc(owner, name=f"poc {i}")
    flaky = FlakyPublisher(fail=True)
    with pytest.raises(ConnectionError):
        await OutboxRelay(owner_pool, flaky, batch_size=3).drain()
    assert all(r["sent_at"] is None for r in await _outbox(owner_pool, owner.tenant_id))
    flaky.fail = False
    # Two relays at once: SKIP LOCKED hands each row to exactly one of them.
    relays = [OutboxRelay(owner_pool, flaky, batch_size=2) for _ in range(2)]
    await asyncio.gather(*(relay.drain() for relay in relays))
    mine = [e for e in flaky.events if str(e.tenant_id) == owner.tenant_id]
    assert sorted(e.payload["name"] for e in mine) == [f"poc {i}" for i in range(7)]
    assert len({e.id for e in mine}) == 7
    assert all(r["sent_at"] is not None for r in await _outbox(owner_pool, owner.tenant_id))
    assert await relays[0].pending() == 0


async def test_a_delayed_event_waits_for_its_time(
    sign_up: SignUp, owner_pool: asyncpg.Pool
) -> None:
    """``enqueue(..., delay=...)``: the relay leaves the row alone until it is due."""
    owner = await sign_up()
    tenant = uuid.UUID(owner.tenant_id)
    later, now = (
        new_event("poc.test", tenant_id=tenant, aggregate_id=uuid.uuid4(), version=1, payload={})
        for _ in range(2)
    )
    async with tenant_transaction(owner_pool, tenant) as conn:
        await enqueue(conn, [later], delay=timedelta(hours=1))
        await enqueue(conn, [now])
    bus = InMemoryBus()
    relay = OutboxRelay(owner_pool, bus)
    await relay.drain()
    assert [e.id for e in bus.published if e.tenant_id == tenant] == [now.id]
    assert await relay.pending() == 0  # a delayed row is no backlog
    async with tenant_transaction(owner_pool, tenant) as conn:  # its hour has passed
        await conn.execute(
            "UPDATE outbox SET deliver_after = now() - interval '1 second' WHERE event_id = $1",
            later.id,
        )
    await relay.drain()
    assert [e.id for e in bus.published if e.tenant_id == tenant] == [now.id, later.id]


async def test_relay_to_redis_streams(
    sign_up: SignUp, make_poc: MakePoc, owner_pool: asyncpg.Pool, redis_url: str
) -> None:
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    owner = await sign_up()
    await OutboxRelay(owner_pool, InMemoryBus()).drain()  # earlier tests' rows
    poc = await make_poc(owner, name="Through Redis")
    publisher = RedisStreamsPublisher.from_url(redis_url, prefix=prefix)
    consumer = await RedisStreamsConsumer.open(
        redis_url, topics=["poc"], group="search", name="t", prefix=prefix
    )
    try:
        assert await OutboxRelay(owner_pool, publisher).drain() == 1
        deliveries = await consumer.receive(wait_seconds=2)
        assert [(d.event.type, str(d.event.aggregate_id)) for d in deliveries] == [
            ("poc.created", poc["poc_id"])
        ]
        await consumer.ack(deliveries)
    finally:
        await consumer._client.delete(f"{prefix}:poc")
        await publisher.aclose()
        await consumer.aclose()


@pytest.fixture
async def app_conn(pocs_db: ServiceDatabase) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(pocs_db.app_dsn)
    yield conn
    await conn.close()


async def test_purge_removes_only_expired_trash(
    pocs: httpx.AsyncClient,
    sign_up: SignUp,
    make_poc: MakePoc,
    owner_pool: asyncpg.Pool,
    app_conn: asyncpg.Connection,
) -> None:
    owner = await sign_up()
    expired, recent, live = [await make_poc(owner, name=n) for n in ("old", "recent", "live")]
    for poc in (expired, recent):
        await pocs.delete(f"/pocs/{poc['poc_id']}", headers=owner.auth)
    async with app_conn.transaction():
        await app_conn.execute("SELECT set_config('app.tenant_id', $1, true)", owner.tenant_id)
        await app_conn.execute(
            "UPDATE pocs SET deleted_at = now() - interval '31 days' WHERE poc_id = $1",
            uuid.UUID(expired["poc_id"]),
        )
    # Expired items cannot be restored any more, even before the purge ran.
    gone = await pocs.post(f"/trash/{expired['poc_id']}/restore", headers=owner.auth)
    assert gone.status_code == 404
    assert await purge_expired(owner_pool, retention=timedelta(days=30)) >= 1
    trash = (await pocs.get("/trash", headers=owner.auth)).json()["items"]
    assert [t["poc_id"] for t in trash] == [recent["poc_id"]]
    assert (await pocs.get(f"/pocs/{live['poc_id']}", headers=owner.auth)).status_code == 200
    types = [
        (r["type"], r["body"]["aggregate_id"]) for r in await _outbox(owner_pool, owner.tenant_id)
    ]
    assert ("poc.purged", expired["poc_id"]) in types
    async with app_conn.transaction():
        await app_conn.execute("SELECT set_config('app.tenant_id', $1, true)", owner.tenant_id)
        left = await app_conn.fetchval(
            "SELECT count(*) FROM poc_tags WHERE poc_id = $1", uuid.UUID(expired["poc_id"])
        )
        assert left == 0


async def _relays_a_new_poc(
    relay: OutboxRelay,
    sign_up: SignUp,
    make_poc: MakePoc,
    *,
    within: float,
    meanwhile: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Run ``relay`` while a POC is made, until its event is published (at most ``within`` s);
    ``meanwhile`` runs once the relay has started, before the POC is made."""
    assert isinstance(relay.publisher, InMemoryBus)
    published = relay.publisher.published
    task = asyncio.create_task(relay.run())
    try:
        if meanwhile is not None:
            await meanwhile()
        owner = await sign_up()
        poc = await make_poc(owner, name="Relayed")
        deadline = asyncio.get_running_loop().time() + within
        while not any(str(e.aggregate_id) == poc["poc_id"] for e in published):
            assert not task.done(), "the relay stopped"
            assert asyncio.get_running_loop().time() < deadline, "nothing was relayed in time"
            await asyncio.sleep(0.01)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_relay_loop_wakes_on_notify(
    sign_up: SignUp, make_poc: MakePoc, owner_pool: asyncpg.Pool
) -> None:
    relay = OutboxRelay(owner_pool, InMemoryBus(), poll_seconds=60)  # only NOTIFY is in time
    await _relays_a_new_poc(relay, sign_up, make_poc, within=5)


async def test_a_relay_listens_again_when_its_connection_is_lost(
    sign_up: SignUp, make_poc: MakePoc, owner_pool: asyncpg.Pool
) -> None:
    """The database restarts or fails over: the pool takes the lost listening connection back
    by itself, and the relay must notice and listen on a new one, not fail for ever."""

    async def cut_the_listener() -> None:
        for _ in range(500):
            async with owner_pool.acquire() as conn:
                cut = await cut_listeners(conn)
            if cut:
                return
            await asyncio.sleep(0.01)
        raise AssertionError("the relay never listened")

    relay = OutboxRelay(owner_pool, InMemoryBus(), poll_seconds=0.05)
    await _relays_a_new_poc(relay, sign_up, make_poc, within=10, meanwhile=cut_the_listener)


class _AwayAtFirst:
    """A pool whose first connections cannot be had (the database still starting)."""

    def __init__(self, pool: asyncpg.Pool, failures: int) -> None:
        self.pool, self.failures = pool, failures

    def acquire(self) -> Any:
        if self.failures:
            self.failures -= 1
            raise OSError("the database is starting up")
        return self.pool.acquire()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.pool, name)


async def test_a_relay_started_while_the_database_is_away_relays_once_it_is_back(
    sign_up: SignUp, make_poc: MakePoc, owner_pool: asyncpg.Pool
) -> None:
    pool = cast(asyncpg.Pool, _AwayAtFirst(owner_pool, failures=3))
    relay = OutboxRelay(pool, InMemoryBus(), poll_seconds=0.05)
    await _relays_a_new_poc(relay, sign_up, make_poc, within=10)


async def test_worker_process_relays_to_redis(
    pocs_settings: PocsSettings, sign_up: SignUp, make_poc: MakePoc, redis_url: str
) -> None:
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    settings = pocs_settings.model_copy(
        update={"event_bus": "redis", "redis_url": redis_url, "event_stream_prefix": prefix}
    )
    consumer = await RedisStreamsConsumer.open(
        redis_url, topics=["poc"], group="search", name="t", prefix=prefix
    )
    task = asyncio.create_task(worker.main(settings))
    try:
        owner = await sign_up()
        poc = await make_poc(owner, name="Via the worker")
        seen: list[str] = []
        deadline = asyncio.get_running_loop().time() + 10
        while poc["poc_id"] not in seen:
            assert asyncio.get_running_loop().time() < deadline, "the worker relayed nothing"
            deliveries = await consumer.receive(max_messages=100, wait_seconds=0.2)
            seen += [str(d.event.aggregate_id) for d in deliveries]
            await consumer.ack(deliveries)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await consumer._client.delete(f"{prefix}:poc")
        await consumer.aclose()
