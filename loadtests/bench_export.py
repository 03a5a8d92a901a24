"""Benchmark of the POC export (``GET /pocs/export``): its pieces, and what it does to the loop.

    uv run python -m loadtests.bench_export                  # 100k POCs of one owner
    uv run python -m loadtests.bench_export --keep --reuse   # seed once, measure again

Provisions a database (``bench_pocs_export``, migrated like the service's), seeds ``--rows``
POCs of one tenant and owner from :mod:`loadtests.poc_corpus` with ``COPY`` (as the admin
role, so that the seeding is quick), then:

- **pieces**: times, on this process's CPU, one query fetching every row (the store's
  ``list_pocs``), ``snapshot`` of each row, the CSV and JSON renderers, and the same pieces
  for one page of ``--chunk`` rows;
- **request**: runs the service's app in-process (the caller's token check replaced by a
  fixed principal) and downloads the export as CSV and as JSON while a probe measures the
  event loop: the longest stall (a 5 ms sleep that woke up late) and the latency of a
  ``/healthz`` request sent every 20 ms.

``DATABASE_URL`` is the admin DSN (default ``postgresql://postgres@127.0.0.1:5432/postgres``).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import time
import tracemalloc
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field

import asyncpg
import httpx
from starlette.types import ASGIApp, Message

from loadtests import poc_corpus
from platform_api.kernel import Principal, current_principal, migrations, tenant_transaction
from platform_api.kernel.provision import (
    ServiceDatabase,
    drop_database,
    provision_database,
    with_database,
)
from platform_api.pocs import store, transfer
from platform_api.pocs.app import create_app
from platform_api.pocs.events import snapshot
from platform_api.pocs.settings import PocsSettings

DEFAULT_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
DATABASE = "bench_pocs_export"
PROBE_EVERY = 0.020
STALL_TICK = 0.005


async def seed(admin_dsn: str, db: ServiceDatabase, rows: int, *, seed: int) -> Principal:
    """``rows`` POCs of one owner in a new tenant (``COPY`` as the admin: no RLS to pass)."""
    rng = random.Random(seed)
    tenant_id, owner_id = poc_corpus.seeded_uuid(rng), poc_corpus.seeded_uuid(rng)
    pocs, tags, frameworks = [], [], []
    for poc in poc_corpus.pocs(rows, seed=seed):
        poc_id = poc_corpus.seeded_uuid(rng)
        pocs.append(  # in the order of the COPY's columns below
            (poc_id, tenant_id, owner_id, poc.name, poc.description, poc.language, poc.status,
             poc.visibility, poc.started_on, poc.finished_on, poc.created_at, poc.updated_at)
        )  # fmt: skip
        tags += [(tenant_id, poc_id, tag, i) for i, tag in enumerate(poc.tags)]
        frameworks += [(tenant_id, poc_id, fw, i) for i, fw in enumerate(poc.frameworks)]
    conn = await asyncpg.connect(with_database(admin_dsn, db.name))
    try:
        await conn.copy_records_to_table(
            "pocs",
            records=pocs,
            columns=(
                "poc_id", "tenant_id", "user_id", "name", "description", "language", "status",
                "visibility", "started_on", "finished_on", "created_at", "updated_at",
            ),
        )  # fmt: skip
        for table, column, records in (
            ("poc_tags", "tag", tags),
            ("poc_frameworks", "framework", frameworks),
        ):
            await conn.copy_records_to_table(
                table, records=records, columns=("tenant_id", "poc_id", column, "position")
            )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    return _principal(owner_id, tenant_id)


def _principal(owner_id: uuid.UUID, tenant_id: uuid.UUID) -> Principal:
    return Principal(user_id=owner_id, tenant_id=tenant_id, roles=("member",), token_id="")


async def seeded(admin_dsn: str, db: ServiceDatabase, rows: int) -> Principal | None:
    """The owner of the POCs a previous ``--keep`` run left, if there are ``rows`` of them."""
    conn = await asyncpg.connect(with_database(admin_dsn, db.name))
    try:
        found = await conn.fetch(
            "SELECT tenant_id, user_id, count(*) AS n FROM pocs GROUP BY 1, 2 LIMIT 2"
        )
    finally:
        await conn.close()
    if len(found) != 1 or found[0]["n"] != rows:
        return None
    return _principal(found[0]["user_id"], found[0]["tenant_id"])


@dataclass
class Clock:
    """Wall and CPU time of one piece of work."""

    name: str
    wall_ms: float = 0.0
    cpu_ms: float = 0.0

    def row(self) -> str:
        return f"| {self.name} | {self.wall_ms:,.0f} | {self.cpu_ms:,.0f} |"


@contextmanager
def clocked(name: str, out: list[Clock]) -> Iterator[Clock]:
    clock = Clock(name)
    wall, cpu = time.perf_counter(), time.process_time()
    yield clock
    clock.wall_ms = (time.perf_counter() - wall) * 1e3
    clock.cpu_ms = (time.process_time() - cpu) * 1e3
    out.append(clock)


async def pieces(pool: asyncpg.Pool, who: Principal, rows: int, chunk: int) -> list[Clock]:
    """Each step of building an export of every row, then of one page of ``chunk`` rows."""
    filters = store.ListFilter(viewer_id=who.user_id, mine_only=True)
    out: list[Clock] = []
    for label, limit in ((f"{rows:,} rows", rows), (f"one page of {chunk:,}", chunk)):
        with clocked(f"{label}: fetch (query + decode)", out):
            async with tenant_transaction(pool, who.tenant_id) as conn:
                records = await store.list_pocs(
                    conn, filters, sort="oldest", limit=limit, after=None
                )
        with clocked(f"{label}: snapshot()", out):
            data = [snapshot(r) for r in records]
        for fmt in ("csv", "json"):
            with clocked(f"{label}: render {fmt}", out):
                writer = transfer.export_writer(fmt)
                text = writer.head() + writer.rows(data) + writer.tail()
            with clocked(f"{label}: encode {fmt}", out) as clock:
                clock.name += f" ({len(text.encode()) / 1e6:.1f} MB)"
    return out


@dataclass
class LoopProbe:
    """Runs beside a request: how long the loop stalls, and how long ``/healthz`` takes.

    A stall or a probe still pending when the block ends counts too, for what it has waited:
    the work that ends a request holds the loop until that request's own task carries on.
    """

    client: httpx.AsyncClient
    stalls_ms: list[float] = field(default_factory=list)
    probes_ms: list[float] = field(default_factory=list)
    _slept_at: float | None = None
    _due: float | None = None

    async def _stalls(self) -> None:
        while True:
            self._slept_at = time.perf_counter()
            await asyncio.sleep(STALL_TICK)
            self.stalls_ms.append((time.perf_counter() - self._slept_at - STALL_TICK) * 1e3)

    async def _probes(self) -> None:
        # One request due every PROBE_EVERY; its latency counts from when it was due, so a
        # request that a stalled loop could not even send waits as a client's would.
        self._due = time.perf_counter()
        while True:
            await asyncio.sleep(max(0.0, self._due - time.perf_counter()))
            response = await self.client.get("/healthz")
            response.raise_for_status()
            self.probes_ms.append((time.perf_counter() - self._due) * 1e3)
            self._due += PROBE_EVERY

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(self._stalls()), asyncio.create_task(self._probes())]
        await asyncio.sleep(0)  # both are under way before the work starts
        try:
            yield
        finally:
            now = time.perf_counter()
            if self._slept_at is not None:
                self.stalls_ms.append(max(0.0, now - self._slept_at - STALL_TICK) * 1e3)
            if self._due is not None and now > self._due:  # under way, or not even sent
                self.probes_ms.append((now - self._due) * 1e3)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


async def download(client: httpx.AsyncClient, fmt: str) -> int:
    size = 0
    async with client.stream("GET", "/pocs/export", params={"format": fmt}) as response:
        response.raise_for_status()
        async for chunk in response.aiter_bytes():
            size += len(chunk)
    return size


async def peak_memory(app: ASGIApp, fmt: str) -> float:
    """The most memory (MB, tracemalloc) the app held while serving an export whose body
    is thrown away as it is sent (an HTTP client would buffer it all)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/pocs/export",
        "raw_path": b"/pocs/export",
        "query_string": f"format={fmt}".encode(),
        "headers": [(b"host", b"bench")],
        "client": ("127.0.0.1", 50000),
        "server": ("bench", 80),
        "root_path": "",
    }
    asked = False
    sent = asyncio.Event()  # the whole body: only then does the client go away

    async def receive() -> Message:
        nonlocal asked
        if asked:
            await sent.wait()
            return {"type": "http.disconnect"}
        asked = True
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start" and message["status"] != 200:
            raise RuntimeError(f"export answered {message['status']}")
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            sent.set()

    tracemalloc.start()
    try:
        await app(scope, receive, send)
        if not sent.is_set():
            raise RuntimeError("the export ended before its last byte")
        return tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


