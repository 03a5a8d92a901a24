"""Ending a dojo while its driver types: the last snapshot is the code the room ends with."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest
import structlog
from structlog.testing import capture_logs

from platform_api.dojos import room as dojo_room
from platform_api.dojos import service as dojo_service
from platform_api.dojos import ydoc
from platform_api.dojos.collab import Collab, unavailable
from platform_api.dojos.service import Dojos
from platform_api.dojos.tickets import room_key
from platform_api.kernel import tenant_transaction
from tests.harness.ywire import eventually
from tests.integration.conftest import Account, SignUp

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
    assert (timer["state"], timer["driver_id"], timer["next_driver_id"]) == ("stopped", None, None)
    ctx: Dojos = stack.app.state.dojos
    meta = ydoc.meta_of(await ctx.collab.state(room_key(bill.tenant_id, did)))
    assert (meta["status"], meta["driver"], meta["driver_name"]) == ("ended", None, None)
    # Who drove last stays on record: in the last snapshot.
    snaps = (await stack.ok("GET", f"/dojos/{did}/snapshots", bill))["items"]
    assert (snaps[0]["reason"], snaps[0]["driver_id"]) == ("end", ana.user_id)


class _Faulty:
    """The collab port, with faults on demand in one ``room`` (others, which the worker may
    reach meanwhile, are left alone): reading its state fails with ``state_error`` (a
    failure the end cannot go past), and role commands giving write access fail while
    ``away`` (the engine unreachable) or with ``control_error``. Its role commands are
    recorded, and so is each read of its state."""

    def __init__(self, inner: Collab, room: str) -> None:
        self.inner = inner
        self.room = room
        self.state_error: Exception | None = None
        self.control_error: Exception | None = None
        self.away = False
        self.roles: list[dict[str, str]] = []

    async def state(self, room: str) -> bytes:
        if room == self.room:
            self.roles.append({"type": "state"})  # where it was read, among the commands
            if self.state_error is not None:
                raise self.state_error
        return await self.inner.state(room)

    async def control(self, room: str, command: dict[str, str]) -> None:
        if room == self.room:
            self.check(command)
            self.roles.append(command)
        await self.inner.control(room, command)

    def check(self, command: dict[str, str]) -> None:
        if command.get("role") == "write":
            if self.control_error is not None:
                raise self.control_error
            if self.away:
                raise unavailable()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def _wrap(stack: Stack, who: Account, did: str, collab: type[_Faulty], *args: Any) -> Any:
    """Put ``collab`` around the service's collab port once the room's pushes are done (the
    worker pushes after the start too), so that what it records is the end's."""
    ctx: Dojos = stack.app.state.dojos

    async def synced() -> bool:
        async with tenant_transaction(ctx.pool, who.tenant_id) as conn:
            return not await conn.fetchval(
                "SELECT room_sync_due FROM dojos WHERE tenant_id = $1 AND dojo_id = $2",
                who.tenant_id,
                did,
            )

    await eventually(synced, what="room pushed")
    await asyncio.sleep(0.3)  # a push that another finished the job of ends too
    ctx.collab = wrapper = collab(ctx.collab, room_key(who.tenant_id, did), *args)
    return wrapper


async def _end_failing(stack: Stack, who: Account, did: str) -> BaseException | None:
    """POST /end that fails; what the app raised (None: it answered 500)."""
    try:
        response = await stack.call("POST", f"/dojos/{did}/end", who)
    except Exception as exc:  # the in-process transport hands the app's exception over
        return exc
    assert response.status_code == 500, response.text
    return None


async def test_a_failed_end_gives_the_driver_the_keyboard_back_later(
    stack: Stack, sign_up: SignUp
) -> None:
    """Ending fails once write access is withdrawn, and so does the push giving it back (the
    engine away): the worker gives it back once the engine is there again."""
    bill = await sign_up()
    did = (await stack.ok("POST", "/dojos", bill, 201, json=dojo_body(format="prepared")))[
        "dojo_id"
    ]
    await stack.ok("POST", f"/dojos/{did}/start", bill)  # bill drives; no timer, no rotation
    ctx: Dojos = stack.app.state.dojos
    collab = await _wrap(stack, bill, did, _Faulty)
    collab.state_error = RuntimeError("the snapshot store is full")
    collab.away = True
    try:
        await _end_failing(stack, bill, did)
        assert {"type": "role", "user": str(bill.user_id), "role": "read"} in collab.roles
        collab.state_error, collab.away = None, False
        given_back = {"type": "role", "user": str(bill.user_id), "role": "write"}
        await eventually(lambda: given_back in collab.roles, what="write access given back")
    finally:
        ctx.collab = collab.inner
    dojo = await stack.ok("GET", f"/dojos/{did}", bill)
    assert dojo["status"] == "active"


async def test_a_failed_end_says_why_it_failed_when_access_cannot_be_given_back(
    stack: Stack, sign_up: SignUp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database away as the end fails: the push giving access back fails too, and is
    logged; the error is the end's."""
    bill = await sign_up()
    did = (await stack.ok("POST", "/dojos", bill, 201, json=dojo_body()))["dojo_id"]
    await stack.ok("POST", f"/dojos/{did}/start", bill)
    ctx: Dojos = stack.app.state.dojos
    collab = await _wrap(stack, bill, did, _Faulty)
    collab.state_error = RuntimeError("the snapshot store is full")

    async def database_away(*_: Any) -> None:
        raise asyncpg.ConnectionDoesNotExistError("connection was closed")

    monkeypatch.setattr(dojo_room, "seed_once", database_away)
    try:
        with capture_logs() as logs:
            # A logger of its own, first used here: the module's was bound before the capture.
            monkeypatch.setattr(dojo_service, "_log", structlog.get_logger("dojos"))
            raised = await _end_failing(stack, bill, did)
    finally:
        ctx.collab = collab.inner
    assert raised is collab.state_error
    assert [e["event"] for e in logs if e["log_level"] == "error"] == ["room_access_not_restored"]


class _OneAway(_Faulty):
    """Role commands for ``user`` do not reach the engine."""

    def __init__(self, inner: Collab, room: str, user: str) -> None:
        super().__init__(inner, room)
        self.user = user

    def check(self, command: dict[str, str]) -> None:
        if command.get("user") == self.user:
            raise unavailable()


async def test_ending_free_co_editing_withdraws_every_writer(
    stack: Stack, sign_up: SignUp, invite_member: Any
) -> None:
    """In free co-editing everyone writes: one who cannot be made read-only as the dojo ends
    does not keep the others writing while the last snapshot is taken."""
    bill = await sign_up()
    ana = await invite_member(bill)
    cid = await invite_member(bill)
    did = (await stack.ok("POST", "/dojos", bill, 201, json=dojo_body(format="free")))["dojo_id"]
    await join_with_invite(stack, bill, ana, did)
    await join_with_invite(stack, bill, cid, did)
    await stack.ok("POST", f"/dojos/{did}/start", bill)
    ctx: Dojos = stack.app.state.dojos
    collab = await _wrap(stack, bill, did, _OneAway, str(bill.user_id))  # the first writer
    try:
        await stack.ok("POST", f"/dojos/{did}/end", bill)
    finally:
        ctx.collab = collab.inner
    # Withdrawn before the room's state is read for the end's snapshot.
    before = collab.roles[: collab.roles.index({"type": "state"})]
    assert before == [
        {"type": "role", "user": str(who.user_id), "role": "read"} for who in (ana, cid)
    ]
