"""Markdown (one column per server) and JSON renderings of benchmark results."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from loadtests.bench.cold_join import ColdJoinResult
from loadtests.bench.fanout import FanoutResult
from loadtests.bench.idle import IdleResult
from loadtests.bench.sweep import SweepResult


@dataclass
class ServerReport:
    name: str
    fanout: FanoutResult | None = None
    idle: IdleResult | None = None
    cold_join: ColdJoinResult | None = None
    sweep: SweepResult | None = None
    notes: list[str] = field(default_factory=list)


def _num(value: float | None, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:,.{digits}f}"


def _fanout_rows(r: FanoutResult) -> list[tuple[str, str]]:
    c = r.config
    rows = [
        (
            f"fan-out {c.rooms}x{c.clients} @ {c.rate:g}/s, {c.duration:g} s: delivered updates/s",
            _num(r.delivered_per_s),
        ),
        ("fan-out: edit→remote p50 / p99 (ms)", f"{_num(r.p50_ms, 1)} / {_num(r.p99_ms, 1)}"),
        ("fan-out: server CPU µs per delivered update", _num(r.cpu_us_per_message, 1)),
        (
            "fan-out: lost / echoed to sender / rooms converged",
            f"{r.loss} / {r.echoes} / {r.converged} of {r.rooms}",
        ),
        (
            "fan-out: CPU of the load generator / of other processes (% of a core)",
            f"{_num(r.load_cpu_pct)}% / {_num(r.others_cpu_pct)}%",
        ),
    ]
    split = r.node_split
    if split is not None:
        for kind, part in (("same-node", split.same_node), ("cross-node", split.cross_node)):
            rows.append(
                (
                    f"fan-out over {split.nodes} nodes, {kind}: p50 / p99 (ms) (deliveries)",
                    f"{_num(part.p50_ms, 1)} / {_num(part.p99_ms, 1)} ({part.delivered:,})",
                )
            )
    return rows


def _idle_rows(r: IdleResult) -> list[tuple[str, str]]:
    per_conn = r.rss_per_connection
    return [
        (
            f"{r.config.connections} idle connections: server RSS per connection (KB)",
            _num(per_conn / 1024 if per_conn is not None else None, 1),
        ),
        (
            "idle: connect-to-synced p50 / p99 (ms)",
            f"{_num(r.connect_p50_ms, 1)} / {_num(r.connect_p99_ms, 1)}",
        ),
    ]


def _cold_rows(r: ColdJoinResult) -> list[tuple[str, str]]:
    return [
        (
            f"cold join, {r.ops:,}-op trace ({r.state_bytes / 1024:,.0f} KB): median / max (ms)",
            f"{_num(r.median_ms, 1)} / {_num(r.max_ms, 1)}" + ("" if r.correct else " WRONG"),
        ),
        ("cold join: time to load the trace (s)", _num(r.load_s, 1)),
    ]


def _sweep_rows(r: SweepResult) -> list[tuple[str, str]]:
    best = r.best
    label = f"sweep: max sustained edits/s with p99 ≤ {r.config.p99_limit_ms:g} ms (delivered/s)"
    value = (
        "none"
        if best is None
        else f"{_num(best.edits_per_s)} ({_num(best.result.delivered_per_s)})"
    )
    if r.steps and not r.steps[-1].sustained:
        failed = r.steps[-1]
        value += f"; next step {_num(failed.edits_per_s)}/s: p99 {_num(failed.result.p99_ms)} ms"
        if failed.result.load_cpu_pct > 90:
            value += " (load generator saturated)"
    return [(label, value)]


_SECTIONS: list[tuple[str, Callable[[Any], list[tuple[str, str]]]]] = [
    ("fanout", _fanout_rows),
    ("idle", _idle_rows),
    ("cold_join", _cold_rows),
    ("sweep", _sweep_rows),
]


def markdown_table(reports: list[ServerReport]) -> str:
    """One row per metric, one column per server."""
    rows: dict[str, dict[str, str]] = {}
    for report in reports:
        for attribute, render in _SECTIONS:
            result = getattr(report, attribute)
            if result is not None:
                for label, value in render(result):
                    rows.setdefault(label, {})[report.name] = value
    header = "| metric | " + " | ".join(r.name for r in reports) + " |"
    lines = [header, "|---|" + "---|" * len(reports)]
    for label, values in rows.items():
        lines.append(f"| {label} | " + " | ".join(values.get(r.name, "-") for r in reports) + " |")
    return "\n".join(lines)


def sweep_details(reports: list[ServerReport]) -> str:
    """Each sweep step, per server (markdown)."""
    lines = [
        "| server | edits/s | delivered/s | p50 ms | p99 ms | lost | load CPU | other CPU | sustained |"
    ]
    lines.append("|---|---|---|---|---|---|---|---|---|")
    for report in reports:
        for step in report.sweep.steps if report.sweep else []:
            r = step.result
            lines.append(
                f"| {report.name} | {_num(step.edits_per_s)} | {_num(r.delivered_per_s)} | "
                f"{_num(r.p50_ms, 1)} | {_num(r.p99_ms, 1)} | {r.loss} | "
                f"{_num(r.load_cpu_pct)}% | {_num(r.others_cpu_pct)}% | "
                f"{'yes' if step.sustained else 'no'} |"
            )
    return "\n".join(lines)


def as_json(reports: list[ServerReport]) -> list[dict[str, Any]]:
    """Plain data (a fan-out's `node_split` only with several nodes)."""

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if not (k == "node_split" and v is None)}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return [strip(dataclasses.asdict(report)) for report in reports]
