"""POC create throughput and index lag (create's 201 until searchable), against a running stack.

    uv run python -m loadtests.pocs_lag --host http://localhost:8080 --pocs 2000 --concurrency 10

Signs up a fresh organisation (or logs in with ``--email``/``--password``), then ``--concurrency``
workers create ``--pocs`` POCs from :mod:`loadtests.poc_corpus` through ``POST /api/pocs/pocs``,
each with the run's tag and a name ending in its own random 12-letter token.

Lag is the time from a POC's 201 until a search response that contains it. ``--watchers``
tasks repeat ``GET /api/search/search?tags=<run tag>&sort=newest&limit=50`` back to back, so
one cycle sees every POC that became searchable since the last one (reading further pages while
a whole page is new); the cycle's length is the resolution. A POC still unseen
``--straggler-after`` ms after its 201 is also searched by its token (``?q=<token>``) at most
every ``--poll-gap`` ms. Polling each POC by its token alone would
need hundreds of searches per second at 100 creates/s, and that search load, sharing the two
cores with the creates, would be what got measured.

Prints the create throughput (POCs/s over the creating phase), create latency and index lag
percentiles as a markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import random
import secrets
import statistics
import string
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx

from loadtests import poc_corpus

ALPHABET = string.ascii_lowercase


@dataclass
class Pending:
    poc_id: str
    token: str
    created: float  # monotonic time of the 201
    last_poll: float = 0.0


@dataclass
class Results:
    create_ms: list[float] = field(default_factory=list)
    lag_ms: list[float] = field(default_factory=list)
    errors: collections.Counter[str] = field(default_factory=collections.Counter)
    lost: int = 0
    watch_ms: list[float] = field(default_factory=list)
    token_polls: int = 0
    found_by_token: int = 0


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] if ordered else float("nan")


async def authenticate(client: httpx.AsyncClient, email: str | None, password: str | None) -> str:
    """An access token: log in with the given account, or sign up a new organisation."""
    if email and password:
        r = await client.post("/api/identity/login", json={"email": email, "password": password})
        r.raise_for_status()
        return str(r.json()["access_token"])
    tag = secrets.token_hex(4)
    r = await client.post(
        "/api/identity/signup",
        json={
            "organization": f"Lag bench {tag}",
            "full_name": "Lag Bench",
            "email": f"lag-{tag}@bench.mrbill.dev",
            "password": f"bench-{secrets.token_urlsafe(12)}",
        },
    )
    r.raise_for_status()
    return str(r.json()["tokens"]["access_token"])


async def run(
    client: httpx.AsyncClient,
    *,
    count: int,
    concurrency: int,
    watchers: int,
    straggler_after: float,
    poll_gap: float,
    give_up: float,
    seed: int,
) -> tuple[Results, float]:
    """Create and watch ``count`` POCs; return the results and the creating phase's length."""
    results = Results()
    bodies = poc_corpus.pocs(count, seed=seed)
    pending: dict[str, Pending] = {}
    rng = random.Random(seed)
    run_tag = f"lag-{secrets.token_hex(4)}"
    creating = True

    def seen(poc_id: str, answered: float) -> bool:
        item = pending.pop(poc_id, None)
        if item is not None:
            results.lag_ms.append((answered - item.created) * 1000)
        return item is not None

    async def search(params: dict[str, str | int]) -> tuple[list[str], float, str] | None:
        """Ids of the hits, when the answer came, and the next page's cursor ('' if none)."""
        try:
            r = await client.get("/api/search/search", params=params)
        except httpx.HTTPError as exc:
            results.errors[f"search {type(exc).__name__}"] += 1
            return None
        if r.status_code != 200:
            results.errors[f"search {r.status_code}"] += 1
            return None
        body = r.json()
        ids = [hit["poc_id"] for hit in body["items"]]
        return ids, time.monotonic(), body.get("next_cursor") or ""

    async def create() -> None:
        for poc in bodies:
            token = "".join(rng.choice(ALPHABET) for _ in range(12))
            body = poc.body(suffix=token)
            body["tags"] = [run_tag, *body["tags"]]
            started = time.monotonic()
            try:
                r = await client.post("/api/pocs/pocs", json=body)
            except httpx.HTTPError as exc:
                results.errors[f"create {type(exc).__name__}"] += 1
                continue
            done = time.monotonic()
            if r.status_code != 201:
                results.errors[f"create {r.status_code}"] += 1
                continue
            results.create_ms.append((done - started) * 1000)
            poc_id = r.json()["poc_id"]
            pending[poc_id] = Pending(poc_id, token, done)

    async def watch() -> None:
        params: dict[str, str | int] = {"tags": run_tag, "sort": "newest", "limit": 50}
        known: set[str] = set()
        while creating or pending:
            started, cursor = time.monotonic(), ""
            while True:  # newest first; page on while a whole page is new
                found = await search({**params, "cursor": cursor} if cursor else params)
                if found is None:
                    await asyncio.sleep(poll_gap)
                    break
                ids, answered, cursor = found
                for poc_id in ids:
                    seen(poc_id, answered)
                fresh = known.isdisjoint(ids)
                known.update(ids)
                if not (fresh and cursor):
                    results.watch_ms.append((answered - started) * 1000)
                    break
            if not pending:
                await asyncio.sleep(0.005)

    async def stragglers() -> None:
        while creating or pending:
            now = time.monotonic()
            late = [
                p
                for p in list(pending.values())
                if now - p.created > straggler_after and now - p.last_poll > poll_gap
            ]
            for item in late:
                if now - item.created > give_up:
                    pending.pop(item.poc_id, None)
                    results.lost += 1
                    continue
                item.last_poll = time.monotonic()
                results.token_polls += 1
                found = await search({"q": item.token, "limit": 10})
                if found and item.poc_id in found[0] and seen(item.poc_id, found[1]):
                    results.found_by_token += 1
            await asyncio.sleep(0.01)

    started = time.monotonic()
    tasks = [asyncio.create_task(watch()) for _ in range(watchers)]
    tasks.append(asyncio.create_task(stragglers()))
    await asyncio.gather(*(create() for _ in range(concurrency)))
    elapsed = time.monotonic() - started
    creating = False
    await asyncio.gather(*tasks)
    return results, elapsed


