"""Rebuilding from the POC service's feed: a lost index comes back, stale documents go,
and anything newer that events brought in is kept."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from platform_api.dojos import DojosSettings
from platform_api.kernel import KeySet
from platform_api.kernel.tasks import stop
from platform_api.pocs.app import create_app as create_pocs_app
from platform_api.pocs.settings import PocsSettings
from platform_api.search import reindex
from platform_api.search.index import PocDocument, SearchQuery
from platform_api.search.index_dojos import DojoQuery
from platform_api.search.index_dojos_tantivy import TantivyDojoIndex
from platform_api.search.index_tantivy import TantivyIndex
from platform_api.search.service import Search, rebuild_after_upgrade, reindex_tenant
from platform_api.search.settings import SearchSettings
from tests.harness.dojos import MakeDojo, dojos_app
from tests.harness.identity import Account, SignUp
from tests.harness.live_server import live_server
from tests.harness.pocs import MakePoc

from .conftest import Sync

InviteMember = Callable[..., Awaitable[Account]]


async def _names(engine: Search, who: Account) -> list[str]:
    page = await engine.index.search(
        SearchQuery(uuid.UUID(who.tenant_id), uuid.UUID(who.user_id), sort="name")
    )
    return [h.document.name for h in page.hits]


async def test_rebuild_after_losing_the_index(
    search: httpx.AsyncClient, sign_up: SignUp, make_poc: MakePoc, sync: Sync
) -> None:
    engine: Search = search.app.state.search  # type: ignore[attr-defined]
    owner = await sign_up()
    for name in ("One", "Two", "Three"):
        await make_poc(owner, name=name)
    await sync()
    tenant = uuid.UUID(owner.tenant_id)
    original = engine.index
    engine.index = TantivyIndex()  # the index is lost; the versions database is not
    try:
        assert await _names(engine, owner) == []
        report = await reindex_tenant(engine, tenant)
        assert (report.indexed, report.removed) == (3, 0)
        assert await _names(engine, owner) == ["One", "Three", "Two"]
        # A document the feed does not have any more goes away (a missed deletion).
        ghost = PocDocument.from_payload(
            {
                "poc_id": str(uuid.uuid4()), "tenant_id": owner.tenant_id,
                "owner_id": owner.user_id, "name": "Ghost", "status": "idea",
                "visibility": "private", "created_at": "2024-01-01T00:00:00+00:00",
                "updated_at": "2024-01-01T00:00:00+00:00", "version": 1,
            }
        )  # fmt: skip
        await engine.index.apply([ghost], [])
        assert (await reindex_tenant(engine, tenant)).removed == 1
        assert "Ghost" not in await _names(engine, owner)
    finally:
        await engine.index.aclose()
        engine.index = original


async def test_newer_versions_in_the_index_are_kept(
    search: httpx.AsyncClient,
    pocs: httpx.AsyncClient,
    sign_up: SignUp,
    make_poc: MakePoc,
    sync: Sync,
) -> None:
    engine: Search = search.app.state.search  # type: ignore[attr-defined]
    owner = await sign_up()
    poc = await make_poc(owner, name="Before")
    await sync()
    # The index already holds version 5, e.g. events that arrived while the feed was read.
    newer = PocDocument.from_payload(
        {**poc, "tenant_id": owner.tenant_id, "name": "After", "version": 5}
    )
    from platform_api.kernel.events import new_event
    from platform_api.search.service import apply_events

    event = new_event(
        "poc.updated",
        tenant_id=newer.tenant_id,
        aggregate_id=newer.poc_id,
        version=5,
        payload={**poc, "tenant_id": owner.tenant_id, "name": "After", "version": 5},
    )
    await apply_events(engine, [event])
    report = await reindex_tenant(engine, uuid.UUID(owner.tenant_id))
    assert (report.indexed, report.kept_newer) == (0, 1)
    assert await _names(engine, owner) == ["After"]


async def test_reindex_needs_an_admin_and_a_reachable_poc_service(
    search: httpx.AsyncClient, sign_up: SignUp, invite_member: InviteMember
) -> None:
    owner = await sign_up()
    member = await invite_member(owner)
    assert (await search.post("/reindex", headers=member.auth)).status_code == 403
    assert (await search.post("/reindex")).status_code == 401
    engine: Search = search.app.state.search  # type: ignore[attr-defined]
    original = engine.pocs_client
    engine.pocs_client = httpx.AsyncClient(base_url="http://127.0.0.1:9")  # nothing listens
    try:
        response = await search.post("/reindex", headers=owner.auth)
        assert response.status_code == 503
        assert response.headers["content-type"].startswith("application/problem+json")
    finally:
        await engine.pocs_client.aclose()
        engine.pocs_client = original


async def test_reindex_command(
    search_settings: SearchSettings,
    pocs_settings: PocsSettings,
    dojos_settings: DojosSettings,
    identity_keys: KeySet,
    sign_up: SignUp,
    make_poc: MakePoc,
    make_dojo: MakeDojo,
    sync: Sync,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    owner = await sign_up()
    await make_poc(owner, name="From the command")
    await sync()
    await make_dojo(owner, name="Dojo from the command")
    with (
        live_server(create_pocs_app(pocs_settings, keys=identity_keys)) as pocs_url,
        live_server(dojos_app(dojos_settings)) as dojos_url,
    ):
        settings = search_settings.model_copy(
            update={"data_dir": str(tmp_path), "pocs_url": pocs_url, "dojos_url": dojos_url}
        )
        assert await reindex.main(["--tenant", owner.tenant_id], settings=settings) == 1
        printed = capsys.readouterr().out
        assert f"{owner.tenant_id}: indexed 1, removed 0" in printed
        assert "dojos: indexed 1, removed 0" in printed
        assert await reindex.main([], settings=settings) >= 1  # every tenant seen
    tenant, user = uuid.UUID(owner.tenant_id), uuid.UUID(owner.user_id)
    rebuilt = TantivyIndex(tmp_path)
    page = await rebuilt.search(SearchQuery(tenant, user))
    assert [h.document.name for h in page.hits] == ["From the command"]
    await rebuilt.aclose()
    rebuilt_dojos = TantivyDojoIndex(tmp_path)
    dojo_page = await rebuilt_dojos.search(DojoQuery(tenant, user, text="comand"))
    assert [h.document.name for h in dojo_page.hits] == ["Dojo from the command"]
    await rebuilt_dojos.aclose()


async def _dojo_names(engine: Search, who: Account) -> list[str]:
    page = await engine.dojo_index.search(
        DojoQuery(uuid.UUID(who.tenant_id), uuid.UUID(who.user_id), sort="name", statuses=())
    )
    return [h.document.name for h in page.hits]


async def test_dojos_come_back_from_the_dojo_service(
    search: httpx.AsyncClient,
    dojos: httpx.AsyncClient,
    sign_up: SignUp,
    make_dojo: MakeDojo,
    sync: Sync,
) -> None:
    engine: Search = search.app.state.search  # type: ignore[attr-defined]
    owner = await sign_up()
    tenant = uuid.UUID(owner.tenant_id)
    made = [await make_dojo(owner, name=name) for name in ("Kata one", "Kata two")]
    await make_dojo(owner, name="Private kata", is_private=True)
    await sync()
    original = engine.dojo_index
    engine.dojo_index = TantivyDojoIndex()  # the index is lost; the versions database is not
    try:
        assert await _dojo_names(engine, owner) == []
        response = await search.post("/reindex", headers=owner.auth)
        assert response.status_code == 200, response.text
        assert response.json()["dojos"] == {"indexed": 3, "removed": 0, "kept_newer": 0}
        assert await _dojo_names(engine, owner) == ["Kata one", "Kata two", "Private kata"]
        member_view = await engine.dojo_index.search(DojoQuery(tenant, uuid.uuid4()))
        assert {h.document.name for h in member_view.hits} == {"Kata one", "Kata two"}
        # A dojo the feed does not have goes away; a rename that came by event stays.
        ghost = dataclasses.replace(
            (await engine.dojo_index.search(DojoQuery(tenant, uuid.uuid4()))).hits[0].document,
            dojo_id=uuid.uuid4(),
            name="Ghost kata",
        )
        await engine.dojo_index.apply([ghost], [])
        renamed = await dojos.patch(
            f"/dojos/{made[0]['dojo_id']}", json={"name": "Kata uno"}, headers=owner.auth
        )
        assert renamed.status_code == 200
        await sync()
        report = await reindex_tenant(engine, tenant)
        assert (report.dojos.removed, report.dojos.kept_newer) == (1, 0)
        assert await _dojo_names(engine, owner) == ["Kata two", "Kata uno", "Private kata"]
    finally:
        await engine.dojo_index.aclose()
        engine.dojo_index = original


async def test_reindex_needs_a_reachable_dojo_service(
    search: httpx.AsyncClient, sign_up: SignUp
) -> None:
    owner = await sign_up()
    engine: Search = search.app.state.search  # type: ignore[attr-defined]
    original = engine.dojos_client
    engine.dojos_client = httpx.AsyncClient(base_url="http://127.0.0.1:9")  # nothing listens
    try:
        response = await search.post("/reindex", headers=owner.auth)
        assert response.status_code == 503
        assert "dojo service" in response.json()["detail"]
    finally:
        await engine.dojos_client.aclose()
        engine.dojos_client = original


async def test_documents_indexed_by_events_while_the_feeds_are_read_are_kept(
    search: httpx.AsyncClient,
    pocs: httpx.AsyncClient,
    dojos: httpx.AsyncClient,
    sign_up: SignUp,
    make_poc: MakePoc,
    make_dojo: MakeDojo,
    sync: Sync,
) -> None:
    """A POC and a dojo created just after their feed was read (so the feed lacks them) and
    indexed by their events before the rebuild writes: the rebuild must not remove them."""
    engine: Search = search.app.state.search  # type: ignore[attr-defined]
    owner = await sign_up()
    await make_poc(owner, name="Listed POC")
    await make_dojo(owner, name="Listed kata")
    await sync()
    made: list[str] = []

    async def after_feed(response: httpx.Response) -> None:
        path = response.request.url.path
        if path.startswith("/internal/") and path.endswith("/pocs") and "poc" not in made:
            made.append("poc")
            await make_poc(owner, name="Late POC")
            await sync()
        if path.startswith("/internal/") and path.endswith("/dojos") and "dojo" not in made:
            made.append("dojo")
            await make_dojo(owner, name="Late kata")
            await sync()

    for client in (pocs, dojos):
        client.event_hooks["response"].append(after_feed)
    try:
        report = await reindex_tenant(engine, uuid.UUID(owner.tenant_id))
    finally:
        for client in (pocs, dojos):
            client.event_hooks["response"].remove(after_feed)
    assert made == ["poc", "dojo"]
    assert (report.removed, report.dojos.removed) == (0, 0)
    assert await _names(engine, owner) == ["Late POC", "Listed POC"]
    assert await _dojo_names(engine, owner) == ["Late kata", "Listed kata"]


async def test_an_index_of_a_new_schema_version_is_rebuilt_at_start(
    search: httpx.AsyncClient, sign_up: SignUp, make_poc: MakePoc, sync: Sync, tmp_path: Path
) -> None:
    """An upgrade that changes how the index keeps words opens an empty directory beside the
    old one: the service fills it from the POC service's feed, then deletes the old one."""
    engine: Search = search.app.state.search  # type: ignore[attr-defined]
    owner = await sign_up()
    for name in ("Ação", "Bravo"):
        await make_poc(owner, name=name)
    await sync()
    old = tmp_path / "pocs-v1"
    old.mkdir()
    (old / "meta.json").write_text("{}")
    original = engine.index
    engine.index = upgraded = TantivyIndex(tmp_path)
    try:
        assert upgraded.older_versions == [old]
        assert await _names(engine, owner) == []
        await rebuild_after_upgrade(engine, tenants=[uuid.UUID(owner.tenant_id)])
        assert await _names(engine, owner) == ["Ação", "Bravo"]
        assert not old.exists()
        assert upgraded.older_versions == []
    finally:
        await upgraded.aclose()
        engine.index = original


