"""Benchmark of the embedded index: typo-tolerant searches with facets over many POCs.

uv run python loadtests/bench_search.py [--docs 50000] [--tenants 50] [--queries 300]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta

from platform_api.search.index import PocDocument, SearchQuery
from platform_api.search.index_tantivy import TantivyIndex

WORDS = [
    "python",
    "react",
    "kafka",
    "rust",
    "tenant",
    "search",
    "fuzzy",
    "api",
    "grpc",
    "stream",
    "yjs",
    "editor",
    "cli",
    "data",
    "etl",
]
LANGUAGES = ["Python", "TypeScript", "Go", "Rust", "Java"]
TYPOS = ["pyhton", "reactt", "kafak", "rsut", "serach", "strem", "edtor"]


def corpus(docs: int, tenants: list[uuid.UUID]) -> list[PocDocument]:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    out = []
    for i in range(docs):
        words = random.sample(WORDS, 4)
        when = start + timedelta(minutes=i)
        out.append(
            PocDocument(
                random.choice(tenants), uuid.uuid4(), uuid.uuid4(), " ".join(words[:3]).title(),
                f"A proof of concept about {' and '.join(words)}.", random.choice(LANGUAGES),
                tuple(random.sample(WORDS, 3)), ("Framework",), "done", "tenant", None,
                when, when, 1,
            )
        )  # fmt: skip
    return out


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=int, default=50_000)
    parser.add_argument("--tenants", type=int, default=50)
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    tenants = [uuid.uuid4() for _ in range(args.tenants)]
    with tempfile.TemporaryDirectory() as path:
        index = TantivyIndex(path)
        docs = corpus(args.docs, tenants)
        started = time.perf_counter()
        for i in range(0, len(docs), 1000):
            await index.apply(docs[i : i + 1000], [])
        indexing = time.perf_counter() - started
        timings = []
        for _ in range(args.queries):
            query = SearchQuery(random.choice(tenants), uuid.uuid4(), text=random.choice(TYPOS))
            t0 = time.perf_counter()
            await index.search(query)
            timings.append((time.perf_counter() - t0) * 1000)
        timings.sort()
        p95 = timings[int(len(timings) * 0.95)]
        print(
            f"{args.docs} POCs / {args.tenants} tenants: indexed in {indexing:.1f} s; "
            f"typo search with facets p50 {statistics.median(timings):.1f} ms, p95 {p95:.1f} ms"
        )
        await index.aclose()


if __name__ == "__main__":
    asyncio.run(main())
