"""The benchmark CLI, end to end at toy sizes: against both reference servers, and against
two nodes of ours sharing rooms through Redis."""

from __future__ import annotations

import asyncio
import json
import math
import os
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path

import pytest
import redis.asyncio as redis

from platform_api.kernel.keys import generate_private_key_pem
from platform_api.kernel.provision import ServiceDatabase
from rooms.frames import Kind, decode_frame
from tests.harness.yjs_client import require_node

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.timeout(240)
def test_compare_runs_every_scenario_and_prints_one_table(tmp_path: Path) -> None:
    require_node()
    key = tmp_path / "ticket.pem"
    key.write_text(generate_private_key_pem())
    out = tmp_path / "results.json"
    command = [
        sys.executable, "-m", "loadtests.collab_bench",
        "--server", "node", "--server", "pycrdt", "--load-cpu", "-1",
        "--ticket-key", str(key),
        "--rooms", "2", "--clients", "3", "--rate", "10", "--duration", "1.5",
        "--idle", "20", "--trace-ops", "4000", "--ops-per-update", "500", "--joins", "2",
        "--sweep-rates", "5,10", "--sweep-step", "1", "--json", str(out),
    ]  # fmt: skip
    result = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=220, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    table = result.stdout
    assert "| metric | y-websocket (node) | pycrdt-websocket |" in table
    assert "server CPU µs per delivered update" in table
    assert "WRONG" not in table
    assert "cross-node" not in table

    reports = json.loads(out.read_text())
    assert [r["name"] for r in reports] == ["y-websocket (node)", "pycrdt-websocket"]
    for report in reports:
        fanout = report["fanout"]
        assert fanout["errors"] == []
        assert fanout["delivered"] == fanout["expected"] > 0
        assert fanout["converged"] == fanout["rooms"] == 2
        assert fanout["server_cpu_s"] > 0
        assert "node_split" not in fanout  # one node: no same-node / cross-node split
        assert report["idle"]["connected"] == 20
        assert report["cold_join"]["correct"] is True
        assert len(report["sweep"]["steps"]) >= 1


async def _count_updates(
    pubsub: redis.client.PubSub, origins: Counter[bytes], stop: asyncio.Event
) -> None:
    """Count the update frames each node publishes on the bus, until `stop` and then drained."""
    while True:
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.2)
        if message is None:
            if stop.is_set():
                return
            continue
        frame = decode_frame(message["data"])
        if frame.kind is Kind.UPDATE:
            origins[frame.origin] += 1


@pytest.mark.timeout(120)
async def test_two_nodes_of_ours_measure_cross_node_fan_out(
    tmp_path: Path, collab_db: ServiceDatabase, redis_url: str
) -> None:
    """Clients of every room are spread over two nodes (PostgreSQL log, Redis bus, tickets):
    every edit reaches every other client, and deliveries from the other node are measured
    apart. Redis shows both nodes publishing updates, which a node does only for its own
    clients' edits and only while the other node holds the room too."""
    key = tmp_path / "ticket.pem"
    key.write_text(generate_private_key_pem())
    tenant = uuid.uuid4()
    env = {k: v for k, v in os.environ.items() if not k.startswith("COLLAB_")}
    env |= {
        "COLLAB_DATABASE_URL": collab_db.app_dsn,
        "COLLAB_REDIS_URL": redis_url,
        "COLLAB_TICKET_PUBLIC_KEY_FILE": str(key),
        "COLLAB_SNAPSHOT_DIR": str(tmp_path / "snapshots"),
    }
    out = tmp_path / "results.json"
    command = [
        sys.executable, "-m", "loadtests.collab_bench",
        "--server", f"ours@/collab={sys.executable} -m collab_server --port {{port}}",
        "--nodes", "2", "--load-cpu", "-1", "--ticket-key", str(key), "--tenant", str(tenant),
        "--scenarios", "fanout,cold-join",
        "--rooms", "2", "--clients", "4", "--rate", "10", "--duration", "1.5",
        "--trace-ops", "4000", "--ops-per-update", "500", "--joins", "4", "--json", str(out),
    ]  # fmt: skip
    origins: Counter[bytes] = Counter()
    stop = asyncio.Event()
    client = redis.Redis.from_url(redis_url)
    pubsub = client.pubsub()
    try:
        # The bus channels of the fan-out's rooms (the cold join runs on nodes of its own).
        await pubsub.psubscribe(f"collab:{{{tenant}:fan-*")
        listener = asyncio.create_task(_count_updates(pubsub, origins, stop))
        bench = await asyncio.create_subprocess_exec(
            *command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        stdout, stderr = await asyncio.wait_for(bench.communicate(), timeout=100)
        stop.set()
        await listener
    finally:
        await pubsub.aclose()
        await client.aclose()
    assert bench.returncode == 0, stderr.decode()[-3000:]
    table = stdout.decode()
    assert "| metric | ours (2 nodes) |" in table
    assert "fan-out over 2 nodes, cross-node: p50 / p99 (ms) (deliveries)" in table
    assert "WRONG" not in table

    [report] = json.loads(out.read_text())
    fanout = report["fanout"]
    assert fanout["errors"] == []
    assert fanout["delivered"] == fanout["expected"] > 0
    assert fanout["converged"] == fanout["rooms"] == 2
    split = fanout["node_split"]
    assert split["nodes"] == 2
    same, cross = split["same_node"], split["cross_node"]
    # Client i on node i % 2: of the 3 others in its room, 1 shares its node and 2 do not.
    assert cross["delivered"] == 2 * same["delivered"] > 0
    assert same["delivered"] + cross["delivered"] == fanout["delivered"]
    assert 0 < cross["p50_ms"] < math.inf  # a number: NaN when nothing was measured
    # Both nodes of the fan-out accepted edits from their clients and published them.
    assert len(origins) == 2, origins
    assert min(origins.values()) > 0
    # Joiners on the second node got the document it loaded from the log.
    assert report["cold_join"]["correct"] is True
