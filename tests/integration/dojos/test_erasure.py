"""Erasure: an account or an organization deleted in identity is erased from the dojo
service, end to end: identity's outbox relay, Redis Streams, the dojo worker's consumer
(here in the app's process, as it runs by default)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import httpx
import pytest

from platform_api.dojos import create_app, worker
from platform_api.dojos.collab import MemoryCollab
from platform_api.dojos.erasure import FORMER_MEMBER
from platform_api.dojos.service import Dojos
from platform_api.dojos.tickets import room_key
from platform_api.kernel import tenant_transaction
from platform_api.kernel.erasure import user_deleted
from platform_api.kernel.events import InMemoryBus
from platform_api.kernel.tasks import stop
from tests.harness.asgi import serve
from tests.harness.identity import PASSWORD, Account, SignUp
from tests.harness.moto import bucket_with_key
from tests.harness.polling import eventually

from .conftest import MakeSettings, Stack, dojo_body, join_with_invite

TABLES = (
    "dojos",
    "dojo_invites",
    "dojo_participants",
    "dojo_code_snapshots",
    "dojo_chat_messages",
    "outbox",
)


@pytest.fixture
async def snapshot_store(request: pytest.FixtureRequest) -> dict[str, str]:
    """The dojo service's snapshot files: a local folder, or (param ``s3``) S3 on moto."""
    if getattr(request, "param", "local") == "local":
        return {}
    endpoint = request.getfixturevalue("aws_endpoint")
    bucket, key_id = await bucket_with_key(endpoint, prefix="dojo-erasure")
    return {"s3_bucket": bucket, "s3_kms_key_id": key_id, "s3_endpoint_url": endpoint}


@pytest.fixture
async def erasing_dojos(
    dojo_settings: MakeSettings, erasure_bus: dict[str, str], snapshot_store: dict[str, str]
) -> AsyncIterator[Stack]:
    """The dojo app with its worker (scheduler, relay, erasure) consuming ``erasure_bus``; no collab
    node."""
    app = create_app(dojo_settings(**erasure_bus, **snapshot_store), collab=MemoryCollab())
    async with serve(app) as client:
        yield Stack(client=client, app=app, ws="")


async def _new_dojo(s: Stack, who: Account, **fields: Any) -> str:
    dojo = await s.ok("POST", "/dojos", who, 201, json=dojo_body(**fields))
    return str(dojo["dojo_id"])


async def _say(s: Stack, who: Account, dojo_id: str, text: str) -> None:
    await s.ok("POST", f"/dojos/{dojo_id}/messages", who, 201, json={"text": text})


async def _names(s: Stack, who: Account, dojo_id: str) -> dict[str, tuple[str, str]]:
    """user id -> (display name, status) of everyone who took part."""
    listed = await s.ok("GET", f"/dojos/{dojo_id}/participants", who)
    return {p["user_id"]: (p["display_name"], p["status"]) for p in listed["items"]}


async def _chat(s: Stack, who: Account, dojo_id: str) -> list[tuple[str, str]]:
    """(author's name, text) of every message, oldest first."""
    page = await s.ok("GET", f"/dojos/{dojo_id}/messages", who)
    return [(m["display_name"], m["text"]) for m in reversed(page["items"])]


async def _delete_account(identity: httpx.AsyncClient, who: Account) -> None:
    gone = await identity.post("/me/delete", json={"password": PASSWORD}, headers=who.auth)
    assert gone.status_code == 204, gone.text


async def _rows_of(pool: asyncpg.Pool, who: Account) -> dict[str, int]:
    async with tenant_transaction(pool, who.tenant_id) as conn:
        return {
            table: await conn.fetchval(
                f"SELECT count(*) FROM {table} WHERE tenant_id = $1",  # noqa: S608 (constants)
                uuid.UUID(who.tenant_id),
            )
            for table in TABLES
        }


async def _snapshot_keys(pool: asyncpg.Pool, who: Account) -> list[str]:
    async with tenant_transaction(pool, who.tenant_id) as conn:
        rows = await conn.fetch(
            "SELECT object_key FROM dojo_code_snapshots WHERE tenant_id = $1",
            uuid.UUID(who.tenant_id),
        )
    return [r["object_key"] for r in rows]


async def _files(ctx: Dojos, keys: list[str]) -> list[bool]:
    """Whether each key is in the snapshot store."""
    return [await ctx.blobs.get(key) is not None for key in keys]


