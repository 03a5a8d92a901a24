"""Collab fixtures: rooms, clients, a slow update log and a slow access ledger (keys, ``mint``
and ``start_node`` are in ../conftest.py)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from platform_api.kernel import create_pool
from platform_api.kernel.provision import ServiceDatabase
from rooms import (
    AccessLedger,
    LocalSnapshotStore,
    PostgresUpdateLog,
    RoomId,
    SnapshotStore,
    StoredState,
)
from tests.harness.redis_cluster import (
    ThrowawayCluster,
    redis_cluster,
    redis_cluster_with_replicas,
)
from tests.harness.ywire import YClient, eventually
from tests.integration.conftest import Mint, StartNode

__all__ = [
    "Connect",
    "Mint",
    "SlowLedger",
    "SlowLoads",
    "StartNode",
    "ThrowawayCluster",
    "control",
    "no_rooms_loaded",
    "node_evictions",
    "node_metric",
    "post_update",
    "redis_cluster",
    "redis_cluster_with_replicas",
]


@pytest.fixture
def room_key() -> str:
    return f"{uuid.uuid4()}:dojo-{uuid.uuid4().hex[:8]}"


Connect = Callable[..., Awaitable[YClient]]


@pytest.fixture
async def connect(mint: Mint) -> AsyncIterator[Connect]:
    clients: list[YClient] = []

    async def make(
        base: str, room: str, *, role: str = "write", ticket: str | None = None, **kw: Any
    ) -> YClient:
        token = ticket if ticket is not None else mint(room, role=role, **kw)
        query = f"?ticket={token}" if token else ""
        client = YClient(f"{base}/{room}{query}")
        clients.append(client)
        return await client.connect()

    yield make
    for client in clients:
        await client.close()


async def post_update(base: str, mint: Mint, room: str, update: bytes) -> tuple[int, Any]:
    """Post a raw update through the internal API, as a service does: status and JSON body."""
    http = base.replace("ws://", "http://").removesuffix("/collab")
    service = {"Authorization": f"Bearer {mint(room, role='service')}"}
    async with aiohttp.ClientSession() as session:
        response = await session.post(
            f"{http}/internal/rooms/{room}/updates", data=update, headers=service
        )
        return response.status, await response.json(content_type=None)


async def control(base: str, mint: Mint, room: str, command: dict[str, str]) -> None:
    """Change access the way the dojo service does: through the internal API."""
    http = base.replace("ws://", "http://").removesuffix("/collab")
    service = {"Authorization": f"Bearer {mint(room, role='service')}"}
    async with aiohttp.ClientSession() as session:
        response = await session.post(
            f"{http}/internal/rooms/{room}/control", json=command, headers=service
        )
        assert response.status == 200


async def node_metric(base: str, name: str) -> float:
    """The value of a node's unlabelled metric ``name``, from its ``/metrics``."""
    http = base.replace("ws://", "http://").removesuffix("/collab")
    async with aiohttp.ClientSession() as session:
        metrics = await (await session.get(f"{http}/metrics")).text()
    line = next(x for x in metrics.splitlines() if x.startswith(f"{name} "))
    return float(line.split()[1])


async def node_evictions(base: str) -> dict[str, float]:
    """A node's ``collab_evictions_total`` by close code, from its ``/metrics``."""
    http = base.replace("ws://", "http://").removesuffix("/collab")
    async with aiohttp.ClientSession() as session:
        metrics = await (await session.get(f"{http}/metrics")).text()
    counts: dict[str, float] = {}
    for line in metrics.splitlines():
        if line.startswith('collab_evictions_total{reason="'):
            labels, value = line.rsplit(" ", 1)
            counts[labels.split('"')[1]] = float(value)
    return counts


async def no_rooms_loaded(base: str) -> bool:
    return await node_metric(base, "collab_rooms") == 0


class SlowLoads(PostgresUpdateLog):
    """The PostgreSQL update log, whose loads wait while ``gate`` is clear and fail while
    ``failing`` is above zero (one fewer each time); it counts the loads that start, finish,
    and are cancelled while they wait."""

    def __init__(self, pool: asyncpg.Pool, snapshots: SnapshotStore) -> None:
        super().__init__(pool, snapshots)
        self.gate = asyncio.Event()
        self.gate.set()
        self.failing = 0
        self.started = self.finished = self.cancelled = 0

    async def load(self, room: RoomId) -> StoredState:
        self.started += 1
        if self.failing > 0:
            self.failing -= 1
            raise ConnectionError("the database is away for a moment")
        try:
            await self.gate.wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        stored = await super().load(room)
        self.finished += 1
        return stored


@pytest.fixture
async def slow_log(collab_db: ServiceDatabase, tmp_path: Path) -> AsyncIterator[SlowLoads]:
    """Requested before ``start_node``, so that it outlives the nodes using it."""
    pool = await create_pool(collab_db.app_dsn, min_size=1, max_size=4)
    log = SlowLoads(pool, LocalSnapshotStore(tmp_path / "snapshots"))
    async with log:
        yield log
    await pool.close()


class SlowLedger:
    """A real access ledger whose next ``latest()`` answer stays in flight until ``release``
    is set, as on a slow round trip: the read itself is done at once."""

    def __init__(self, ledger: AccessLedger) -> None:
        self._ledger = ledger
        self._hold = False
        self.holding = asyncio.Event()
        self.release = asyncio.Event()

    def hold_next(self) -> None:
        self._hold = True

    async def record(self, room: RoomId, user: str, state: str, at: float) -> None:
        await self._ledger.record(room, user, state, at)

    async def latest(self, room: RoomId, user: str) -> tuple[str, float] | None:
        answer = await self._ledger.latest(room, user)
        if self._hold:
            self._hold = False
            self.holding.set()
            await self.release.wait()
        return answer

    async def entries(self, room: RoomId) -> dict[str, tuple[str, float]]:
        return await self._ledger.entries(room)


async def hold_room_on_two_nodes(
    start_node: StartNode,
    connect: Connect,
    room_key: str,
    slow_log: SlowLoads,
    *,
    first: dict[str, Any],
    second: dict[str, Any],
) -> tuple[YClient, YClient]:
    """A peer on each of two nodes (the second on ``slow_log``), once both hold the room and
    the second has loaded it and caught up on the first's FRESH answer to its hello."""
    a = await connect(await start_node(**first), room_key)
    b = await connect(await start_node(update_log=slow_log, **second), room_key)
    await a.insert("a ")
    await b.insert("b ")
    await eventually(lambda: len(str(a)) == len(str(b)) == 4, what="both nodes hold the room")
    await eventually(lambda: slow_log.started == slow_log.finished == 2, what="settled")
    return a, b


async def fan_out_goes_on_during_a_catch_up(
    a: YClient,
    b: YClient,
    slow_log: SlowLoads,
    gap: Callable[[], Awaitable[object]],
    what: str,
) -> None:
    """``gap`` makes b's node catch up from the log, which waits on ``slow_log``: meanwhile
    a's updates still reach b (the catch-up runs beside the bus reader), and once the log
    answers b has everything."""
    slow_log.gate.clear()
    await gap()
    await eventually(lambda: slow_log.started == 3, what=what)
    await a.insert("during ")
    await eventually(lambda: "during" in str(b), timeout=5, what="fan-out during the catch-up")
    slow_log.gate.set()
    await eventually(lambda: str(b) == str(a), what="the catch-up ends")


async def first_message(url: str, timeout: float = 10) -> aiohttp.WSMessage:
    """The first thing a bare WebSocket to ``url`` receives (a close, for a refused one)."""
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        return await ws.receive(timeout=timeout)