def report(results: Results, elapsed: float, args: argparse.Namespace) -> list[str]:
    created = len(results.create_ms)
    lines = [
        f"{created:,} POCs created in {elapsed:.1f} s at concurrency {args.concurrency}: "
        f"**{created / elapsed:,.1f} POCs/s**; {len(results.lag_ms):,} found by search, "
        f"{results.lost} not within {args.timeout:.0f} s; errors: {dict(results.errors) or 0}",
        f"(watch cycle, i.e. lag resolution: {len(results.watch_ms):,} searches by "
        f"{args.watchers} watcher(s), p50 {pct(results.watch_ms, 0.5):.0f} ms / p99 "
        f"{pct(results.watch_ms, 0.99):.0f} ms; {results.token_polls:,} straggler searches by "
        f"token found {results.found_by_token})",
        "",
        "| measure | n | p50 ms | p95 ms | p99 ms | max ms | mean ms |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, values in (
        ("create (POST /pocs → 201)", results.create_ms),
        ("index lag (201 → in search hits)", results.lag_ms),
    ):
        if values:
            lines.append(
                f"| {name} | {len(values):,} | {pct(values, 0.5):.0f} | {pct(values, 0.95):.0f} "
                f"| {pct(values, 0.99):.0f} | {max(values):.0f} | {statistics.mean(values):.0f} |"
            )
    return lines


async def amain(args: argparse.Namespace) -> list[str]:
    limits = httpx.Limits(max_connections=args.concurrency + args.watchers + 2)
    async with httpx.AsyncClient(base_url=args.host, timeout=30, limits=limits) as client:
        token = await authenticate(client, args.email, args.password)
        client.headers["Authorization"] = f"Bearer {token}"
        results, elapsed = await run(
            client,
            count=args.pocs,
            concurrency=args.concurrency,
            watchers=args.watchers,
            straggler_after=args.straggler_after / 1000,
            poll_gap=args.poll_gap / 1000,
            give_up=args.timeout,
            seed=args.seed,
        )
    return report(results, elapsed, args)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="http://localhost:8080", help="the entry point")
    parser.add_argument("--pocs", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--watchers", type=int, default=1)
    parser.add_argument("--straggler-after", type=float, default=2000, help="ms")
    parser.add_argument("--poll-gap", type=float, default=200, help="ms between token searches")
    parser.add_argument("--timeout", type=float, default=30, help="s until a POC counts lost")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--email")
    parser.add_argument("--password")
    args = parser.parse_args(argv)
    print("\n".join(asyncio.run(amain(args))))


if __name__ == "__main__":
    main()