async def test_a_departed_member_leaves_their_dojos_under_a_neutral_name(
    relaying_identity: httpx.AsyncClient,
    erasing_dojos: Stack,
    sign_up: SignUp,
    invite_member: Callable[..., Awaitable[Account]],
) -> None:
    s = erasing_dojos
    owner = await sign_up()
    member = await invite_member(owner)
    running, ended = await _new_dojo(s, owner), await _new_dojo(s, owner)
    for did in (running, ended):
        await join_with_invite(s, owner, member, did)
        await _say(s, member, did, "Red, green, refactor")
        await _say(s, owner, did, "Your turn")
        await s.ok("POST", f"/dojos/{did}/start", owner)
    await s.ok("POST", f"/dojos/{ended}/end", owner)
    timer = await s.ok("POST", f"/dojos/{running}/timer/skip", owner)
    assert (timer["driver_id"], timer["order"]) == (member.user_id, [owner.user_id, member.user_id])
    # A dojo the member facilitates, with a link still open and one revoked.
    theirs = await _new_dojo(s, member)
    invites = f"/dojos/{theirs}/invites"
    await s.ok("POST", invites, member, 201, json={})
    revoked = await s.ok("POST", invites, member, 201, json={})
    await s.ok("DELETE", f"{invites}/{revoked['invite_id']}", member, 204)
    assert (await _names(s, owner, running))[member.user_id] == ("Member", "active")

    await _delete_account(relaying_identity, member)

    names = await eventually(
        lambda: _names(s, owner, running),
        lambda n: n[member.user_id][0] == FORMER_MEMBER,
        within=30,
        what="the member's name erased",
    )
    # Out of the running dojo for good; the keyboard went back to the owner.
    assert names == {
        owner.user_id: ("Owner Person", "active"),
        member.user_id: (FORMER_MEMBER, "removed"),
    }
    timer = await s.ok("GET", f"/dojos/{running}/timer", owner)
    assert (timer["driver_id"], timer["order"]) == (owner.user_id, [owner.user_id])
    collab = s.app.state.dojos.collab
    room = room_key(uuid.UUID(owner.tenant_id), uuid.UUID(running))
    assert (room, {"type": "revoke", "user": member.user_id}) in collab.controls
    # The ended dojo stays as it ended, under the neutral name.
    assert (await _names(s, owner, ended))[member.user_id] == (FORMER_MEMBER, "active")
    for did in (running, ended):
        assert await _chat(s, owner, did) == [
            (FORMER_MEMBER, "Red, green, refactor"),
            ("Owner Person", "Your turn"),
        ]
    # Their dojo stays the organization's; the open link is gone, the revoked one is history.
    listed = await s.ok("GET", invites, owner)
    assert [i["invite_id"] for i in listed["items"]] == [revoked["invite_id"]]


@pytest.mark.parametrize("snapshot_store", ["local", "s3"], indirect=True)
async def test_a_deleted_organization_leaves_no_dojo_and_no_snapshot_file_behind(
    relaying_identity: httpx.AsyncClient,
    erasing_dojos: Stack,
    sign_up: SignUp,
    dojos_owner_pool: asyncpg.Pool,
) -> None:
    s = erasing_dojos
    ctx: Dojos = s.app.state.dojos
    owner, bystander = await sign_up(), await sign_up()
    dojos = {}
    for who in (owner, bystander):
        did = dojos[who.user_id] = await _new_dojo(s, who)
        await s.ok("POST", f"/dojos/{did}/invites", who, 201, json={})
        await _say(s, who, did, "Hello")
        await s.ok("POST", f"/dojos/{did}/start", who)
        await s.ok("POST", f"/dojos/{did}/snapshots", who, 201)
    await _new_dojo(s, owner, name="Scheduled, not started")
    gone = await _snapshot_keys(dojos_owner_pool, owner)
    kept = await _snapshot_keys(dojos_owner_pool, bystander)
    assert len(gone) == len(kept) == 2
    assert await _files(ctx, gone + kept) == [True] * 4
    # The collab engine's own files of the room lie beside them: not this service's to erase.
    collab_file = f"dojos/{owner.tenant_id}/dojo-{dojos[owner.user_id]}/snapshots/1.ydoc"
    await ctx.blobs.put(collab_file, b"the room's own snapshot")
    before = await _rows_of(dojos_owner_pool, bystander)

    await _delete_account(relaying_identity, owner)

    await eventually(
        lambda: _rows_of(dojos_owner_pool, owner),
        lambda rows: not any(rows.values()),
        within=30,
        what="the organization erased",
    )
    assert await _files(ctx, gone) == [False, False]
    assert await _files(ctx, [collab_file, *kept]) == [True] * 3
    assert await _rows_of(dojos_owner_pool, bystander) == before
    listed = await s.ok("GET", f"/dojos/{dojos[bystander.user_id]}", bystander)
    assert listed["status"] == "active"


async def test_an_erasure_delivered_twice_to_the_worker_is_done_once(
    dojo_settings: MakeSettings,
    dojos_owner_pool: asyncpg.Pool,
    sign_up: SignUp,
    invite_member: Callable[..., Awaitable[Account]],
) -> None:
    """The worker run on its own (as ``python -m platform_api.dojos.worker`` runs it), the
    identity events handed in memory: the second delivery finds nothing left to do."""
    app = create_app(dojo_settings(run_worker=False), collab=MemoryCollab())
    async with serve(app) as client:
        s = Stack(client=client, app=app, ws="")
        owner = await sign_up()
        member = await invite_member(owner)
        did = await _new_dojo(s, owner)
        await join_with_invite(s, owner, member, did)
        await s.ok("POST", f"/dojos/{did}/start", owner)
        erasures = InMemoryBus()
        tenant, user = uuid.UUID(owner.tenant_id), uuid.UUID(member.user_id)
        await erasures.publish([user_deleted(tenant, user), user_deleted(tenant, user)])
        running = asyncio.create_task(
            worker.run(app.state.dojos, dojos_owner_pool, InMemoryBus(), erasures=erasures)
        )
        try:
            await eventually(erasures.lag, lambda n: n == 0, what="both deliveries acknowledged")
        finally:
            await stop(running)
        names = await _names(s, owner, did)
    assert names[member.user_id] == (FORMER_MEMBER, "removed")
