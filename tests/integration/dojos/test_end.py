"""Ending a dojo while its driver types: the last snapshot is the code the room ends with."""

from __future__ import annotations

import asyncio
from typing import Any

from platform_api.dojos import ydoc
from platform_api.dojos.collab import Collab
from platform_api.dojos.service import Dojos
from platform_api.dojos.tickets import room_key
from tests.harness.ywire import eventually
from tests.integration.conftest import SignUp

from .conftest import STARTING_CODE, Stack, dojo_body, join_with_invite


class _TypedMeanwhile:
    """The collab port, but a keystroke of the driver reaches the room right after the room's
    state is read (as it may while a dojo ends): ``typing`` runs after the first read."""

    def __init__(self, inner: Collab) -> None:
        self.inner = inner
        self.typing: Any = None

    async def state(self, room: str) -> bytes:
        state = await self.inner.state(room)
        if self.typing is not None:
            typing, self.typing = self.typing, None
            await typing()
        return state

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def test_the_end_snapshot_holds_what_the_room_ends_with(
    stack: Stack, sign_up: SignUp
) -> None:
    bill = await sign_up()
    did = (await stack.ok("POST", "/dojos", bill, 201, json=dojo_body()))["dojo_id"]
    await stack.ok("POST", f"/dojos/{did}/start", bill)
    driver, _ = await stack.connect(did, bill)
    await eventually(lambda: str(driver) == STARTING_CODE, what="starting code")
    ctx: Dojos = stack.app.state.dojos
    collab = _TypedMeanwhile(ctx.collab)
    room = room_key(bill.tenant_id, did)

    async def typing() -> None:
        await driver.insert("# one more line\n")
        await asyncio.sleep(0.5)  # time enough for the room to take it, if it does

    collab.typing = typing
    ctx.collab = collab
    try:
        await stack.ok("POST", f"/dojos/{did}/end", bill)
    finally:
        ctx.collab = collab.inner
    snaps = (await stack.ok("GET", f"/dojos/{did}/snapshots", bill))["items"]
    assert snaps[0]["reason"] == "end"
    last = await stack.ok("GET", f"/dojos/{did}/snapshots/{snaps[0]['snapshot_id']}", bill)
    assert last["code"] == ydoc.text_of(await ctx.collab.state(room))


async def test_nobody_drives_an_ended_dojo(
    stack: Stack, sign_up: SignUp, invite_member: Any
) -> None:
    bill = await sign_up()
    ana = await invite_member(bill)
    did = (await stack.ok("POST", "/dojos", bill, 201, json=dojo_body()))["dojo_id"]
    await join_with_invite(stack, bill, ana, did)
    await stack.ok("POST", f"/dojos/{did}/start", bill)
    await stack.ok("POST", f"/dojos/{did}/timer/skip", bill)  # ana drives
    await stack.ok("POST", f"/dojos/{did}/end", bill)
    people = (await stack.ok("GET", f"/dojos/{did}/participants", bill))["items"]
    roles = {p["user_id"]: (p["role"], p["can_write"]) for p in people}
    assert roles == {bill.user_id: ("facilitator", False), ana.user_id: ("navigator", False)}
    timer = await stack.ok("GET", f"/dojos/{did}/timer", bill)
    assert (timer["state"], timer["next_driver_id"]) == ("stopped", None)
    # Who drove last stays on record: in the last snapshot.
    snaps = (await stack.ok("GET", f"/dojos/{did}/snapshots", bill))["items"]
    assert (snaps[0]["reason"], snaps[0]["driver_id"]) == ("end", ana.user_id)
