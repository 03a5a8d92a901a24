"""Benchmark any y-websocket-protocol server, or compare several side by side.

    # a running server (CPU and memory need its pid)
    uv run python -m loadtests.collab_bench --url ws://127.0.0.1:1234 --server-pid 4242
    # start servers ourselves, each pinned to CPU 0, the load pinned to CPU 1
    uv run python -m loadtests.collab_bench --server node --server pycrdt \\
        --server 'ours@/collab=python -m collab_server --port {port}' --ticket-key key.pem
    # three nodes of ours sharing rooms through Redis (COLLAB_REDIS_URL, COLLAB_DATABASE_URL)
    uv run python -m loadtests.collab_bench --nodes 3 --ticket-key key.pem \\
        --server 'ours@/collab=python -m collab_server --port {port}'

Scenarios (--scenarios): fanout, idle, cold-join, sweep. With --ticket-key every room becomes
"<tenant>:<room>" and each connection carries its own room ticket (`ticket` query param).
Each scenario gets a fresh server when servers are started here. Prints a markdown table.
With several nodes (--nodes, or --url once per node) clients are spread over them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from dataclasses import replace
from pathlib import Path

import psutil

from loadtests.bench import (
    ColdJoinConfig,
    FanoutConfig,
    IdleConfig,
    ServerReport,
    SweepConfig,
    as_json,
    markdown_table,
    run_cold_join,
    run_fanout,
    run_idle,
    run_sweep,
    sweep_details,
)
from loadtests.servers import ProcessProbe, ServerSpec, parse_server, start_servers
from loadtests.tickets import RoomAddressing, TicketMinter, load_private_key
from loadtests.trace import BuiltDocument, build_document

SCENARIOS = ("fanout", "idle", "cold-join", "sweep")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="collab_bench", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    target = p.add_argument_group("target")
    target.add_argument(
        "--url", action="append", default=[],
        help="base URL of a running server (rooms are appended); once per node of it",
    )  # fmt: skip
    target.add_argument(
        "--server-pid", action="append", type=int, default=[],
        help="pid of that server, for CPU and memory (once per node: summed)",
    )  # fmt: skip
    target.add_argument("--name", help="column name for --url (default: the first URL)")
    target.add_argument(
        "--server", action="append", default=[], metavar="SPEC", type=parse_server,
        help="start a server: node | pycrdt | NAME[@/path]=COMMAND with {port} (repeatable)",
    )  # fmt: skip
    target.add_argument(
        "--nodes", type=int, default=1,
        help="start N nodes of each --server (they must share rooms, e.g. through Redis)",
    )  # fmt: skip
    target.add_argument("--server-cpu", type=int, default=0, help="CPU for started servers")
    target.add_argument("--load-cpu", type=int, default=1, help="CPU for the load (-1: no pinning)")
    target.add_argument("--param", action="append", default=[], metavar="KEY=VALUE")
    target.add_argument("--ticket-key", type=Path, help="Ed25519 PEM key: mint room tickets")
    target.add_argument("--tenant", type=uuid.UUID, help="tenant of minted tickets (random)")
    s = p.add_argument_group("scenarios")
    s.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma-separated subset")
    s.add_argument("--rooms", type=int, default=10)
    s.add_argument("--clients", type=int, default=10, help="clients per room")
    s.add_argument("--rate", type=float, default=10.0, help="edits/s per client")
    s.add_argument("--duration", type=float, default=20.0, help="fan-out seconds")
    s.add_argument("--processes", type=int, default=1, help="load generator processes")
    s.add_argument("--deflate", action="store_true", help="offer permessage-deflate (browsers do)")
    s.add_argument("--idle", type=int, default=1000, help="idle connections")
    s.add_argument("--idle-per-room", type=int, default=10)
    s.add_argument("--trace-ops", type=int, default=260_000)
    s.add_argument("--ops-per-update", type=int, default=1000)
    s.add_argument(
        "--joins", type=int, default=30, help="cold joins to time (the median of a few is noise)"
    )
    s.add_argument("--sweep-rates", default="5,10,20,40,80,160", help="edits/s per client")
    s.add_argument("--sweep-step", type=float, default=8.0, help="seconds per sweep step")
    s.add_argument("--p99-limit", type=float, default=50.0, help="sweep limit (ms)")
    p.add_argument(
        "--quiet-wait", type=float, default=0.0, help="wait up to N s for an idle machine"
    )
    p.add_argument("--json", type=Path, help="also write the results here")
    return p


def _addressing(args: argparse.Namespace) -> RoomAddressing:
    params = dict(item.split("=", 1) for item in args.param)
    if args.ticket_key is None:
        return RoomAddressing(params)
    minter = TicketMinter(load_private_key(args.ticket_key), tenant=args.tenant or uuid.uuid4())
    return RoomAddressing(params, minter)


def _log(message: str) -> None:
    print(f"[collab_bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _wait_quiet(budget: float, threshold: float = 20.0) -> float:
    """Wait up to `budget` s for the machine to be less than `threshold`% busy; return the
    last reading (on shared machines other work inflates latencies, not CPU per message)."""
    deadline = time.monotonic() + budget
    busy = psutil.cpu_percent(interval=0.5)
    while busy > threshold and time.monotonic() < deadline:
        busy = psutil.cpu_percent(interval=2.0)
    return busy


class Bench:
    """Runs the chosen scenarios against one server and fills a ServerReport."""

    def __init__(self, args: argparse.Namespace, built: BuiltDocument | None) -> None:
        self.args = args
        self.addressing = _addressing(args)
        self.built = built
        run = uuid.uuid4().hex[:6]  # fresh room names, so a long-running server can be reused
        self.fanout = FanoutConfig(
            rooms=args.rooms, clients=args.clients, rate=args.rate, duration=args.duration,
            processes=args.processes, prefix=f"fan-{run}", deflate=args.deflate,
        )  # fmt: skip
        self.idle = IdleConfig(
            args.idle, args.idle_per_room, prefix=f"idle-{run}", deflate=args.deflate
        )
        self.cold = ColdJoinConfig(joins=args.joins, room=f"cold-{run}", deflate=args.deflate)
        rates = tuple(float(r) for r in args.sweep_rates.split(","))
        self.sweep = SweepConfig(
            replace(self.fanout, prefix=f"sw-{run}"), rates, args.sweep_step, args.p99_limit
        )

    async def scenario(
        self, name: str, urls: list[str], probe: ProcessProbe | None, report: ServerReport
    ) -> None:
        # Nothing of ours runs yet, so this is other work; in a thread, so Ctrl-C still works.
        busy = await asyncio.to_thread(_wait_quiet, self.args.quiet_wait)
        _log(f"{report.name}: {name} (machine {busy:.0f}% busy before)")
        if busy > 20:
            report.notes.append(f"{name}: the machine was {busy:.0f}% busy with other work")
        if name == "fanout":
            report.fanout = await run_fanout(urls, self.addressing, self.fanout, probe)
            report.notes += report.fanout.errors
        elif name == "idle":
            report.idle = await run_idle(urls, self.addressing, self.idle, probe)
            report.notes += report.idle.errors
        elif name == "cold-join":
            assert self.built is not None
            report.cold_join = await run_cold_join(urls, self.addressing, self.built, self.cold)
        elif name == "sweep":
            report.sweep = await run_sweep(urls, self.addressing, self.sweep, probe)

    async def against_urls(
        self, urls: list[str], pids: list[int], scenarios: list[str]
    ) -> ServerReport:
        report = ServerReport(self.args.name or _column(urls[0], len(urls)))
        probe = ProcessProbe(*pids) if pids else None
        for name in scenarios:
            await self.scenario(name, urls, probe, report)
        return report

    async def against_spec(self, spec: ServerSpec, scenarios: list[str]) -> ServerReport:
        nodes = self.args.nodes
        report = ServerReport(_column(spec.name, nodes))
        cpu = self.args.server_cpu if self.args.load_cpu >= 0 else None
        for name in scenarios:
            # Fresh servers per scenario; every node on the same CPU.
            with start_servers(spec, nodes, cpu=cpu) as servers:
                urls = [server.url for server in servers]
                probe = ProcessProbe(*(server.process.pid for server in servers))
                await self.scenario(name, urls, probe, report)
        return report


def _column(name: str, nodes: int) -> str:
    return name if nodes == 1 else f"{name} ({nodes} nodes)"


async def main_async(args: argparse.Namespace) -> list[ServerReport]:
    scenarios = [name.strip() for name in args.scenarios.split(",") if name.strip()]
    unknown = set(scenarios) - set(SCENARIOS)
    if unknown:
        raise SystemExit(f"unknown scenarios: {', '.join(sorted(unknown))}")
    if bool(args.url) == bool(args.server):
        raise SystemExit("give either --url or at least one --server")
    if args.nodes < 1 or (args.url and args.nodes != 1):
        raise SystemExit("--nodes N (N >= 1) is for started servers: give --url once per node")
    built = None
    if "cold-join" in scenarios:
        _log(f"building a {args.trace_ops:,}-operation typing trace")
        built = build_document(args.trace_ops, ops_per_update=args.ops_per_update)
    bench = Bench(args, built)
    if args.url:
        return [await bench.against_urls(args.url, args.server_pid, scenarios)]
    return [await bench.against_spec(spec, scenarios) for spec in args.server]


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    if (os.cpu_count() or 1) < 2 or not hasattr(os, "sched_setaffinity"):
        args.load_cpu = -1
    if args.load_cpu >= 0:
        os.sched_setaffinity(0, {args.load_cpu})
    try:
        import uvloop
    except ImportError:
        reports = asyncio.run(main_async(args))
    else:
        reports = uvloop.run(main_async(args))
    print(markdown_table(reports))
    if any(report.sweep for report in reports):
        print("\nSweep steps:\n\n" + sweep_details(reports))
    notes = [f"- {report.name}: {note}" for report in reports for note in report.notes]
    if notes:
        print("\nNotes:\n\n" + "\n".join(notes))
    if args.json:
        args.json.write_text(json.dumps(as_json(reports), indent=2, default=str))


if __name__ == "__main__":
    main()
