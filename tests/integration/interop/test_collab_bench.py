"""The benchmark CLI, end to end at toy sizes, against both reference servers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.harness.yjs_client import require_node

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.timeout(240)
def test_compare_runs_every_scenario_and_prints_one_table(tmp_path: Path) -> None:
    require_node()
    key = tmp_path / "ticket.pem"
    key.write_bytes(
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
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

    reports = json.loads(out.read_text())
    assert [r["name"] for r in reports] == ["y-websocket (node)", "pycrdt-websocket"]
    for report in reports:
        fanout = report["fanout"]
        assert fanout["errors"] == []
        assert fanout["delivered"] == fanout["expected"] > 0
        assert fanout["converged"] == fanout["rooms"] == 2
        assert fanout["server_cpu_s"] > 0
        assert report["idle"]["connected"] == 20
        assert report["cold_join"]["correct"] is True
        assert len(report["sweep"]["steps"]) >= 1
