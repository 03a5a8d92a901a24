"""The export is streamed a page at a time: every POC once and in order whatever the page
boundaries, tenants kept apart across pages, and the service free between pages (its loop
runs other tasks, other requests are answered, no connection is held by the download)."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import itertools
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from structlog.testing import capture_logs

from platform_api.kernel import KeySet, db
from platform_api.kernel.provision import ServiceDatabase
from platform_api.pocs import routes, service, store
from platform_api.pocs.app import create_app
from platform_api.pocs.settings import PocsSettings
from tests.harness.identity import Account, SignUp

PAGE = 3  # POCs per page of the export under test
InviteMember = Callable[..., Awaitable[Account]]


class Tap:
    """Pure ASGI wrapper: hands each piece of an export's body (a 200's) to ``on_piece``
    before it is sent (the test's probe, or a client that reads slowly)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.on_piece: Callable[[bytes], Awaitable[None]] | None = None
        self.fail_start = False  # sending an export's response start fails

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        status = 0

        async def tapped(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                if self.fail_start and status == 200 and scope["path"] == "/pocs/export":
                    raise ConnectionResetError("the client went away")
            if (
                message["type"] == "http.response.body"
                and status == 200  # an export's body, not a problem
                and message.get("body")
                and scope["path"] == "/pocs/export"
                and self.on_piece is not None
            ):
                await self.on_piece(message["body"])
            await send(message)

        await self.app(scope, receive, tapped)


@dataclass
class Paged:
    client: httpx.AsyncClient
    tap: Tap
    pool: asyncpg.Pool
    slots: service.ExportSlots


@pytest.fixture(scope="module")
async def paged(pocs_settings: PocsSettings, identity_keys: KeySet) -> AsyncIterator[Paged]:
    """The POC app exporting ``PAGE`` POCs at a time, with one database connection only."""
    settings = pocs_settings.model_copy(update={"export_chunk_rows": PAGE, "db_pool_max": 1})
    app = create_app(settings, keys=identity_keys)
    tap = Tap(app)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=tap, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield Paged(client, tap, app.state.pocs.pool, app.state.pocs.exports)


@dataclass
class Pages:
    """The export's page reads (``store.list_pocs`` calls), counted; the read numbered
    ``fail_at`` (from 1) fails as a lost connection would."""

    read: int = 0
    fail_at: int | None = None


@pytest.fixture
def pages(monkeypatch: pytest.MonkeyPatch) -> Pages:
    count = Pages()
    list_pocs = store.list_pocs

    async def counted(*args: Any, **kwargs: Any) -> list[asyncpg.Record]:
        count.read += 1
        if count.read == count.fail_at:
            raise asyncpg.PostgresConnectionError("connection lost")
        return await list_pocs(*args, **kwargs)

    monkeypatch.setattr(store, "list_pocs", counted)
    return count


@pytest.fixture
def tap(paged: Paged) -> Iterator[Tap]:
    """The tap of ``paged``, cleared after the test."""
    yield paged.tap
    paged.tap.on_piece = None
    paged.tap.fail_start = False


async def _import(
    client: httpx.AsyncClient, account: Account, names: list[str], **fields: Any
) -> list[str]:
    response = await client.post(
        "/pocs/import", json=[{"name": n, **fields} for n in names], headers=account.auth
    )
    assert response.status_code == 201, response.text
    return [row["poc_id"] for row in response.json()["imported"]]


async def _export(
    client: httpx.AsyncClient, account: Account, fmt: str, scope: str = "mine"
) -> httpx.Response:
    response = await client.get(
        "/pocs/export", params={"format": fmt, "scope": scope}, headers=account.auth
    )
    assert response.status_code == 200, response.text
    return response


def _ids(response: httpx.Response) -> list[str]:
    if response.headers["content-type"].startswith("text/csv"):
        return [row["poc_id"] for row in csv.DictReader(io.StringIO(response.text))]
    return [poc["poc_id"] for poc in response.json()]


async def test_every_poc_once_and_in_order_across_pages(
    pocs: httpx.AsyncClient, paged: Paged, sign_up: SignUp
) -> None:
    client = paged.client
    owner = await sign_up()
    for count in (0, 1, PAGE - 1, PAGE, PAGE + 1, 3 * PAGE, 3 * PAGE + 1):
        ids = await _import(client, owner, [f"poc {i}" for i in range(count)]) if count else []
        for fmt in ("csv", "json"):
            exported = await _export(client, owner, fmt)
            assert _ids(exported) == ids, (count, fmt)
            # The same bytes as an export read in one page.
            assert exported.content == (await _export(pocs, owner, fmt)).content, (count, fmt)
        for poc_id in ids:  # the next round starts afresh
            deleted = await client.delete(f"/pocs/{poc_id}", headers=owner.auth)
            assert deleted.status_code == 204, deleted.text


async def test_pocs_created_at_the_same_instant_are_not_lost_at_a_page_boundary(
    pocs: httpx.AsyncClient,
    paged: Paged,
    sign_up: SignUp,
    pocs_db: ServiceDatabase,
) -> None:
    """Pages are cut by (creation time, id): ties on the time are ordered by id."""
    client = paged.client
    owner = await sign_up()
    ids = await _import(client, owner, [f"twin {i}" for i in range(2 * PAGE + 1)])
    conn = await asyncpg.connect(pocs_db.app_dsn)
    try:
        async with conn.transaction():
            await conn.execute("SELECT set_config('app.tenant_id', $1, true)", owner.tenant_id)
            await conn.execute("UPDATE pocs SET created_at = '2025-01-01T00:00:00Z'")
    finally:
        await conn.close()
    for fmt in ("csv", "json"):
        exported = await _export(client, owner, fmt)
        assert _ids(exported) == sorted(ids, key=uuid.UUID), fmt
        assert exported.content == (await _export(pocs, owner, fmt)).content, fmt


async def test_the_loop_runs_other_tasks_between_pages(
    paged: Paged, tap: Tap, sign_up: SignUp
) -> None:
    """A task that counts its turns on the loop gets some between every two pieces."""
    client = paged.client
    owner = await sign_up()
    ids = await _import(client, owner, [f"poc {i}" for i in range(4 * PAGE + 1)])
    turns = 0

    async def count_turns() -> None:
        nonlocal turns
        while True:
            turns += 1
            await asyncio.sleep(0)

    for fmt in ("csv", "json"):
        seen: list[int] = []

        async def on_piece(body: bytes, seen: list[int] = seen) -> None:
            seen.append(turns)

        tap.on_piece = on_piece
        counter = asyncio.create_task(count_turns())
        try:
            exported = await _export(client, owner, fmt)
        finally:
            counter.cancel()
        assert _ids(exported) == ids, fmt
        assert len(seen) == 5, fmt  # one piece per page, the last one short
        assert all(a < b for a, b in itertools.pairwise(seen)), (fmt, seen)


async def test_a_request_is_answered_while_an_export_is_under_way(
    paged: Paged, tap: Tap, sign_up: SignUp, pages: Pages
) -> None:
    """With one database connection in the pool and a client that reads the first piece
    and waits, another request is served before the export reads its last page."""
    client = paged.client
    owner = await sign_up()
    ids = await _import(client, owner, [f"poc {i}" for i in range(3 * PAGE + 1)])
    answered: list[tuple[int, int]] = []

    async def on_first_piece(body: bytes) -> None:
        if answered:
            return
        other = asyncio.create_task(client.get(f"/pocs/{ids[-1]}", headers=owner.auth))
        response = await other
        answered.append((response.status_code, pages.read))

    tap.on_piece = on_first_piece
    exported = await _export(client, owner, "json")
    assert _ids(exported) == ids
    assert pages.read == 4
    assert answered == [(200, 1)]


async def test_tenants_and_private_pocs_stay_apart_across_pages(
    paged: Paged, sign_up: SignUp, invite_member: InviteMember
) -> None:
    client = paged.client
    a, b = await sign_up(), await sign_up()
    member = await invite_member(a)
    created: list[str] = []  # every POC, in the order of creation
    a_shared: set[str] = set()
    b_mine: set[str] = set()
    member_shared: set[str] = set()
    member_private: set[str] = set()

    async def create(account: Account, into: set[str], names: list[str], visibility: str) -> None:
        ids = await _import(client, account, names, visibility=visibility)
        created.extend(ids)
        into.update(ids)

    for r in range(2):  # interleaved, so that every tenant's pages span the others' POCs
        await create(a, a_shared, [f"A {r}.{i}" for i in range(PAGE + 1)], "tenant")
        await create(b, b_mine, [f"B {r}.{i}" for i in range(PAGE)], "tenant")
        await create(member, member_private, [f"A member {r}.{i}" for i in range(2)], "private")
        await create(member, member_shared, [f"A member shared {r}"], "tenant")

    def expected(*sets: set[str]) -> list[str]:
        return [i for i in created if any(i in s for s in sets)]

    for fmt in ("csv", "json"):
        for account, scope, holds in (
            (a, "mine", expected(a_shared)),
            (a, "all", expected(a_shared, member_shared)),
            (member, "mine", expected(member_private, member_shared)),
            (member, "all", expected(a_shared, member_private, member_shared)),
            (b, "mine", expected(b_mine)),
            (b, "all", expected(b_mine)),
        ):
            assert _ids(await _export(client, account, fmt, scope)) == holds, (fmt, scope)


async def test_an_export_that_cannot_start_is_a_problem_not_a_broken_file(
    paged: Paged, sign_up: SignUp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first page is read before the response starts: no connection, a 503 problem."""
    owner = await sign_up()
    await _import(paged.client, owner, ["one"])
    monkeypatch.setattr(db, "ACQUIRE_TIMEOUT_SECONDS", 0.05)
    async with paged.pool.acquire(), asyncio.timeout(5):  # the only connection, held
        # (at once: the first page keeps the request's short wait, not the later pages')
        response = await paged.client.get("/pocs/export", headers=owner.auth)
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_later_pages_wait_for_a_busy_pool_instead_of_cutting_the_file(
    paged: Paged, tap: Tap, sign_up: SignUp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A request fails fast when no connection comes (503), but once the download has
    started that would only cut the file short: later pages wait for one."""
    client = paged.client
    owner = await sign_up()
    ids = await _import(client, owner, [f"poc {i}" for i in range(2 * PAGE + 1)])
    monkeypatch.setattr(db, "ACQUIRE_TIMEOUT_SECONDS", 0.05)
    holders: list[asyncio.Task[None]] = []

    async def hold_the_only_connection() -> None:
        async with paged.pool.acquire():
            await asyncio.sleep(0.5)  # ten times the request's own wait

    async def on_first_piece(body: bytes) -> None:
        if not holders:
            holders.append(asyncio.create_task(hold_the_only_connection()))
            await asyncio.sleep(0)  # it has the connection before the next page is read

    tap.on_piece = on_first_piece
    exported = await _export(client, owner, "csv")
    assert _ids(exported) == ids
    await holders[0]


@pytest.mark.parametrize("cap", [2 * PAGE, 2 * PAGE + 1])
async def test_the_export_holds_the_oldest_pocs_up_to_its_cap(
    paged: Paged, sign_up: SignUp, monkeypatch: pytest.MonkeyPatch, pages: Pages, cap: int
) -> None:
    client = paged.client
    owner = await sign_up()
    ids = await _import(client, owner, [f"poc {i}" for i in range(3 * PAGE)])
    monkeypatch.setattr(service, "EXPORT_MAX_ROWS", cap)
    for fmt in ("csv", "json"):
        pages.read = 0
        assert _ids(await _export(client, owner, fmt)) == ids[:cap], fmt
        assert pages.read == -(-cap // PAGE), fmt  # no page read past the cap


async def test_a_page_that_fails_mid_download_cuts_the_body_and_is_logged(
    paged: Paged, sign_up: SignUp, monkeypatch: pytest.MonkeyPatch, pages: Pages
) -> None:
    client = paged.client
    owner = await sign_up()
    await _import(client, owner, [f"poc {i}" for i in range(2 * PAGE)])
    pages.fail_at = 2
    monkeypatch.setattr(routes, "_log", structlog.get_logger("pocs.export"))
    # The client's body ends short (through ASGI the error reaches it as it is).
    with capture_logs() as logs, pytest.raises(asyncpg.PostgresConnectionError):
        await client.get("/pocs/export", headers=owner.auth)
    failed = [e for e in logs if e["event"] == "export_cut_short"]
    assert len(failed) == 1
    assert failed[0]["bytes_sent"] > 0


async def test_pages_are_formatted_on_the_exports_own_threads(
    paged: Paged, sign_up: SignUp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not on the event loop, nor on the default executor that the rest of the service uses."""
    client = paged.client
    owner = await sign_up()
    ids = await _import(client, owner, [f"poc {i}" for i in range(2 * PAGE + 1)])
    threads: list[str] = []
    format_rows = service._export_rows

    def recorded(*args: Any) -> str:
        threads.append(threading.current_thread().name)
        return format_rows(*args)

    monkeypatch.setattr(service, "_export_rows", recorded)
    assert _ids(await _export(client, owner, "csv")) == ids
    assert len(threads) == 3
    assert all(name.startswith("poc-export") for name in threads), threads


async def test_an_organization_downloads_a_few_exports_at_once(
    paged: Paged, tap: Tap, sign_up: SignUp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While an organization's exports download, one more of its own is answered 429 (a
    problem with Retry-After), another organization's is not; a finished download gives its
    place back."""
    client = paged.client
    a, b = await sign_up(), await sign_up()
    for account in (a, b):
        await _import(client, account, [f"poc {i}" for i in range(2 * PAGE)])
    monkeypatch.setattr(paged.slots, "per_tenant", 1)
    seen: dict[str, int] = {}

    async def export(account: Account) -> int:
        response = await client.get("/pocs/export", headers=account.auth)
        if response.status_code != 200:
            assert response.headers["content-type"].startswith("application/problem+json")
            assert response.headers["retry-after"] == "10"
        return response.status_code

    async def on_piece(body: bytes) -> None:
        if not seen:  # a's export, under way
            seen["a again"] = await export(a)
            seen["b"] = await export(b)

    tap.on_piece = on_piece
    assert await export(a) == 200
    assert seen == {"a again": 429, "b": 200}
    tap.on_piece = None
    assert not paged.slots.running
    assert await export(a) == 200


async def test_a_download_cancelled_mid_body_gives_its_place_back(
    paged: Paged, tap: Tap, sign_up: SignUp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As when the server stops, or the client's disconnect cancels the sending."""
    client = paged.client
    owner = await sign_up()
    await _import(client, owner, [f"poc {i}" for i in range(3 * PAGE)])
    reached = asyncio.Event()

    async def stalled(body: bytes) -> None:
        reached.set()
        await asyncio.Event().wait()

    tap.on_piece = stalled
    download = asyncio.create_task(client.get("/pocs/export", headers=owner.auth))
    await reached.wait()
    assert paged.slots.running
    download.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await download
    assert not paged.slots.running


async def test_a_response_that_cannot_start_gives_its_place_back(
    paged: Paged, tap: Tap, sign_up: SignUp
) -> None:
    """Sending the response's start fails (the client is gone): the body is never read,
    and closing it closes the export it holds."""
    owner = await sign_up()
    await _import(paged.client, owner, ["one"])
    tap.fail_start = True
    with pytest.raises(ConnectionResetError):
        await paged.client.get("/pocs/export", headers=owner.auth)
    assert not paged.slots.running


async def test_a_download_the_client_leaves_gives_its_place_back(
    paged: Paged, tap: Tap, sign_up: SignUp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Starlette leaves the body's generator suspended when the client goes away: the
    response closes it, and the export's place is free again at once."""
    client = paged.client
    owner = await sign_up()
    await _import(client, owner, [f"poc {i}" for i in range(3 * PAGE)])
    monkeypatch.setattr(paged.slots, "per_tenant", 1)

    async def went_away(body: bytes) -> None:
        raise ConnectionResetError("the client went away")

    tap.on_piece = went_away
    with pytest.raises(ConnectionResetError):
        await client.get("/pocs/export", headers=owner.auth)
    tap.on_piece = None
    assert not paged.slots.running
    assert (await _export(client, owner, "csv")).status_code == 200
