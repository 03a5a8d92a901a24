"""Benchmark of the embedded search index (tantivy) over a realistic multi-tenant corpus.

    uv run python -m loadtests.bench_search                                  # quick: seconds
    uv run python -m loadtests.bench_search --tenants 10 --per-tenant 100000 # 1M POCs

Bulk-loads ``--tenants`` x ``--per-tenant`` POCs from :mod:`loadtests.poc_corpus` through
``TantivyIndex.apply`` (the search service's own write path, ``--batch`` documents per commit)
into a temporary directory, then times ``TantivyIndex.search``/``suggest`` (the service's query
code without HTTP: query building, top hits, stored fields, highlights and facets) one query
at a time, for each query class:

- ``text``: one or two popular words;
- ``typo``: a misspelt word (``pyhton``, ``kafak``, ...);
- ``typing``: a popular word and the first letter of the next, as typed (``rate l``): the
  one-letter prefix matches every word of the index that starts with it;
- ``filter``: no words, one language or one tag (newest first);
- ``facets``: no words and no filter: the facet counts of a whole tenant;
- ``suggest``: as-you-type suggestions for a 2-5 letter prefix.

Prints one markdown table (p50/p95/p99/max in ms, mean total hits) after the load figures
(time, documents/s, index size on disk, process RSS).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

from loadtests import poc_corpus
from platform_api.search.index import SearchQuery
from platform_api.search.index_tantivy import TantivyIndex

CLASSES = ("text", "typo", "typing", "filter", "facets", "suggest")


@dataclass
class Timings:
    name: str
    ms: list[float]
    hits: list[int]

    def pct(self, p: float) -> float:
        ordered = sorted(self.ms)
        return ordered[min(len(ordered) - 1, int(len(ordered) * p))]

    def row(self) -> str:
        return (
            f"| {self.name} | {len(self.ms)} | {self.pct(0.50):.1f} | {self.pct(0.95):.1f} "
            f"| {self.pct(0.99):.1f} | {max(self.ms):.1f} | {statistics.mean(self.hits):,.0f} |"
        )


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _query(kind: str, tenant: poc_corpus.Tenant, rng: random.Random) -> SearchQuery:
    viewer = rng.choice(tenant.members)
    if kind == "text":
        return SearchQuery(tenant.tenant_id, viewer, text=poc_corpus.typical_query(rng))
    if kind == "typo":
        return SearchQuery(tenant.tenant_id, viewer, text=poc_corpus.typo_query(rng))
    if kind == "typing":
        words = [*poc_corpus.typical_query(rng).split(), poc_corpus.prefix_query(rng)]
        return SearchQuery(tenant.tenant_id, viewer, text=f"{words[0]} {words[-1][0]}")
    if kind == "filter":
        if rng.random() < 0.5:
            return SearchQuery(
                tenant.tenant_id, viewer, languages=(poc_corpus.language_filter(rng),)
            )
        return SearchQuery(tenant.tenant_id, viewer, tags=(poc_corpus.tag_filter(rng),))
    return SearchQuery(tenant.tenant_id, viewer)


async def _time(
    name: str, count: int, call: Callable[[random.Random], Awaitable[int]], seed: int
) -> Timings:
    rng = random.Random(f"{name}-{seed}")
    for _ in range(min(20, count)):  # warm-up: caches, first-use allocations
        await call(rng)
    out = Timings(name, [], [])
    for _ in range(count):
        started = time.perf_counter()
        hits = await call(rng)
        out.ms.append((time.perf_counter() - started) * 1000)
        out.hits.append(hits)
    return out


async def run(
    tenant_count: int, per_tenant: int, queries: int, *, batch: int, seed: int, directory: Path
) -> list[str]:
    """Load the corpus into an index under ``directory`` and return the report's lines."""
    process = psutil.Process()
    rss_before = process.memory_info().rss
    tenants = poc_corpus.tenants(tenant_count, seed=seed)
    index = TantivyIndex(directory)
    started = time.perf_counter()
    indexing = 0.0
    for tenant in tenants:
        docs = poc_corpus.documents(tenant, per_tenant, seed=seed)
        while chunk := [doc for _, doc in zip(range(batch), docs, strict=False)]:
            t0 = time.perf_counter()
            await index.apply(chunk, [])
            indexing += time.perf_counter() - t0
    total = time.perf_counter() - started
    count = tenant_count * per_tenant
    searcher = index._index.searcher()
    lines = [
        f"Corpus: {tenant_count} tenants x {per_tenant:,} POCs = {count:,} "
        f"(seed {seed}, {batch:,} per commit, {os.cpu_count()} CPUs)",
        "",
        f"- load: {total:.1f} s ({count / total:,.0f} POCs/s; of which index writes "
        f"{indexing:.1f} s, generation {total - indexing:.1f} s)",
        f"- index on disk: {_size(directory) / 2**20:,.0f} MiB in "
        f"{searcher.num_segments} segments, {searcher.num_docs:,} documents",
        f"- process RSS after load: {process.memory_info().rss / 2**20:,.0f} MiB "
        f"(+{(process.memory_info().rss - rss_before) / 2**20:,.0f} MiB)",
        "",
    ]
    pick = random.Random(f"tenant-{seed}")

    async def search(kind: str, rng: random.Random) -> int:
        page = await index.search(_query(kind, pick.choice(tenants), rng))
        return page.total

    async def suggest(rng: random.Random) -> int:
        tenant = pick.choice(tenants)
        found = await index.suggest(
            tenant.tenant_id, rng.choice(tenant.members), poc_corpus.prefix_query(rng), 8
        )
        return len(found.names) + len(found.tags)

    results = []
    for kind in CLASSES:
        call: Callable[[random.Random], Awaitable[int]]
        if kind == "suggest":
            call = suggest
        else:

            async def call(rng: random.Random, kind: str = kind) -> int:
                return await search(kind, rng)

        results.append(await _time(kind, queries, call, seed))
    lines += [
        "| query class | queries | p50 ms | p95 ms | p99 ms | max ms | mean hits |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *(r.row() for r in results),
        "",
        f"Process RSS after queries: {process.memory_info().rss / 2**20:,.0f} MiB",
    ]
    await index.aclose()
    return lines


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenants", type=int, default=2)
    parser.add_argument("--per-tenant", type=int, default=5_000)
    parser.add_argument("--queries", type=int, default=500, help="per query class")
    parser.add_argument("--batch", type=int, default=10_000, help="documents per commit")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dir", type=Path, help="index directory (default: a temporary one)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(dir=args.dir) as path:
        lines = asyncio.run(
            run(
                args.tenants,
                args.per_tenant,
                args.queries,
                batch=args.batch,
                seed=args.seed,
                directory=Path(path),
            )
        )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
