"""Fan-out: R rooms x C clients, each inserting at a fixed rate; latency, throughput, CPU.

Each insert is a marker "<sender.microseconds>" at a random index of the sender's text. A
receiver finds the markers in the raw update bytes (Yjs v1 keeps inserted strings verbatim),
so the edit-to-remote latency is measured without decoding on the hot path; updates are
applied to each client's document only after the run, for the convergence check. Echoes of
a client's own edits (both reference servers send them) are counted apart.

Edits follow a fixed schedule (open loop): a slow server makes latency grow, not the load
shrink. The first `warmup` seconds of edits are not measured. Rooms are split between
worker processes when `processes` > 1.

With several nodes of a server (several URLs), client i of every room connects to node
i % N, so each room spans the nodes and most deliveries cross from one node to another (over
the server's own bus). A receiver knows its node and finds the sender's in the marker
(ident = room * clients + index), so latencies are also split into same-node and cross-node.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context

from crdt import decode_state_vector
from loadtests.bench.stats import CpuSampler, no_gc_pauses, percentile
from loadtests.servers import ProcessProbe
from loadtests.tickets import RoomAddressing
from loadtests.ywire import YClient, room_url

MARKER = re.compile(rb"<([0-9a-f]+)\.([0-9a-f]+)>")
CONNECT_CONCURRENCY = 32


@dataclass(frozen=True)
class FanoutConfig:
    rooms: int = 10
    clients: int = 10
    rate: float = 10.0  # edits per second per client
    duration: float = 20.0
    warmup: float = 1.0  # seconds of editing before measuring (JIT, first allocations)
    drain_timeout: float = 10.0
    processes: int = 1
    prefix: str = "fanout"
    seed: int = 1
    deflate: bool = False  # offer permessage-deflate, as browsers do


@dataclass
class WorkerResult:
    sent: int = 0
    delivered: int = 0
    echoes: int = 0
    expected: int = 0
    # Edit-to-remote latencies of deliveries within one node and from one node to another.
    same_node_us: list[int] = field(default_factory=list)
    cross_node_us: list[int] = field(default_factory=list)
    rooms: int = 0
    converged: int = 0
    started_at: float = 0.0
    late_start_s: float = 0.0
    drained_at: float = 0.0
    load_cpu_s: float = 0.0
    load_window_s: float = 0.0
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Deliveries:
    """Deliveries of one kind (same-node or cross-node) and their latency."""

    delivered: int
    p50_ms: float
    p99_ms: float

    @classmethod
    def of(cls, latencies_us: Sequence[int]) -> Deliveries:
        return cls(
            len(latencies_us),
            percentile(latencies_us, 50) / 1000,
            percentile(latencies_us, 99) / 1000,
        )


@dataclass(frozen=True)
class NodeSplit:
    """With several nodes: deliveries to a client on the sender's node and on another one."""

    nodes: int
    same_node: Deliveries
    cross_node: Deliveries


@dataclass(frozen=True)
class FanoutResult:
    config: FanoutConfig
    sent: int
    delivered: int
    echoes: int
    expected: int
    window_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    rooms: int
    converged: int
    server_cpu_s: float | None
    load_cpu_pct: float
    others_cpu_pct: float  # other processes on the machine, in % of one CPU
    errors: list[str]
    node_split: NodeSplit | None = None  # None with one node

    @property
    def delivered_per_s(self) -> float:
        return self.delivered / self.window_s if self.window_s else 0.0

    @property
    def cpu_us_per_message(self) -> float | None:
        if self.server_cpu_s is None or not self.delivered:
            return None
        return self.server_cpu_s / self.delivered * 1e6

    @property
    def loss(self) -> int:
        return self.expected - self.delivered


class _Peer:
    """One client's bookkeeping; `ident` is unique across rooms and processes."""

    def __init__(self, ident: int, config: FanoutConfig, nodes: int, result: WorkerResult) -> None:
        self.ident = ident
        self.clients = config.clients
        self.nodes = nodes
        self.node = self.node_of(ident)  # the index of the node it connects to
        self.result = result
        self.client: YClient | None = None
        self.length = 0
        self.sent = 0  # measured edits: those made after the warm-up
        self.measure_from_us = 0

    def node_of(self, ident: int) -> int:
        """The node of the client `ident`: the i-th client of each room is on node i % N."""
        return ident % self.clients % self.nodes

    def on_update(self, payload: bytes, received_at_ns: int) -> None:
        now_us = received_at_ns // 1000
        for match in MARKER.finditer(payload):
            sent_us = int(match[2], 16)
            if sent_us < self.measure_from_us:
                continue
            sender = int(match[1], 16)
            if sender == self.ident:
                self.result.echoes += 1
                continue
            self.result.delivered += 1
            if self.node_of(sender) == self.node:
                self.result.same_node_us.append(now_us - sent_us)
            else:
                self.result.cross_node_us.append(now_us - sent_us)


async def _edit(peer: _Peer, rng: random.Random, config: FanoutConfig, start: float) -> None:
    assert peer.client is not None
    interval = 1.0 / config.rate
    due = start + rng.random() * interval
    end = start + config.warmup + config.duration
    while due < end:
        delay = due - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        now_us = time.time_ns() // 1000
        marker = f"<{peer.ident:x}.{now_us:x}>"
        await peer.client.insert(rng.randint(0, peer.length), marker)
        peer.length += len(marker)
        peer.sent += now_us >= peer.measure_from_us
        due += interval