async def request(client: httpx.AsyncClient, app: ASGIApp, fmt: str) -> str:
    """One download alone (time, CPU), one beside the probe (stalls, latency), one whose
    memory is traced."""
    wall, cpu = time.perf_counter(), time.process_time()
    size = await download(client, fmt)
    wall_ms, cpu_ms = (time.perf_counter() - wall) * 1e3, (time.process_time() - cpu) * 1e3
    probe = LoopProbe(client)
    async with probe.running():
        await download(client, fmt)
    stalls, probes = sorted(probe.stalls_ms), sorted(probe.probes_ms) or [0.0]
    peak = await peak_memory(app, fmt)
    return (
        f"| {fmt} | {size / 1e6:.1f} | {wall_ms:,.0f} | {cpu_ms:,.0f} | {peak:,.0f} "
        f"| {_pct(stalls, 0.99):,.0f} | {stalls[-1]:,.0f} | {len(probes)} "
        f"| {_pct(probes, 0.5):,.1f} | {_pct(probes, 0.99):,.0f} | {probes[-1]:,.0f} |"
    )


def _pct(ordered: list[float], p: float) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


async def run(args: argparse.Namespace) -> None:
    admin_dsn = os.environ.get("DATABASE_URL", DEFAULT_ADMIN_DSN)
    who = None
    if args.reuse:
        db = await provision_database(admin_dsn, "pocs", DATABASE)
        await migrations.upgrade("pocs", db.owner_dsn)
        who = await seeded(admin_dsn, db, args.rows)
    if who is None:
        db = await provision_database(admin_dsn, "pocs", DATABASE, recreate=True)
        await migrations.upgrade("pocs", db.owner_dsn)
        started = time.perf_counter()
        who = await seed(admin_dsn, db, args.rows, seed=args.seed)
        print(f"seeded {args.rows:,} POCs in {time.perf_counter() - started:.1f} s\n")
    try:
        settings = PocsSettings(
            environment="test",
            database_url=db.app_dsn,
            event_bus="memory",
            db_pool_max=4,
            log_level="WARNING",
            export_chunk_rows=args.chunk,
        )
        app = create_app(settings)
        app.dependency_overrides[current_principal] = lambda: who
        logging.getLogger("httpx").setLevel(logging.WARNING)
        async with app.router.lifespan_context(app):
            if not args.no_pieces:
                print("| piece | wall ms | CPU ms |\n|---|---:|---:|")
                for clock in await pieces(app.state.pocs.pool, who, args.rows, args.chunk):
                    print(clock.row())
            print(
                "\n| export | MB | wall ms | CPU ms | peak memory MB | loop stall p99 ms "
                "| max ms | /healthz probes | p50 ms | p99 ms | max ms |\n"
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
            )
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                (await client.get("/pocs", params={"limit": 1})).raise_for_status()  # warm-up
                for fmt in ("csv", "json"):
                    print(await request(client, app, fmt))
    finally:
        if not args.keep:
            await drop_database(admin_dsn, db.name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--chunk", type=int, default=1000, help="rows per page")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-pieces", action="store_true", help="time the requests only")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--reuse", action="store_true", help="use the POCs a --keep run left, if as many"
    )
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
