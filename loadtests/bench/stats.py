"""Small statistics and timing helpers shared by the scenarios."""

from __future__ import annotations

import contextlib
import gc
import math
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

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


@dataclass
class CpuSampler:
    """Samples a server's CPU seconds in a thread, so any window can be read afterwards.

    Threads rather than tasks: the samples must keep coming while the event loop is busy.
    """

    probe: ProcessProbe | None
    interval: float = 0.1
    samples: list[tuple[float, float]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> CpuSampler:
        if self.probe is not None:
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
        assert self.probe is not None
        self.samples.append((time.time(), self.probe.cpu_seconds()))

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def _at(self, when: float) -> float:
        """CPU seconds at wall time `when`, linearly interpolated between samples."""
        before = [s for s in self.samples if s[0] <= when]
        after = [s for s in self.samples if s[0] >= when]
        if not before:
            return self.samples[0][1]
        if not after:
            return self.samples[-1][1]
        (t0, c0), (t1, c1) = before[-1], after[0]
        return c0 if t1 == t0 else c0 + (c1 - c0) * (when - t0) / (t1 - t0)

    def between(self, start: float, end: float) -> float | None:
        """CPU seconds the server used between two wall times (None without a probe)."""
        if self.probe is None or not self.samples:
            return None
        return self._at(end) - self._at(start)