async def test_an_upgrade_rebuild_waits_for_the_poc_service(
    search: httpx.AsyncClient, sign_up: SignUp, tmp_path: Path
) -> None:
    """The POC service still starting: the old directory stays and the rebuild comes again."""
    engine: Search = search.app.state.search  # type: ignore[attr-defined]
    owner = await sign_up()
    old = tmp_path / "pocs-v1"
    old.mkdir()
    original, feed = engine.index, engine.pocs_client
    engine.index = upgraded = TantivyIndex(tmp_path)
    attempts: list[httpx.Request] = []
    tried_thrice = asyncio.Event()

    async def attempted(request: httpx.Request) -> None:
        attempts.append(request)
        if len(attempts) == 3:
            tried_thrice.set()

    engine.pocs_client = away = httpx.AsyncClient(
        base_url="http://127.0.0.1:9", timeout=1, event_hooks={"request": [attempted]}
    )  # nothing listens there
    try:
        task = asyncio.create_task(
            rebuild_after_upgrade(engine, tenants=[uuid.UUID(owner.tenant_id)], first_retry=0.05)
        )
        async with asyncio.timeout(10):
            await tried_thrice.wait()
        assert not task.done()
        assert old.exists()
        await stop(task)
    finally:
        await away.aclose()
        await upgraded.aclose()
        engine.index, engine.pocs_client = original, feed
