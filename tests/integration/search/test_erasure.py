"""Erasure: an organization deleted in identity leaves the index (POCs and dojos), and late
events about it index nothing again; other organizations keep everything."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx

from platform_api.kernel import tenant_transaction
from platform_api.kernel.events import Event, InMemoryBus
from platform_api.kernel.outbox import OutboxRelay
from platform_api.kernel.provision import ServiceDatabase
from platform_api.search.service import Search
from tests.harness.databases import owner_connections
from tests.harness.dojos import MakeDojo
from tests.harness.identity import PASSWORD, Account, SignUp

from .conftest import Sync


async def _names(search: httpx.AsyncClient, who: Account, path: str) -> list[str]:
    response = await search.get(path, params={"q": "erasable"}, headers=who.auth)
    assert response.status_code == 200, response.text
    return sorted(hit["name"] for hit in response.json()["items"])


async def test_a_deleted_organization_leaves_the_index_for_good(
    search: httpx.AsyncClient,
    identity: httpx.AsyncClient,
    identity_db: ServiceDatabase,
    sign_up: SignUp,
    make_poc: Any,
    make_dojo: MakeDojo,
    owner_pool: asyncpg.Pool,
    bus: InMemoryBus,
    sync: Sync,
) -> None:
    gone, stays = await sign_up(), await sign_up()
    for who in (gone, stays):
        await make_poc(who, name="Erasable pipeline", visibility="tenant")
        await make_dojo(who, name="Erasable kata")
    await sync()
    for who in (gone, stays):
        assert await _names(search, who, "/search") == ["Erasable pipeline"]
        assert await _names(search, who, "/search/dojos") == ["Erasable kata"]
    # The POC service's event for the POC, as a late redelivery would bring it again.
    tenant = uuid.UUID(gone.tenant_id)
    async with tenant_transaction(owner_pool, tenant) as conn:
        body = await conn.fetchval(
            "SELECT body FROM outbox WHERE type = 'poc.created' AND tenant_id = $1", tenant
        )
    deleted = await identity.post("/me/delete", json={"password": PASSWORD}, headers=gone.auth)
    assert deleted.status_code == 204, deleted.text
    async with owner_connections(identity_db) as identity_owner:
        await OutboxRelay(identity_owner, bus).drain()
    await sync()
    # The departed owner's token is still valid for minutes: it finds nothing any more.
    assert await _names(search, gone, "/search") == []
    assert await _names(search, gone, "/search/dojos") == []
    state: Search = search.app.state.search  # type: ignore[attr-defined]
    assert await state.index.versions(tenant) == {}
    assert await state.dojo_index.versions(tenant) == {}
    # Late news, well-formed or not, indexes and keeps nothing.
    junk = Event(
        type="poc.created", tenant_id=tenant, aggregate_id=uuid.uuid4(), version=1, payload={}
    )
    await bus.publish([Event.from_dict(body), junk])
    await sync()
    assert await state.index.versions(tenant) == {}
    async with tenant_transaction(state.pool, tenant) as conn:
        assert await conn.fetchval("SELECT count(*) FROM index_versions") == 0
        assert await conn.fetchval("SELECT count(*) FROM dead_letters") == 0
    # Another organization keeps everything.
    assert await _names(search, stays, "/search") == ["Erasable pipeline"]
    assert await _names(search, stays, "/search/dojos") == ["Erasable kata"]
