"""The adapters the search index contract suites run against, for either document kind:
tantivy in RAM, tantivy on disk, and OpenSearch when ``SEARCH_TEST_OPENSEARCH_URL`` points
at a cluster (skipped otherwise; each run gets its own index, dropped afterwards).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest

from platform_api.search.opensearch_base import OpenSearchAdapter
from platform_api.search.tantivy_base import TantivyAdapter

OPENSEARCH_URL = os.environ.get("SEARCH_TEST_OPENSEARCH_URL", "")
ADAPTERS = ["tantivy-ram", "tantivy-disk", "opensearch"]
Embedded = TypeVar("Embedded", bound=TantivyAdapter[Any, Any, Any])
Remote = TypeVar("Remote", bound=OpenSearchAdapter[Any, Any, Any])


@asynccontextmanager
async def open_adapter(
    name: str, tmp_path: Path, embedded: type[Embedded], remote: type[Remote]
) -> AsyncIterator[Embedded | Remote]:
    """The adapter ``name`` (one of :data:`ADAPTERS`) of a kind, empty, closed afterwards."""
    if name != "opensearch":
        local = embedded(tmp_path if name == "tantivy-disk" else None)
        try:
            yield local
        finally:
            await local.aclose()
        return
    if not OPENSEARCH_URL:
        pytest.skip("set SEARCH_TEST_OPENSEARCH_URL to run the OpenSearch adapter")
    cluster = remote(OPENSEARCH_URL, index=f"test-{uuid.uuid4().hex[:8]}", replicas=0)
    await cluster.ensure_index()
    try:
        yield cluster
    finally:
        await cluster.drop()
        await cluster.aclose()


async def reopened(embedded: type[Embedded], path: Path, documents: Sequence[Any]) -> Embedded:
    """An on-disk index that held ``documents`` when it was closed, opened again."""
    first = embedded(path)
    await first.apply(documents, [])
    await first.aclose()
    return embedded(path)
