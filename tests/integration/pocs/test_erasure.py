"""Erasure: an account or an organization deleted in identity is erased from the POC
service, end to end: identity's outbox relay, Redis Streams, the POC worker's consumer."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import httpx
import pytest

from platform_api.kernel import tenant_transaction
from platform_api.pocs import worker
from platform_api.pocs.settings import PocsSettings
from tests.harness.identity import PASSWORD, Account, SignUp
from tests.harness.polling import eventually

from .conftest import MakePoc


@pytest.fixture
async def relaying_identity(
    relaying_identity: httpx.AsyncClient, pocs_settings: PocsSettings, erasure_bus: dict[str, str]
) -> AsyncIterator[httpx.AsyncClient]:
    """The harness's identity with its relay, and the POC worker consuming beside it."""
    task = asyncio.create_task(worker.main(pocs_settings.model_copy(update=erasure_bus)))
    try:
        yield relaying_identity
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _pocs_of(pool: asyncpg.Pool, who: Account) -> set[str]:
    async with tenant_transaction(pool, who.tenant_id) as conn:
        rows = await conn.fetch(
            "SELECT poc_id FROM pocs WHERE tenant_id = $1", uuid.UUID(who.tenant_id)
        )
    return {str(r["poc_id"]) for r in rows}


async def test_a_departed_member_keeps_nothing_only_they_could_reach(
    relaying_identity: httpx.AsyncClient,
    sign_up: SignUp,
    invite_member: Callable[..., Awaitable[Account]],
    make_poc: MakePoc,
    pocs: httpx.AsyncClient,
    owner_pool: asyncpg.Pool,
) -> None:
    owner = await sign_up()
    member = await invite_member(owner)
    shared = await make_poc(member, name="Shared with the team", visibility="tenant")
    private = await make_poc(member, name="Only mine")
    trashed = await make_poc(member, name="Binned", visibility="tenant")
    deleted = await pocs.delete(f"/pocs/{trashed['poc_id']}", headers=member.auth)
    assert deleted.status_code == 204, deleted.text
    owners = await make_poc(owner, name="The owner's")
    gone = await relaying_identity.post(
        "/me/delete", json={"password": PASSWORD}, headers=member.auth
    )
    assert gone.status_code == 204, gone.text
    kept = {shared["poc_id"], owners["poc_id"]}
    await eventually(
        lambda: _pocs_of(owner_pool, owner), lambda ids: ids == kept, what="member's POCs erased"
    )
    # Search forgets them through the usual removal events.
    async with tenant_transaction(owner_pool, owner.tenant_id) as conn:
        purged = await conn.fetch(
            "SELECT body FROM outbox WHERE type = 'poc.purged' AND tenant_id = $1",
            uuid.UUID(owner.tenant_id),
        )
    assert {r["body"]["aggregate_id"] for r in purged} == {private["poc_id"], trashed["poc_id"]}
    # What they shared is still the organization's.
    listed = await pocs.get(f"/pocs/{shared['poc_id']}", headers=owner.auth)
    assert listed.status_code == 200, listed.text


async def test_a_deleted_organization_leaves_no_poc_and_no_event_behind(
    relaying_identity: httpx.AsyncClient,
    sign_up: SignUp,
    make_poc: MakePoc,
    owner_pool: asyncpg.Pool,
) -> None:
    owner, bystander = await sign_up(), await sign_up()
    for name in ("One", "Two"):
        await make_poc(owner, name=name, visibility="tenant", tags=["erasure"])
    theirs = await make_poc(bystander, name="Another organization's")
    gone = await relaying_identity.post(
        "/me/delete", json={"password": PASSWORD}, headers=owner.auth
    )
    assert gone.status_code == 204, gone.text
    await eventually(lambda: _pocs_of(owner_pool, owner), lambda ids: not ids, what="tenant erased")
    async with tenant_transaction(owner_pool, owner.tenant_id) as conn:
        left = await conn.fetchval(
            "SELECT count(*) FROM outbox WHERE tenant_id = $1", uuid.UUID(owner.tenant_id)
        )
        tags = await conn.fetchval("SELECT count(*) FROM poc_tags")
    assert (left, tags) == (0, 0)
    assert await _pocs_of(owner_pool, bystander) == {theirs["poc_id"]}
