"""POC use cases. Every change writes its event to the outbox in the same transaction."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncGenerator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from pydantic import ValidationError

from platform_api.kernel import (
    Principal,
    Problem,
    forbidden,
    idempotency,
    not_found,
    tenant_transaction,
)
from platform_api.kernel.db import bounded_connection_waits
from platform_api.kernel.errors import validation_message
from platform_api.kernel.i18n import Invalid
from platform_api.kernel.outbox import enqueue

from . import store, transfer
from .events import poc_event, snapshot
from .schemas import ImportedRow, ImportReport, PocIn, PocPatch, RowError, check_dates
from .settings import PocsSettings


class ExportSlots:
    """How many exports an organization downloads at once in this process: one more is
    answered 429, so that one tenant's downloads cannot fill the formatting threads' and the
    pool's queues for everyone. (Those two bound the work of all exports together; a
    download holds neither between its pages, so a slow reader slows only its own.)"""

    RETRY_AFTER_SECONDS = 10

    def __init__(self, per_tenant: int) -> None:
        self.per_tenant = per_tenant
        self.running: Counter[uuid.UUID] = Counter()

    @contextmanager
    def hold(self, tenant: uuid.UUID) -> Iterator[None]:
        if self.running[tenant] >= self.per_tenant:
            raise Problem(
                429,
                "Your organization already has {limit} exports downloading; "
                "try again when one has finished",
                params={"limit": self.per_tenant},
                headers={"Retry-After": str(self.RETRY_AFTER_SECONDS)},
            )
        self.running[tenant] += 1
        try:
            yield
        finally:
            self.running[tenant] -= 1
            if not self.running[tenant]:
                del self.running[tenant]


@dataclass
class Pocs:
    """Everything the use cases need, built once per process by ``create_app``."""

    settings: PocsSettings
    pool: asyncpg.Pool
    # Exports format their pages on threads of their own: however many run at once, the
    # default executor (name lookups, file work) stays free for the rest of the service.
    formatting: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(2, thread_name_prefix="poc-export")
    )
    exports: ExportSlots = field(init=False)

    def __post_init__(self) -> None:
        self.exports = ExportSlots(self.settings.export_concurrency_per_tenant)

    @property
    def retention(self) -> timedelta:
        return timedelta(days=self.settings.trash_retention_days)


def etag(version: int) -> str:
    return f'"{version}"'


def _matches(if_match: str, version: int) -> bool:
    """RFC 9110 If-Match (strong comparison: weak tags never match)."""
    candidates = [tag.strip() for tag in if_match.split(",")]
    return "*" in candidates or etag(version) in candidates


def _visible(row: Any, who: Principal) -> bool:
    return row["visibility"] == "tenant" or row["owner_id"] == who.user_id


async def _editable(conn: asyncpg.Connection, who: Principal, poc_id: uuid.UUID) -> Any:
    """Lock the viewer's own live POC: 404 if they cannot see it, 403 if it is not theirs."""
    row = await store.get_poc(conn, poc_id, for_update=True)
    if row is None or row["deleted_at"] is not None or not _visible(row, who):
        raise not_found("POC")
    if row["owner_id"] != who.user_id:
        raise forbidden("Only the owner of a POC may change it")
    return row


def _check_precondition(row: Any, if_match: str | None, *, required: bool) -> None:
    if if_match is None:
        if required:
            raise Problem(428, "Send If-Match with the ETag of the version you are changing")
        return
    if not _matches(if_match, row["version"]):
        raise Problem(
            412,
            "The POC changed since you read it; fetch it again and retry",
            headers={"ETag": etag(row["version"])},
        )


async def create_poc(
    pocs: Pocs, who: Principal, data: PocIn, once: idempotency.Once | None = None
) -> tuple[Any, bool]:
    """Register a POC owned by the caller. Returns ``(poc, replayed)``: a retry with the
    same ``once`` key gets the POC the first request made, as it is now."""
    async with tenant_transaction(pocs.pool, who.tenant_id) as conn:
        if once is not None and (found := await once.recall(conn, who, "pocs.create")):
            row = await store.get_poc(conn, uuid.UUID(found["poc_id"]))
            if row is None or row["deleted_at"] is not None:  # deleted since
                raise not_found("POC")
            return row, True
        poc_id = await store.insert_poc(conn, who.tenant_id, who.user_id, data.model_dump())
        row = await store.get_poc(conn, poc_id)
        await enqueue(conn, [poc_event("poc.created", row)])
        if once is not None:
            await once.remember(conn, who, "pocs.create", {"poc_id": str(poc_id)})
    return row, False


