"""Start y-websocket servers under test and measure them (CPU time, memory) with psutil.

Built-in servers: "node" (y-websocket's reference server, loadtests/js/server.mjs) and
"pycrdt" (pycrdt-websocket's WebsocketServer under uvicorn). Any other server is given as
"NAME=COMMAND" where COMMAND contains "{port}", e.g.
"ours=python -m collab_server --port {port}"; "NAME@/prefix=COMMAND" adds a URL path
prefix before the room name. Servers bind 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil

JS_DIR = Path(__file__).resolve().parent / "js"
HOST = "127.0.0.1"


@dataclass(frozen=True)
class ServerSpec:
    """A server to start: `command` may use "{port}" and "{host}"; `path` prefixes rooms."""

    name: str
    command: tuple[str, ...]
    path: str = ""


def builtin_servers() -> dict[str, ServerSpec]:
    """The reference servers this repository can start by name."""
    return {
        "node": ServerSpec(
            "y-websocket (node)",
            ("node", str(JS_DIR / "server.mjs"), "--port", "{port}", "--host", "{host}"),
        ),
        "pycrdt": ServerSpec(
            "pycrdt-websocket",
            (
                sys.executable,
                "-m",
                "loadtests.pycrdt_server",
                "--port",
                "{port}",
                "--host",
                "{host}",
            ),
        ),
    }


def parse_server(text: str) -> ServerSpec:
    """ "node", "pycrdt", "NAME=COMMAND" or "NAME@/prefix=COMMAND"."""
    known = builtin_servers()
    if text in known:
        return known[text]
    name, sep, command = text.partition("=")
    if not sep or "{port}" not in command:
        raise ValueError(f"server {text!r}: use node, pycrdt or NAME=COMMAND with {{port}}")
    name, _, path = name.partition("@")
    return ServerSpec(name, tuple(shlex.split(command)), path)


def free_port(host: str = HOST) -> int:
    """A TCP port that was free a moment ago (the server binds it next)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class ProcessProbe:
    """CPU seconds and resident memory of one or more processes and all their descendants,
    summed (several nodes of one server count as one)."""

    def __init__(self, *pids: int) -> None:
        if not pids:
            raise ValueError("ProcessProbe needs at least one pid")
        self.processes = [psutil.Process(pid) for pid in pids]

    @property
    def pids(self) -> tuple[int, ...]:
        """The probed processes (their descendants not included)."""
        return tuple(process.pid for process in self.processes)

    def _tree(self) -> list[psutil.Process]:
        tree: dict[int, psutil.Process] = {}  # by pid: a probed process may descend from another
        for process in self.processes:
            with contextlib.suppress(psutil.NoSuchProcess):
                for proc in (process, *process.children(recursive=True)):
                    tree[proc.pid] = proc
        return list(tree.values())

    def cpu_seconds(self) -> float:
        total = 0.0
        for proc in self._tree():
            with contextlib.suppress(psutil.NoSuchProcess):
                times = proc.cpu_times()
                total += times.user + times.system
        return total

    def rss_bytes(self) -> int:
        total = 0
        for proc in self._tree():
            with contextlib.suppress(psutil.NoSuchProcess):
                total += proc.memory_info().rss
        return total

    def settled_rss(self, *, timeout: float = 5.0, tolerance: float = 0.005) -> int:
        """RSS once two samples 0.25 s apart agree within `tolerance` (or at `timeout`)."""
        deadline = time.monotonic() + timeout
        last = self.rss_bytes()
        while time.monotonic() < deadline:
            time.sleep(0.25)
            now = self.rss_bytes()
            if abs(now - last) <= tolerance * max(last, 1):
                return now
            last = now
        return last


@dataclass
class RunningServer:
    spec: ServerSpec
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        """The base URL clients append rooms to."""
        return f"ws://{HOST}:{self.port}{self.spec.path}"


def _wait_listening(process: subprocess.Popen[bytes], port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"exited with code {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"not listening on port {port} after {timeout} s")


def _stop(process: subprocess.Popen[bytes], timeout: float = 5.0) -> None:
    """SIGTERM the server and any children it left, then SIGKILL what is still there."""
    try:
        children = psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        children = []
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout)
    for child in children:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()


@contextlib.contextmanager
def start_server(
    spec: ServerSpec, *, cpu: int | None = None, start_timeout: float = 30.0
) -> Iterator[RunningServer]:
    """Run `spec` on a free loopback port (pinned to `cpu` with taskset); stop it on exit."""
    port = free_port()
    command = [part.format(port=port, host=HOST) for part in spec.command]
    if cpu is not None and shutil.which("taskset"):
        command = ["taskset", "-c", str(cpu), *command]
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(  # noqa: S603 - the command is the caller's server under test
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=log
        )
        try:
            try:
                _wait_listening(process, port, start_timeout)
            except RuntimeError as exc:
                log.seek(0)
                tail = log.read()[-2000:].decode(errors="replace")
                raise RuntimeError(
                    f"server {spec.name} ({shlex.join(command)}): {exc}\n{tail}"
                ) from exc
            yield RunningServer(spec, port, process)
        finally:
            _stop(process)


@contextlib.contextmanager
def start_servers(
    spec: ServerSpec, count: int, *, cpu: int | None = None, start_timeout: float = 30.0
) -> Iterator[list[RunningServer]]:
    """Run `count` instances of `spec` (the nodes of one server), each on a free port, all
    pinned to `cpu`; stop them all on exit."""
    with contextlib.ExitStack() as stack:
        yield [
            stack.enter_context(start_server(spec, cpu=cpu, start_timeout=start_timeout))
            for _ in range(count)
        ]
