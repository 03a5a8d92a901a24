"""The Locust dojo user, headless for a few seconds against the reference Node server."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from loadtests.servers import builtin_servers, start_server
from tests.harness.yjs_client import require_node

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.timeout(120)
def test_locust_dojo_reports_sync_and_edit_latencies(tmp_path: Path) -> None:
    require_node()
    with start_server(builtin_servers()["node"]) as server:
        command = [
            sys.executable, "-m", "locust", "-f", "loadtests/locust_dojo.py", "--headless",
            "-u", "6", "-r", "6", "-t", "4s", "--host", server.url,
            "--csv", str(tmp_path / "dojo"), "--only-summary", "--loglevel", "WARNING",
        ]  # fmt: skip
        env = {**os.environ, "DOJO_ROOMS": "2", "DOJO_PARAMS": "ticket=unchecked"}
        result = subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=90, check=False
        )
    assert result.returncode == 0, result.stderr[-3000:]
    with (tmp_path / "dojo_stats.csv").open() as stats:
        rows = {row["Name"]: row for row in csv.DictReader(stats)}
    for name in ("connect+sync", "edit round-trip", "edit to peer"):
        assert int(rows[name]["Request Count"]) > 0, name
        assert rows[name]["Failure Count"] == "0", name
