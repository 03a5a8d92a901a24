"""Compaction strategies side by side on a room typed key by key.

    uv run python -m loadtests.compaction_bench --keystrokes 100000

Replays the typing trace (``trace.py``) one keystroke per update, as an editor sends them,
then compacts it the way a room does (the snapshot and the next ``--rows`` updates, over and
over) with our ``compact_updates`` and with a plain merge of the updates (pycrdt's
``merge_updates``). For each: the time compacting took (in the merge worker, off the event
loop), the snapshot's size, and the time Yrs takes to load it (on the event loop: every
room load, catch-up and restart pays it).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pycrdt import Doc, Text

from crdt import compact_updates, merge_updates

from .trace import typing_trace


@dataclass(frozen=True)
class Result:
    name: str
    compactions: int
    compact_seconds: float
    slowest_seconds: float
    snapshot_bytes: int
    load_seconds: float  # median
    same_text: bool


def keystroke_updates(keystrokes: int, *, seed: int = 2026) -> tuple[list[bytes], str]:
    """The trace's first ``keystrokes`` operations, one update each, and the text they make."""
    doc: Doc[Any] = Doc()
    text = doc.get("text", type=Text)
    updates: list[bytes] = []
    doc.observe(lambda event: updates.append(event.update))
    for op in typing_trace(keystrokes, seed=seed):
        if op.delete:
            del text[op.pos : op.pos + op.delete]
        else:
            text.insert(op.pos, op.insert)
    return updates, str(text)


def run(
    name: str,
    compact: Callable[[Sequence[bytes]], bytes],
    updates: list[bytes],
    text: str,
    *,
    rows: int,
    loads: int,
) -> Result:
    snapshot: bytes | None = None
    slowest = total = 0.0
    compactions = 0
    for start in range(0, len(updates), rows):
        began = time.perf_counter()
        snapshot = compact(([snapshot] if snapshot else []) + updates[start : start + rows])
        took = time.perf_counter() - began
        total += took
        slowest = max(slowest, took)
        compactions += 1
    assert snapshot is not None
    timings = []
    for _ in range(loads):
        doc: Doc[Any] = Doc()
        began = time.perf_counter()
        doc.apply_update(snapshot)
        timings.append(time.perf_counter() - began)
    same = str(doc.get("text", type=Text)) == text
    return Result(
        name, compactions, total, slowest, len(snapshot), statistics.median(timings), same
    )


def table(results: list[Result], keystrokes: int, rows: int) -> str:
    lines = [
        f"{keystrokes:,} keystrokes, one update each, compacted every {rows} updates",
        "",
        "| strategy | compactions | total (ms) | slowest (ms) | snapshot (KB) | load (ms) | text |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.name} | {r.compactions} | {r.compact_seconds * 1000:,.0f} "
            f"| {r.slowest_seconds * 1000:.1f} | {r.snapshot_bytes / 1000:,.1f} "
            f"| {r.load_seconds * 1000:.1f} | {'same' if r.same_text else 'DIFFERENT'} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--keystrokes", type=int, default=100_000)
    p.add_argument("--rows", type=int, default=500, help="updates per compaction")
    p.add_argument("--loads", type=int, default=5, help="snapshot loads timed (median)")
    args = p.parse_args(argv)
    updates, text = keystroke_updates(args.keystrokes)
    results = [
        run(name, fn, updates, text, rows=args.rows, loads=args.loads)
        for name, fn in (("document (ours)", compact_updates), ("merge", merge_updates))
    ]
    print(table(results, args.keystrokes, args.rows))


if __name__ == "__main__":
    main()