async def get_poc(pocs: Pocs, who: Principal, poc_id: uuid.UUID) -> Any:
    """A live POC the caller may see (404 otherwise, including other tenants' ids)."""
    async with tenant_transaction(pocs.pool, who.tenant_id) as conn:
        row = await store.get_poc(conn, poc_id)
    if row is None or row["deleted_at"] is not None or not _visible(row, who):
        raise not_found("POC")
    return row


async def update_poc(
    pocs: Pocs, who: Principal, poc_id: uuid.UUID, patch: PocPatch, if_match: str | None
) -> Any:
    """Apply a partial update if ``if_match`` names the current version (412 otherwise)."""
    async with tenant_transaction(pocs.pool, who.tenant_id) as conn:
        row = await _editable(conn, who, poc_id)
        _check_precondition(row, if_match, required=True)
        changes = patch.changes()
        try:
            check_dates(
                changes.get("started_on", row["started_on"]),
                changes.get("finished_on", row["finished_on"]),
            )
        except Invalid as exc:
            raise Problem(422, exc.template, params=exc.params) from None
        if not changes:
            return row
        await store.update_poc(conn, poc_id, changes)
        row = await store.get_poc(conn, poc_id)
        await enqueue(conn, [poc_event("poc.updated", row)])
    return row


async def delete_poc(pocs: Pocs, who: Principal, poc_id: uuid.UUID, if_match: str | None) -> None:
    """Move a POC to the trash (restorable during the retention period)."""
    async with tenant_transaction(pocs.pool, who.tenant_id) as conn:
        row = await _editable(conn, who, poc_id)
        _check_precondition(row, if_match, required=False)
        await store.set_deleted(conn, poc_id, True)
        await enqueue(conn, [poc_event("poc.deleted", await store.get_poc(conn, poc_id))])


async def restore_poc(pocs: Pocs, who: Principal, poc_id: uuid.UUID) -> Any:
    """Bring a POC of the caller's back from the trash."""
    async with tenant_transaction(pocs.pool, who.tenant_id) as conn:
        row = await store.get_poc(conn, poc_id, for_update=True)
        cutoff = datetime.now(UTC) - pocs.retention
        if (
            row is None
            or row["owner_id"] != who.user_id
            or row["deleted_at"] is None
            or row["deleted_at"] <= cutoff
        ):
            raise not_found("Deleted POC")
        await store.set_deleted(conn, poc_id, False)
        row = await store.get_poc(conn, poc_id)
        await enqueue(conn, [poc_event("poc.restored", row)])
    return row


def _row_errors(exc: ValidationError, locale: str) -> list[dict[str, Any]]:
    return [
        {"loc": list(e.get("loc", ())), "msg": validation_message(e, locale), "type": e["type"]}
        for e in exc.errors()
    ]


async def import_pocs(
    pocs: Pocs,
    who: Principal,
    rows: list[tuple[int, Any]],
    *,
    dry_run: bool = False,
    locale: str = "en",
    once: idempotency.Once | None = None,
) -> tuple[ImportReport, bool]:
    """Validate every row; import all of them in one transaction, or none (422 with a report,
    its rows' errors said in ``locale``). Returns ``(report, replayed)``: a retry with the
    same ``once`` key gets the first import's report and imports nothing."""
    if len(rows) > pocs.settings.import_max_rows:
        raise Problem(
            413,
            "An import holds at most {limit} rows",
            params={"limit": pocs.settings.import_max_rows},
        )
    valid: list[tuple[int, PocIn]] = []
    rejected: list[RowError] = []
    for number, raw in rows:
        try:
            valid.append((number, PocIn.model_validate(raw)))
        except ValidationError as exc:
            rejected.append(RowError(row=number, errors=_row_errors(exc, locale)))
    report = ImportReport(
        total=len(rows),
        accepted=[n for n, _ in valid],
        rejected=rejected,
        imported=[],
        dry_run=dry_run,
    )
    if rejected:
        raise Problem(
            422,
            "{rejected} of {total} rows are invalid; nothing was imported",
            params={"rejected": len(rejected), "total": len(rows)},
            **report.model_dump(mode="json"),
        )
    if dry_run or not valid:
        return report, False
    async with tenant_transaction(pocs.pool, who.tenant_id) as conn:
        if once is not None and (found := await once.recall(conn, who, "pocs.import")):
            return ImportReport.model_validate(found), True
        events = []
        for number, data in valid:
            poc_id = await store.insert_poc(conn, who.tenant_id, who.user_id, data.model_dump())
            events.append(poc_event("poc.created", await store.get_poc(conn, poc_id)))
            report.imported.append(ImportedRow(row=number, poc_id=poc_id))
        await enqueue(conn, events)
        if once is not None:
            await once.remember(conn, who, "pocs.import", report.model_dump(mode="json"))
    return report, False


