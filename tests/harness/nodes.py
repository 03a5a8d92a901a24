"""Collab nodes as real processes, for tests that kill them (SIGKILL) or drain them (SIGTERM)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class NodeProcess:
    def __init__(
        self, name: str, env: dict[str, str], log_dir: Path, *, memory_limit: int | None = None
    ) -> None:
        self._memory_limit = memory_limit
        self.name = name
        self.port = free_port()
        self._env = {**os.environ, **env, "COLLAB_PORT": str(self.port), "COLLAB_NODE_NAME": name}
        self._log_path = log_dir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/collab"

    def start(self, timeout: float = 60.0) -> NodeProcess:
        self._close_log()
        self._log = self._log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "collab_server"],
            env=self._env,
            stdout=self._log,
            stderr=self._log,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self._close_log()
                raise RuntimeError(f"{self.name} exited: {self._log_path.read_text()[-2000:]}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/readyz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"{self.name} did not become ready within {timeout} s")

    def kill(self) -> None:
        """SIGKILL: no drain, no flush."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
        self._close_log()

    def stop(self) -> None:
        """SIGTERM: graceful drain."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def rss_bytes(self) -> int:
        assert self.proc is not None
        with open(f"/proc/{self.proc.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None
