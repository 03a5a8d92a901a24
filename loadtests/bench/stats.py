"""Small statistics and timing helpers shared by the scenarios."""

from __future__ import annotations

import contextlib
import gc
import math
import os
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import psutil

from loadtests.servers import ProcessProbe


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by the nearest-rank method; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@contextlib.contextmanager
def no_gc_pauses() -> Iterator[None]:
    """Keep Python's cyclic GC out of a measured window.

    Its full collections stop the load generator's event loop for tens of milliseconds
    (measured: 60-75 ms every ~10 s with 100 clients), which would be blamed on the server
    as latency. Reference counting still frees almost everything meanwhile.
    """
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()


def _machine_busy_seconds() -> float:
    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0)


@dataclass
class CpuSampler:
    """Samples CPU seconds in a thread, so that any window can be read afterwards: the
    server's, the whole machine's, and this process tree's (the load generator).

    What is left of the machine's once the server and the load are taken out is other work,
    which on a shared machine inflates latencies. Threads rather than tasks: the samples
    must keep coming while the event loop is busy.
    """

    probe: ProcessProbe | None
    interval: float = 0.1
    samples: list[tuple[float, float, float, float]] = field(default_factory=list)
    _own: ProcessProbe = field(default_factory=lambda: ProcessProbe(os.getpid()))
    _server_is_ours: bool = False
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> CpuSampler:
        if self.probe is not None:
            # Started here (every node a child of the bench) or given by pid (none is).
            children = {c.pid for own in self._own.processes for c in own.children(recursive=True)}
            self._server_is_ours = set(self.probe.pids) <= children
        self._sample()
        self._thread = threading.Thread(target=self._run, name="cpu-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._sample()

    def _sample(self) -> None:
        server = self.probe.cpu_seconds() if self.probe is not None else 0.0
        sample = (time.time(), server, _machine_busy_seconds(), self._own.cpu_seconds())
        self.samples.append(sample)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def _at(self, when: float, column: int) -> float:
        """Column `column` at wall time `when`, linearly interpolated between samples."""
        before = [s for s in self.samples if s[0] <= when]
        after = [s for s in self.samples if s[0] >= when]
        if not before:
            return self.samples[0][column]
        if not after:
            return self.samples[-1][column]
        b, a = before[-1], after[0]
        if a[0] == b[0]:
            return b[column]
        return b[column] + (a[column] - b[column]) * (when - b[0]) / (a[0] - b[0])

    def _delta(self, start: float, end: float, column: int) -> float:
        return self._at(end, column) - self._at(start, column)

    def between(self, start: float, end: float) -> float | None:
        """CPU seconds the server used between two wall times (None without a probe)."""
        if self.probe is None or not self.samples:
            return None
        return self._delta(start, end, 1)

    def others_between(self, start: float, end: float) -> float:
        """CPU seconds of everything else on the machine (neither server nor load)."""
        others = self._delta(start, end, 2) - self._delta(start, end, 3)
        if not self._server_is_ours:
            others -= self.between(start, end) or 0.0
        return max(others, 0.0)
