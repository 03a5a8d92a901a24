"""Dead letters: events the index consumer gave up on, kept in the ``search`` database.

An event is parked when its payload cannot be used (at once: retrying cannot help), or when
applying it alone failed ``SEARCH_CONSUMER_MAX_ATTEMPTS`` deliveries while the index and
the database answered (a poison event; an outage parks nothing). Parking acknowledges it on
the bus, so it no longer holds back the events behind it.

    python -m platform_api.search.dead_letters                # count and list, per tenant
    python -m platform_api.search.dead_letters --replay       # apply them again (after a fix)

Replayed events follow the usual rule (the newest version wins), so replaying is safe at
any time; with the embedded index, run it while the search service is stopped.
"""

from __future__ import annotations

import argparse
import asyncio
import uuid

import structlog

from platform_api.kernel import tenant_transaction
from platform_api.kernel.events import Event, MalformedEvent
from platform_api.kernel.logging import configure_logging

from . import store
from .service import Search, _parse, apply_events
from .settings import SearchSettings

_log = structlog.get_logger("search.dead_letters")


async def park(search: Search, event: Event, reason: str, *, attempts: int) -> None:
    """Keep ``event`` as a dead letter of its tenant, with why and after how many tries."""
    _log.error(
        "event_parked",
        event_id=str(event.id),
        type=event.type,
        tenant_id=str(event.tenant_id),
        attempts=attempts,
        reason=reason,
    )
    async with tenant_transaction(search.pool, event.tenant_id) as conn:
        await store.park(conn, event.to_dict(), reason=reason, attempts=attempts)


async def replay(search: Search, tenant_id: uuid.UUID) -> tuple[int, int]:
    """Apply a tenant's dead letters again; (replayed, still unusable). Rows that apply are
    removed; one whose payload is still unusable stays, and so does one that fails again
    (without stopping the replay of the others)."""
    async with tenant_transaction(search.pool, tenant_id) as conn:
        rows = await store.parked(conn)
    done = kept = 0
    for row in rows:
        try:
            event = Event.from_dict(row["event"])
            _parse(event)
        except (MalformedEvent, ValueError):
            kept += 1
            continue
        try:
            await apply_events(search, [event])
        except Exception as exc:  # still poison (or the index is away): it stays parked
            _log.warning("replay_failed", event_id=str(row["event_id"]), error=repr(exc))
            kept += 1
            continue
        async with tenant_transaction(search.pool, tenant_id) as conn:
            await store.unpark(conn, row["event_id"])
        done += 1
    return done, kept


async def main(argv: list[str] | None = None, settings: SearchSettings | None = None) -> int:
    """List (or replay) dead letters; return how many there were."""
    from .app import build_search
    from .service import known_tenants

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tenant", action="append", type=uuid.UUID, default=[])
    parser.add_argument("--replay", action="store_true", help="apply them again")
    args = parser.parse_args(argv)
    settings = settings or SearchSettings()
    configure_logging(f"{settings.service_name}-dead-letters", settings.log_level)
    total = 0
    async with build_search(settings) as search:
        for tenant_id in args.tenant or await known_tenants(search):
            async with tenant_transaction(search.pool, tenant_id) as conn:
                rows = await store.parked(conn)
            total += len(rows)
            for row in rows:
                print(
                    f"{tenant_id} {row['event_id']} {row['type']} v{row['version']}"
                    f" after {row['attempts']}: {row['reason']}"
                )
            if args.replay and rows:
                done, kept = await replay(search, tenant_id)
                print(f"{tenant_id}: replayed {done}, still unusable {kept}")
    return total


if __name__ == "__main__":
    asyncio.run(main())
