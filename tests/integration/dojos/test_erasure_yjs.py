"""Erasure of a member from the Yjs state: the live room on a real collab node (read back
through the service's collab client) and the dojo service's snapshot files."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from platform_api.dojos import ydoc
from platform_api.dojos.collab import HttpCollab
from platform_api.dojos.erasure import FORMER_MEMBER, DojosEraser
from platform_api.dojos.room import write_meta
from platform_api.dojos.service import Dojos
from platform_api.dojos.tickets import room_key
from platform_api.kernel import Problem, tenant_transaction
from tests.harness.identity import Account, SignUp
from tests.harness.nodes import free_port
from tests.harness.ywire import eventually

from .conftest import STARTING_CODE, Stack, dojo_body, join_with_invite

NAME = b"Member"  # the member's name, as identity knows it (``invite_member``)


async def _dojo_with_the_member_driving(s: Stack, owner: Account, member: Account) -> str:
    """A started dojo where both spoke and the member has the keyboard, with a manual
    snapshot besides the start and rotation ones."""
    did = str((await s.ok("POST", "/dojos", owner, 201, json=dojo_body()))["dojo_id"])
    await join_with_invite(s, owner, member, did)
    for who, text in ((member, "Red, green, refactor"), (owner, "Your turn")):
        await s.ok("POST", f"/dojos/{did}/messages", who, 201, json={"text": text})
    await s.ok("POST", f"/dojos/{did}/start", owner)
    timer = await s.ok("POST", f"/dojos/{did}/timer/skip", owner)
    assert timer["driver_id"] == member.user_id
    await s.ok("POST", f"/dojos/{did}/snapshots", owner, 201)
    return did


async def _pushed(ctx: Dojos, owner: Account, did: str) -> None:
    """Once the dojo's room has been pushed its state, by the API and the worker."""

    async def done() -> bool:
        async with tenant_transaction(ctx.pool, owner.tenant_id) as conn:
            return not await conn.fetchval(
                "SELECT room_sync_due FROM dojos WHERE dojo_id = $1", uuid.UUID(did)
            )

    await eventually(done, what="room pushed")
    await asyncio.sleep(0.3)  # a push that another finished the job of ends too


async def _files(ctx: Dojos, owner: Account, did: str) -> dict[str, bytes]:
    """Every snapshot file of the dojo, by key."""
    async with tenant_transaction(ctx.pool, owner.tenant_id) as conn:
        rows = await conn.fetch(
            "SELECT object_key FROM dojo_code_snapshots WHERE dojo_id = $1", uuid.UUID(did)
        )
    files = {r["object_key"]: await ctx.blobs.get(r["object_key"]) for r in rows}
    assert None not in files.values()
    return {key: data for key, data in files.items() if data is not None}


async def _engine_history(ctx: Dojos, room: str) -> bytes:
    """What the collab engine stores of the room, once it has forgotten its history: its
    one snapshot (asked for through its internal API)."""
    collab = ctx.collab
    assert isinstance(collab, HttpCollab)
    listed = await collab._call("GET", room, "snapshots")
    [snapshot] = listed.json()["items"]
    stored = await collab._call(
        "GET",
        room,
        f"state?snapshot={snapshot['seq']}",
        headers={"Accept": "application/octet-stream"},
    )
    return stored.content


def _state(data: bytes) -> bytes:
    return base64.b64decode(json.loads(data)["yjs_update"])


def _renamed(chat: list[Any], member: Account) -> list[Any]:
    """The feed as it should read once the member is erased: only their names change."""
    return [{**m, "name": FORMER_MEMBER} if m["user_id"] == member.user_id else m for m in chat]


@dataclasses.dataclass(frozen=True)
class Team:
    """An organization of two on the dojo service: its owner and the member to erase."""

    stack: Stack
    ctx: Dojos
    owner: Account
    member: Account


@pytest.fixture
async def team(
    stack: Stack, sign_up: SignUp, invite_member: Callable[..., Awaitable[Account]]
) -> Team:
    owner = await sign_up()
    return Team(stack, stack.app.state.dojos, owner, await invite_member(owner))