def _converged(peers: list[_Peer]) -> bool:
    views = set()
    for peer in peers:
        assert peer.client is not None
        peer.client.apply_pending()
        vector = decode_state_vector(peer.client.doc.get_state(), max_bytes=1 << 20)
        views.add((tuple(sorted(vector.items())), str(peer.client.text)))
    return len(views) == 1


async def _edit_and_drain(
    rooms: list[list[_Peer]], config: FanoutConfig, start: float, result: WorkerResult
) -> None:
    async with asyncio.TaskGroup() as group:
        for peer in (peer for room in rooms for peer in room):
            group.create_task(_edit(peer, random.Random(config.seed + peer.ident), config, start))
    for room in rooms:
        sent = sum(peer.sent for peer in room)
        result.sent += sent
        result.expected += sent * (config.clients - 1)
    deadline = time.monotonic() + config.drain_timeout
    # The counters are bumped by a plain callback per update: polling them is cheaper.
    while result.delivered < result.expected and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    result.drained_at = time.time()


async def run_worker(
    urls: Sequence[str],
    addressing: RoomAddressing,
    config: FanoutConfig,
    room_ids: list[int],
    start: float | None,
) -> WorkerResult:
    """Connect this worker's rooms (client i of each to node i % N), edit from wall time
    `start` (None: once connected), drain, check convergence."""
    result = WorkerResult(rooms=len(room_ids))
    rooms = [
        [_Peer(r * config.clients + i, config, len(urls), result) for i in range(config.clients)]
        for r in room_ids
    ]
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def join(room_id: int, peer: _Peer) -> None:
        name = f"{config.prefix}-{room_id}"
        async with gate:
            url = urls[peer.node]
            target = room_url(url, addressing.room(name), addressing.query(name))
            peer.client = await YClient.connect(
                target, apply_remote=False, on_update=peer.on_update, compression=config.deflate
            )
            await peer.client.wait_synced(30)

    peers = [peer for room in rooms for peer in room]
    try:
        async with asyncio.TaskGroup() as group:
            for room_id, room in zip(room_ids, rooms, strict=True):
                for peer in room:
                    group.create_task(join(room_id, peer))
        if start is None:
            start = time.time() + 0.1
        result.started_at = start + config.warmup
        result.late_start_s = max(0.0, time.time() - start)
        for peer in peers:
            peer.measure_from_us = int(result.started_at * 1e6)
        cpu_before = time.process_time()
        with no_gc_pauses():
            await _edit_and_drain(rooms, config, start, result)
        result.load_cpu_s = time.process_time() - cpu_before
        result.load_window_s = result.drained_at - start
        result.converged = sum(_converged(room) for room in rooms)
    except* Exception as group_error:
        result.errors.extend(repr(exc) for exc in group_error.exceptions)
    finally:
        for peer in peers:
            if peer.client is not None:
                await peer.client.close()
    return result


def _worker_process(
    urls: Sequence[str],
    addressing: RoomAddressing,
    config: FanoutConfig,
    room_ids: list[int],
    start: float | None,
) -> WorkerResult:
    return asyncio.run(run_worker(urls, addressing, config, room_ids, start))


async def run_fanout(
    urls: Sequence[str],
    addressing: RoomAddressing,
    config: FanoutConfig,
    probe: ProcessProbe | None,
) -> FanoutResult:
    """Run the scenario against the nodes at `urls`; rooms are dealt round-robin to
    `config.processes` workers."""
    # Worker processes start on a common wall-clock time; one in-process worker starts as
    # soon as its clients are connected.
    setup = 3.0 + 0.02 * config.rooms * config.clients / config.processes
    start = time.time() + setup if config.processes > 1 else None
    shares = [list(range(config.rooms))[i :: config.processes] for i in range(config.processes)]
    with CpuSampler(probe) as sampler:
        if config.processes == 1:
            parts = [await run_worker(urls, addressing, config, shares[0], start)]
        else:
            loop = asyncio.get_running_loop()
            with ProcessPoolExecutor(config.processes, mp_context=get_context("spawn")) as pool:
                futures = [
                    loop.run_in_executor(
                        pool, _worker_process, list(urls), addressing, config, share, start
                    )
                    for share in shares
                ]
                parts = list(await asyncio.gather(*futures))
    end = max(part.drained_at for part in parts) or time.time()
    same = [value for part in parts for value in part.same_node_us]
    cross = [value for part in parts for value in part.cross_node_us]
    latencies = same + cross
    began = min((part.started_at for part in parts if part.started_at), default=end)
    window = max(end - began, 1e-9)
    return FanoutResult(
        config=config,
        sent=sum(p.sent for p in parts),
        delivered=sum(p.delivered for p in parts),
        echoes=sum(p.echoes for p in parts),
        expected=sum(p.expected for p in parts),
        window_s=window,
        p50_ms=percentile(latencies, 50) / 1000,
        p99_ms=percentile(latencies, 99) / 1000,
        max_ms=max(latencies, default=0) / 1000,
        rooms=sum(p.rooms for p in parts),
        converged=sum(p.converged for p in parts),
        server_cpu_s=sampler.between(began, end),
        load_cpu_pct=100
        * sum(p.load_cpu_s for p in parts)
        / max(max(p.load_window_s for p in parts), 1e-9),
        others_cpu_pct=100 * sampler.others_between(began, end) / window,
        errors=[e for p in parts for e in p.errors]
        + [f"worker started {p.late_start_s:.1f} s late" for p in parts if p.late_start_s > 0.5],
        node_split=(
            NodeSplit(len(urls), Deliveries.of(same), Deliveries.of(cross))
            if len(urls) > 1
            else None
        ),
    )
