"""The Locust dojo user, headless for a few seconds against the reference Node server (long
enough for a loaded CI machine to connect every user and edit)."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from loadtests.servers import builtin_servers, parse_server, start_server
from platform_api.kernel.keys import generate_private_key_pem
from tests.harness.yjs_client import require_node

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.timeout(120)
def test_locust_dojo_reports_sync_and_edit_latencies(tmp_path: Path) -> None:
    require_node()
    with start_server(builtin_servers()["node"]) as server:
        command = [
            sys.executable, "-m", "locust", "-f", "loadtests/locust_dojo.py", "--headless",
            "-u", "6", "-r", "6", "-t", "10s", "--host", server.url,
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


@pytest.mark.timeout(120)
def test_locust_dojo_renews_tickets_on_a_long_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Against our node, with tickets that last 4 s (3 to 4, in whole seconds) in a 7 s run:
    every connection sends a fresh ticket in time, so none is closed for an expired one
    (4401) mid-run. Renewing every 1.5 s leaves 1.5 s to spare on a busy machine."""
    key = tmp_path / "ticket.pem"
    key.write_text(generate_private_key_pem())
    for name in ("COLLAB_DATABASE_URL", "COLLAB_REDIS_URL", "COLLAB_TICKET_JWKS_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COLLAB_TICKET_PUBLIC_KEY_FILE", str(key))
    ours = parse_server(f"ours@/collab={sys.executable} -m collab_server --port {{port}}")
    with start_server(ours) as server:
        command = [
            sys.executable, "-m", "locust", "-f", "loadtests/locust_dojo.py", "--headless",
            "-u", "4", "-r", "4", "-t", "7s", "--host", server.url,
            "--csv", str(tmp_path / "dojo"), "--only-summary", "--loglevel", "WARNING",
        ]  # fmt: skip
        env = {
            **os.environ, "DOJO_ROOMS": "1", "DOJO_TICKET_KEY": str(key), "DOJO_TICKET_TTL": "4",
        }  # fmt: skip
        result = subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=90, check=False
        )
    assert result.returncode == 0, result.stderr[-3000:]
    with (tmp_path / "dojo_stats.csv").open() as stats:
        rows = {row["Name"]: row for row in csv.DictReader(stats)}
    assert int(rows["edit round-trip"]["Request Count"]) > 0
    assert rows["edit round-trip"]["Failure Count"] == "0"
    assert (tmp_path / "dojo_exceptions.csv").read_text().count("\n") <= 1  # the header only
