"""Idle connections: the server's memory per open connection and the time to connect.

Connections are spread over rooms of `per_room` clients; "connect time" runs from opening
the TCP connection to having applied the server's SyncStep2 (y-websocket's "synced").
With several nodes of a server, client i of each room connects to node i % N (memory is
that of every node together).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from websockets.exceptions import WebSocketException

from loadtests.bench.stats import percentile
from loadtests.servers import ProcessProbe
from loadtests.tickets import RoomAddressing
from loadtests.ywire import YClient, room_url


@dataclass(frozen=True)
class IdleConfig:
    connections: int = 1000
    per_room: int = 10
    concurrency: int = 10
    prefix: str = "idle"
    deflate: bool = False  # offer permessage-deflate, as browsers do


@dataclass(frozen=True)
class IdleResult:
    config: IdleConfig
    connected: int
    connect_p50_ms: float
    connect_p99_ms: float
    rss_before: int | None
    rss_after: int | None
    errors: list[str] = field(default_factory=list)

    @property
    def rss_per_connection(self) -> float | None:
        if self.rss_before is None or self.rss_after is None or not self.connected:
            return None
        return (self.rss_after - self.rss_before) / self.connected


async def run_idle(
    urls: Sequence[str], addressing: RoomAddressing, config: IdleConfig, probe: ProcessProbe | None
) -> IdleResult:
    """Open `config.connections` connections, measure, close them all."""
    rss_before = await asyncio.to_thread(probe.settled_rss) if probe else None
    gate = asyncio.Semaphore(config.concurrency)
    clients: list[YClient] = []
    times_ms: list[float] = []
    errors: list[str] = []

    async def open_one(index: int) -> None:
        name = f"{config.prefix}-{index // config.per_room}"
        url = urls[index % config.per_room % len(urls)]
        target = room_url(url, addressing.room(name), addressing.query(name))
        async with gate:
            began = time.perf_counter()
            try:
                client = await YClient.connect(target, compression=config.deflate)
                clients.append(client)
                await client.wait_synced(30)
            except (OSError, TimeoutError, ConnectionError, WebSocketException) as exc:
                errors.append(f"connection {index}: {exc!r}")
                return
            times_ms.append((time.perf_counter() - began) * 1000)

    try:
        async with asyncio.TaskGroup() as group:
            for index in range(config.connections):
                group.create_task(open_one(index))
        rss_after = await asyncio.to_thread(probe.settled_rss) if probe else None
    finally:
        await asyncio.gather(*(client.close() for client in clients), return_exceptions=True)
    return IdleResult(
        config=config,
        connected=len(times_ms),
        connect_p50_ms=percentile(times_ms, 50),
        connect_p99_ms=percentile(times_ms, 99),
        rss_before=rss_before,
        rss_after=rss_after,
        errors=errors[:10] + ([f"... {len(errors) - 10} more"] if len(errors) > 10 else []),
    )
