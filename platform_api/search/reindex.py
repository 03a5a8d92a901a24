"""Rebuild the search index from the POC and dojo services' feeds, for some tenants or all.

    python -m platform_api.search.reindex                 # every tenant the index has seen
    python -m platform_api.search.reindex --tenant <id>   # one (repeatable)

The same rebuild runs over HTTP for one's own organization: ``POST /reindex`` (owners and
admins). Tantivy allows one writer per index directory, so with the embedded index run this
command while the search service is stopped (or use the endpoint); with OpenSearch, any time.
"""

from __future__ import annotations

import argparse
import asyncio
import uuid

from platform_api.kernel.logging import configure_logging

from .app import build_search
from .service import known_tenants, reindex_tenant
from .settings import SearchSettings


async def main(argv: list[str] | None = None, settings: SearchSettings | None = None) -> int:
    """Rebuild, print one line per tenant; return the number of tenants rebuilt."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tenant", action="append", type=uuid.UUID, default=[])
    args = parser.parse_args(argv)
    settings = settings or SearchSettings()
    configure_logging(f"{settings.service_name}-reindex", settings.log_level)
    async with build_search(settings) as search:
        tenants = args.tenant or await known_tenants(search)
        for tenant_id in tenants:
            report = await reindex_tenant(search, tenant_id)
            dojos = report.dojos
            print(
                f"{tenant_id}: indexed {report.indexed}, removed {report.removed},"
                f" kept {report.kept_newer} newer; dojos: indexed {dojos.indexed},"
                f" removed {dojos.removed}, kept {dojos.kept_newer} newer"
            )
    return len(tenants)


if __name__ == "__main__":
    asyncio.run(main())