async def test_an_erased_member_s_name_leaves_the_rooms_and_the_snapshot_files(
    team: Team,
) -> None:
    s, ctx, owner, member = team.stack, team.ctx, team.owner, team.member
    tenant = uuid.UUID(owner.tenant_id)
    running = await _dojo_with_the_member_driving(s, owner, member)
    ended = await _dojo_with_the_member_driving(s, owner, member)
    await s.ok("POST", f"/dojos/{ended}/end", owner)
    rooms = {did: room_key(tenant, uuid.UUID(did)) for did in (running, ended)}
    # A room that ended before ended rooms named no driver still names its last one (written
    # once the end's pushes are done, which would write it over).
    await _pushed(ctx, owner, ended)
    last = {"driver": member.user_id, "driver_name": "Member"}
    meta = ydoc.meta_of(await ctx.collab.state(rooms[ended]))
    await write_meta(ctx, rooms[ended], {**meta, **last})
    before: dict[str, bytes] = {}
    feeds = {}
    for did, room in rooms.items():
        state = await ctx.collab.state(room)
        assert NAME in state
        feeds[did] = ydoc.chat_of(state)
        assert [(m["name"], m["text"]) for m in feeds[did]] == [
            ("Member", "Red, green, refactor"),
            ("Owner Person", "Your turn"),
        ]
        files = await _files(ctx, owner, did)
        reasons = sorted(json.loads(data)["reason"] for data in files.values())
        assert reasons == sorted(["start", "rotation", "manual"] + ["end"] * (did == ended))
        assert all(NAME in _state(data) for data in files.values())
        before |= files
    assert ydoc.meta_of(await ctx.collab.state(rooms[ended]))["driver_name"] == "Member"

    eraser = DojosEraser(ctx)
    await eraser.erase_user(tenant, uuid.UUID(member.user_id))

    after: dict[str, bytes] = {}
    for did, room in rooms.items():
        state = await ctx.collab.state(room)
        assert NAME not in state
        assert ydoc.chat_of(state) == _renamed(feeds[did], member)
        files = await _files(ctx, owner, did)
        for key, data in files.items():
            assert NAME not in data
            assert NAME not in _state(data)
            assert ydoc.chat_of(_state(data)) == _renamed(feeds[did], member)
            assert ydoc.text_of(_state(data)) == STARTING_CODE
            if key in before:  # the rest of the file is as it was
                old, new = json.loads(before[key]), json.loads(data)
                assert {**old, "yjs_update": None} == {**new, "yjs_update": None}
        after |= files
        assert NAME not in await _engine_history(ctx, room)
    # The removal from the running dojo took one more snapshot (the keyboard passed on),
    # of the room before it was renamed: rewritten too.
    assert len(after) == len(before) + 1
    meta = ydoc.meta_of(await ctx.collab.state(rooms[ended]))
    assert (meta["driver"], meta["driver_name"]) == (member.user_id, FORMER_MEMBER)

    # Run again (a second delivery): nothing left to change, no file written again.
    await eraser.erase_user(tenant, uuid.UUID(member.user_id))
    for did, room in rooms.items():
        state = await ctx.collab.state(room)
        assert ydoc.chat_of(state) == _renamed(feeds[did], member)
        assert NAME not in state
        assert await _files(ctx, owner, did) == {k: v for k, v in after.items() if did in k}


async def test_a_collab_node_out_of_reach_fails_the_erasure_until_it_is_back(
    team: Team,
) -> None:
    s, ctx, owner, member = team.stack, team.ctx, team.owner, team.member
    tenant, user = uuid.UUID(owner.tenant_id), uuid.UUID(member.user_id)
    did = await _dojo_with_the_member_driving(s, owner, member)
    await s.ok("POST", f"/dojos/{did}/end", owner)
    room = room_key(tenant, uuid.UUID(did))
    away = HttpCollab(f"http://127.0.0.1:{free_port()}", ctx.signer)
    try:
        with pytest.raises(Problem) as failed:
            await DojosEraser(dataclasses.replace(ctx, collab=away)).erase_user(tenant, user)
    finally:
        await away.aclose()
    assert failed.value.status == 503
    # Nothing in Yjs was changed; the worker's consumer leaves the event to come back.
    assert NAME in await ctx.collab.state(room)
    assert all(NAME in _state(data) for data in (await _files(ctx, owner, did)).values())

    await DojosEraser(ctx).erase_user(tenant, user)

    assert NAME not in await ctx.collab.state(room)
    assert not any(NAME in _state(data) for data in (await _files(ctx, owner, did)).values())


async def test_a_feed_larger_than_one_message_is_renamed_in_several(
    team: Team,
) -> None:
    """The member's messages, with their HTML, weigh more than the collab node takes in one
    message (a MiB): renamed all the same."""
    s, ctx, owner, member = team.stack, team.ctx, team.owner, team.member
    tenant = uuid.UUID(owner.tenant_id)
    did = await _dojo_with_the_member_driving(s, owner, member)
    for _ in range(120):
        await s.ok("POST", f"/dojos/{did}/messages", member, 201, json={"text": "<" * 2000})
    room = room_key(tenant, uuid.UUID(did))
    feed = ydoc.chat_of(await ctx.collab.state(room))
    mine = [m for m in feed if m["user_id"] == member.user_id]
    assert len(mine) > 100
    assert sum(len(json.dumps(m)) for m in mine) > 1_048_576

    await DojosEraser(ctx).erase_user(tenant, uuid.UUID(member.user_id))

    state = await ctx.collab.state(room)
    assert NAME not in state
    assert ydoc.chat_of(state) == _renamed(feed, member)