EXPORT_MAX_ROWS = 100_000  # the oldest this many POCs, as the export has always held
# For a database connection once the download has started: below the 60 s a proxy (nginx's
# default proxy_read_timeout) lets a response stay silent.
EXPORT_PAGE_WAIT_SECONDS = 25.0


async def export_pocs(
    pocs: Pocs, who: Principal, writer: transfer.ExportWriter, *, mine_only: bool
) -> AsyncGenerator[bytes, None]:
    """The export file of the POCs the caller may see (or their own), oldest first, in pieces
    of ``export_chunk_rows`` POCs, so that neither the loop nor memory carries all of them.

    Each page is read by keyset in a short read-only tenant transaction of its own: a slow
    download holds no database connection between pages. The keys (creation time, id) never
    change, so no POC is repeated or skipped because it changed meanwhile; one created or
    trashed during the download may or may not be in it. Formatting a page runs in a worker
    thread, and the loop serves other requests between pages.

    The export holds one of ``pocs.exports`` until it ends: finished, failed, or closed (its
    caller closes it when the download is cut short or never starts).
    """
    with pocs.exports.hold(who.tenant_id):
        filters = store.ListFilter(viewer_id=who.user_id, mine_only=mine_only)
        page_size = pocs.settings.export_chunk_rows
        after: tuple[Any, uuid.UUID] | None = None
        left = EXPORT_MAX_ROWS
        text = writer.head()
        while left:
            limit = min(page_size, left)
            # The request's short wait for a connection fits its first page, read before the
            # response starts (a 503 then); once the download is under way, failing fast would
            # only cut the file short, so later pages wait longer for a connection.
            waits = (
                bounded_connection_waits(EXPORT_PAGE_WAIT_SECONDS)
                if after is not None
                else nullcontext()
            )
            with waits:
                async with tenant_transaction(pocs.pool, who.tenant_id, readonly=True) as conn:
                    rows = await store.list_pocs(
                        conn, filters, sort="oldest", limit=limit, after=after
                    )
            if rows:
                loop = asyncio.get_running_loop()
                text += await loop.run_in_executor(pocs.formatting, _export_rows, writer, rows)
            if len(rows) < limit:
                break
            yield text.encode()
            text, left = "", left - len(rows)
            after = rows[-1]["sort_key"], rows[-1]["poc_id"]
        yield (text + writer.tail()).encode()


def _export_rows(writer: transfer.ExportWriter, rows: list[Any]) -> str:
    return writer.rows(snapshot(row) for row in rows)


async def purge_expired(owner_pool: asyncpg.Pool, retention: timedelta, *, batch: int = 500) -> int:
    """Delete POCs past their trash retention (every tenant's), with a ``poc.purged`` each."""
    total = 0
    while True:
        async with owner_pool.acquire() as conn, conn.transaction():
            purged = await store.purge_expired(conn, retention=retention, batch=batch)
            await enqueue(conn, [poc_event("poc.purged", row) for row in purged])
        total += len(purged)
        if len(purged) < batch:
            return total


async def expire_idempotency_keys(owner_pool: asyncpg.Pool) -> int:
    """Forget the ``Idempotency-Key`` answers past their retention, every tenant's."""
    async with owner_pool.acquire() as conn:
        return await idempotency.expire(conn)


@dataclass(frozen=True)
class PocsEraser:
    """What the POC service erases when identity deletes an organization or an account.

    An organization: every POC and every event still waiting to leave. A member: the POCs
    only they could reach (private ones, and what is in their trash), each with a
    ``poc.purged`` so that search forgets them too. POCs they shared with the organization
    stay: they are the organization's work, not the member's personal data; they keep the
    departed member's id, which no longer names anyone.
    """

    pool: asyncpg.Pool

    async def erase_tenant(self, tenant_id: uuid.UUID) -> None:
        async with tenant_transaction(self.pool, tenant_id) as conn:
            await store.erase_tenant(conn, tenant_id)
            await idempotency.forget(conn, tenant_id)

    async def erase_user(self, tenant_id: uuid.UUID, user_id: uuid.UUID) -> None:
        async with tenant_transaction(self.pool, tenant_id) as conn:
            erased = await store.erase_member_pocs(conn, tenant_id, user_id)
            await idempotency.forget(conn, tenant_id, user_id)
            await enqueue(conn, [poc_event("poc.purged", row) for row in erased])
