"""The web app in a real browser (Debian's Chromium, driven by playwright-core from Node's test
runner) against the whole local stack, started here on ports moved by an offset so that it runs
beside anyone's ``./mrbill up``. Screenshots land in ``test-artifacts/web/``."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from infra.local import webapp
from infra.local.services import COLLAB_PORTS, ENTRY_PORT

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
ARTIFACTS = ROOT / "test-artifacts" / "web"
OFFSET = int(os.environ.get("MRBILL_E2E_PORT_OFFSET", "20000"))
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def _need_tools() -> None:
    tools = {"npm": shutil.which("npm") is not None, "chromium": Path(CHROMIUM).exists()}
    missing = [tool for tool, ok in tools.items() if not ok]
    if missing:
        pytest.skip(f"{', '.join(missing)} missing: ./mrbill test installs them")


def _ready(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The whole local stack (services, three collab nodes, nginx, built web app) on offset
    ports: its base URL and its run folder (the e-mail it sends lands in ``mail/``)."""
    _need_tools()
    webapp.ensure_built()
    run_dir = tmp_path_factory.mktemp("stack")
    log_path = run_dir / "stack.log"
    env = {
        **os.environ,
        "MRBILL_PORT_OFFSET": str(OFFSET),
        # Every run signs up a few organizations from 127.0.0.1: a key space of its own in the
        # shared Redis, so that earlier runs do not count against the per-address limit.
        "IDENTITY_RATE_LIMIT_PREFIX": f"mrbill-e2e-{uuid.uuid4().hex[:8]}",
    }
    command = [sys.executable, "-m", "infra.local.cli", "up", "--db-prefix", "e2e_"]
    command += ["--run-dir", str(run_dir), "--no-build"]
    with log_path.open("w") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    base = f"http://127.0.0.1:{ENTRY_PORT + OFFSET}"
    probes = [f"{base}/api/identity/readyz", f"{base}/api/dojos/healthz", f"{base}/"]
    probes += [f"http://127.0.0.1:{port + OFFSET}/healthz" for port in COLLAB_PORTS]
    try:
        deadline = time.monotonic() + 120
        while not all(_ready(url) for url in probes):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the local stack did not start:\n{log_path.read_text()[-4000:]}")
            time.sleep(0.5)
        yield base, run_dir
    finally:
        # The stack may already be gone (it failed to start): nothing left to stop then.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _node(args: list[str], env: dict[str, str], timeout: int) -> None:
    result = subprocess.run(
        args, cwd=WEB, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert result.returncode == 0, (
        f"{' '.join(args)} failed:\n{result.stdout[-12000:]}\n{result.stderr[-4000:]}"
    )


def test_component_unit_tests() -> None:
    """Vitest: the components and helpers of the app (jsdom, no browser)."""
    _need_tools()
    webapp.install()
    _node(["npx", "vitest", "run"], dict(os.environ), timeout=300)


def test_browser_flows(stack: tuple[str, Path]) -> None:
    """Playwright (playwright-core + node:test): sign-up, POCs, the two-user dojo, isolation, axe."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    base, run_dir = stack
    env = {
        **os.environ,
        "MRBILL_E2E_BASE_URL": base,
        "MRBILL_E2E_MAIL": str(run_dir / "mail"),
        "MRBILL_E2E_ARTIFACTS": str(ARTIFACTS),
        "CHROMIUM": CHROMIUM,
    }
    _node(["node", "--test", "--test-concurrency=1", "e2e/"], env, timeout=600)
    assert sorted(p.name for p in ARTIFACTS.glob("*.png")), "no screenshots were saved"
