"""mypy over every production package (the README's "type hints checked by mypy")."""

from __future__ import annotations

from pathlib import Path

from mypy import api

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("platform_api", "crdt", "rooms", "collab_server", "media_jobs", "infra")


def test_mypy_reports_no_errors() -> None:
    config = str(ROOT / "pyproject.toml")
    stdout, stderr, status = api.run(
        ["--config-file", config, *(str(ROOT / package) for package in PACKAGES)]
    )
    assert status == 0, f"mypy found problems:\n{stdout}{stderr}"
