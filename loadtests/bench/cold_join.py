"""Cold join: load a long editing trace into a room, then time fresh clients until synced.

A loader client replays the trace as updates (one per `ops_per_update` operations) and
stays connected (pycrdt-websocket drops a room when its last client leaves). Once a probe
client sees the whole document, `joins` fresh clients connect one after the other; each is
timed from opening the connection to having applied the server's SyncStep2.

With several nodes of a server, the loader (and the probe) use node 0 and joiner j node
j % N. On another node the first joiner finds the room not loaded there, so that node loads
it from the update log (which needs a log shared by the nodes): the max shows that load.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass

from crdt import encode_update
from loadtests.bench.stats import percentile
from loadtests.tickets import RoomAddressing
from loadtests.trace import BuiltDocument
from loadtests.ywire import YClient, room_url


@dataclass(frozen=True)
class ColdJoinConfig:
    joins: int = 5
    load_timeout: float = 120.0
    load_rate: float | None = None  # updates per second while loading (None: as fast as sent)
    room: str = "cold-join"
    deflate: bool = False  # offer permessage-deflate, as browsers do


@dataclass(frozen=True)
class ColdJoinResult:
    config: ColdJoinConfig
    ops: int
    state_bytes: int
    load_s: float
    join_ms: list[float]
    sync_bytes: int
    correct: bool

    @property
    def median_ms(self) -> float:
        return statistics.median(self.join_ms)

    @property
    def max_ms(self) -> float:
        return percentile(self.join_ms, 100)


async def _sees_document(target: str, built: BuiltDocument, deflate: bool) -> bool:
    probe = await YClient.connect(target, compression=deflate)
    try:
        await probe.wait_synced(30)
        return str(probe.text) == built.text
    finally:
        await probe.close()


async def run_cold_join(
    urls: Sequence[str], addressing: RoomAddressing, built: BuiltDocument, config: ColdJoinConfig
) -> ColdJoinResult:
    """Load `built` into a fresh room on the first node, then time `config.joins` cold joins
    spread over the nodes."""

    def target(node: int = 0) -> str:
        url = urls[node % len(urls)]
        return room_url(url, addressing.room(config.room), addressing.query(config.room))

    began = time.perf_counter()
    loader = await YClient.connect(target(), apply_remote=False, compression=config.deflate)
    try:
        await loader.wait_synced(30)
        for update in built.updates:
            await loader.ws.send(encode_update(update))
            if config.load_rate:
                await asyncio.sleep(1 / config.load_rate)
        deadline = time.monotonic() + config.load_timeout
        while not await _sees_document(target(), built, config.deflate):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the room did not hold the trace after {config.load_timeout} s")
            await asyncio.sleep(0.2)
        load_s = time.perf_counter() - began
        join_ms: list[float] = []
        correct = True
        sync_bytes = 0
        for join in range(config.joins):
            address = target(join)  # minted before the clock starts
            start = time.perf_counter()
            client = await YClient.connect(address, compression=config.deflate)
            try:
                await client.wait_synced(30)
                join_ms.append((time.perf_counter() - start) * 1000)
                correct = correct and str(client.text) == built.text
                sync_bytes = client.sync_bytes
            finally:
                await client.close()
    finally:
        await loader.close()
    return ColdJoinResult(
        config=config,
        ops=built.ops,
        state_bytes=built.state_bytes,
        load_s=load_s,
        join_ms=join_ms,
        sync_bytes=sync_bytes,
        correct=correct,
    )
