"""POC create throughput and index lag (create's 201 until searchable), against a running stack.

    uv run python -m loadtests.pocs_lag --host http://localhost:8080 --pocs 2000 --concurrency 10

Signs up a fresh organisation (or logs in with ``--email``/``--password``), then ``--concurrency``
workers create ``--pocs`` POCs from :mod:`loadtests.poc_corpus` through ``POST /api/pocs/pocs``.
Each POC's name ends with a random 12-letter token; from its 201 on, ``--pollers`` workers
search for that token (``GET /api/search/search?q=<token>``) in turn with the other pending
POCs (each one at most every ``--poll-gap`` ms) until the POC is among the hits. Its lag is
the time from the 201 until the response that contained it (an upper bound; the gap between
polls of one POC is reported as the resolution). The pollers are few so that measuring does
not drown the stack in searches; they still share the machine with the creates.

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
    polls: int = 0


@dataclass
class Results:
    create_ms: list[float] = field(default_factory=list)
    lag_ms: list[float] = field(default_factory=list)
    gaps_ms: list[float] = field(default_factory=list)
    errors: collections.Counter[str] = field(default_factory=collections.Counter)
    lost: int = 0
    polls: int = 0
    poll_ms: list[float] = field(default_factory=list)


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
    pollers: int,
    poll_gap: float,
    give_up: float,
    seed: int,
) -> tuple[Results, float]:
    """Create and watch ``count`` POCs; return the results and the creating phase's length."""
    results = Results()
    bodies = poc_corpus.pocs(count, seed=seed)
    pending: collections.deque[Pending] = collections.deque()
    rng = random.Random(seed)
    creating = True

    async def create() -> None:
        for poc in bodies:
            token = "".join(rng.choice(ALPHABET) for _ in range(12))
            started = time.monotonic()
            try:
                r = await client.post("/api/pocs/pocs", json=poc.body(suffix=token))
            except httpx.HTTPError as exc:
                results.errors[f"create {type(exc).__name__}"] += 1
                continue
            done = time.monotonic()
            if r.status_code != 201:
                results.errors[f"create {r.status_code}"] += 1
                continue
            results.create_ms.append((done - started) * 1000)
            pending.append(Pending(r.json()["poc_id"], token, done))

    async def poll() -> None:
        while creating or pending:
            if not pending:
                await asyncio.sleep(0.002)
                continue
            item = pending.popleft()
            now = time.monotonic()
            if now - item.created > give_up:
                results.lost += 1
                continue
            wait = item.last_poll + poll_gap - now
            if wait > 0:
                pending.appendleft(item)
                await asyncio.sleep(min(wait, 0.005))
                continue
            if item.last_poll:
                results.gaps_ms.append((now - item.last_poll) * 1000)
            item.last_poll, item.polls = now, item.polls + 1
            try:
                r = await client.get("/api/search/search", params={"q": item.token, "limit": 10})
            except httpx.HTTPError as exc:
                results.errors[f"search {type(exc).__name__}"] += 1
                pending.append(item)
                continue
            answered = time.monotonic()
            results.polls += 1
            results.poll_ms.append((answered - now) * 1000)
            if r.status_code != 200:
                results.errors[f"search {r.status_code}"] += 1
                pending.append(item)
            elif any(hit["poc_id"] == item.poc_id for hit in r.json()["items"]):
                results.lag_ms.append((answered - item.created) * 1000)
            else:
                pending.append(item)

    started = time.monotonic()
    watchers = [asyncio.create_task(poll()) for _ in range(pollers)]
    await asyncio.gather(*(create() for _ in range(concurrency)))
    elapsed = time.monotonic() - started
    creating = False
    await asyncio.gather(*watchers)
    return results, elapsed


def report(results: Results, elapsed: float, args: argparse.Namespace) -> list[str]:
    created = len(results.create_ms)
    lines = [
        f"{created:,} POCs created in {elapsed:.1f} s at concurrency {args.concurrency}: "
        f"**{created / elapsed:,.1f} POCs/s**; {len(results.lag_ms):,} found by search, "
        f"{results.lost} not within {args.timeout:.0f} s; errors: {dict(results.errors) or 0}",
        f"({results.polls:,} search polls by {args.pollers} pollers, search latency "
        f"p50 {pct(results.poll_ms, 0.5):.0f} ms / p99 {pct(results.poll_ms, 0.99):.0f} ms; "
        f"gap between polls of one POC p50 {pct(results.gaps_ms, 0.5):.0f} ms)",
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
    limits = httpx.Limits(max_connections=args.concurrency + args.pollers + 2)
    async with httpx.AsyncClient(base_url=args.host, timeout=30, limits=limits) as client:
        token = await authenticate(client, args.email, args.password)
        client.headers["Authorization"] = f"Bearer {token}"
        results, elapsed = await run(
            client,
            count=args.pocs,
            concurrency=args.concurrency,
            pollers=args.pollers,
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
    parser.add_argument("--pollers", type=int, default=4)
    parser.add_argument("--poll-gap", type=float, default=20, help="ms between polls of a POC")
    parser.add_argument("--timeout", type=float, default=30, help="s until a POC counts lost")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--email")
    parser.add_argument("--password")
    args = parser.parse_args(argv)
    print("\n".join(asyncio.run(amain(args))))


if __name__ == "__main__":
    main()
