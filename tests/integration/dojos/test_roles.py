"""Roles a facilitator hands out: the lasting role (navigator, observer) and the keyboard."""

from __future__ import annotations

import asyncio
from typing import Any

from platform_api.dojos.service import Dojos
from platform_api.kernel import tenant_transaction
from tests.integration.conftest import Account, SignUp

from .conftest import Stack, dojo_body, join_with_invite


async def test_an_observer_made_navigator_navigates_and_takes_turns(
    stack: Stack, sign_up: SignUp, invite_member: Any
) -> None:
    owner = await sign_up()
    joe = await invite_member(owner)
    did = (await stack.ok("POST", "/dojos", owner, 201, json=dojo_body()))["dojo_id"]
    await join_with_invite(stack, owner, joe, did, role="observer")
    await stack.ok("POST", f"/dojos/{did}/start", owner)

    promoted = await stack.ok(
        "PUT", f"/dojos/{did}/participants/{joe.user_id}/role", owner, json={"role": "navigator"}
    )
    assert (promoted["role"], promoted["can_write"]) == ("navigator", False)
    people = await stack.ok("GET", f"/dojos/{did}/participants", owner)
    assert {p["user_id"]: p["role"] for p in people["items"]}[joe.user_id] == "navigator"
    # A navigator may be named in the order of rotation, and takes the keyboard in turn.
    order = [owner.user_id, joe.user_id]
    timer = await stack.ok("PUT", f"/dojos/{did}/timer/order", owner, json={"order": order})
    assert timer["next_driver_id"] == joe.user_id
    await stack.ok("POST", f"/dojos/{did}/timer/skip", owner)
    assert (await stack.ok("POST", f"/dojos/{did}/tickets", joe))["role"] == "write"
    # When the keyboard moves on, he navigates: he does not fall back to watching.
    await stack.ok("POST", f"/dojos/{did}/timer/skip", owner)
    people = await stack.ok("GET", f"/dojos/{did}/participants", owner)
    assert {p["user_id"]: p["role"] for p in people["items"]}[joe.user_id] == "navigator"

    # Made an observer again, he leaves the rotation.
    watching = await stack.ok(
        "PUT", f"/dojos/{did}/participants/{joe.user_id}/role", owner, json={"role": "observer"}
    )
    assert watching["role"] == "observer"
    assert (await stack.ok("GET", f"/dojos/{did}/timer", owner))["order"] == [owner.user_id]


async def test_a_prepared_kata_has_no_timer_to_start(
    stack: Stack, sign_up: SignUp, invite_member: Any
) -> None:
    owner = await sign_up()
    ana = await invite_member(owner)
    body = dojo_body(format="prepared", rotation_seconds=5)
    did = (await stack.ok("POST", "/dojos", owner, 201, json=body))["dojo_id"]
    await join_with_invite(stack, owner, ana, did)
    await stack.ok("POST", f"/dojos/{did}/start", owner)
    refused = await stack.call("POST", f"/dojos/{did}/timer/resume", owner)
    assert refused.status_code == 409
    assert refused.json()["detail"] == "A prepared kata has no rotation timer"
    timer = await stack.ok("GET", f"/dojos/{did}/timer", owner)
    assert (timer["state"], timer["driver_id"]) == ("stopped", owner.user_id)
    # The facilitator hands over by hand.
    await stack.ok("POST", f"/dojos/{did}/timer/skip", owner)
    timer = await stack.ok("GET", f"/dojos/{did}/timer", owner)
    assert (timer["state"], timer["driver_id"]) == ("stopped", ana.user_id)


async def test_an_observer_made_navigator_before_the_start_takes_their_turn_by_join_time(
    stack: Stack, sign_up: SignUp, invite_member: Any
) -> None:
    """No order was set: the promoted observer is not made the first (and only named) driver."""
    owner = await sign_up()
    joe = await invite_member(owner)
    did = (await stack.ok("POST", "/dojos", owner, 201, json=dojo_body()))["dojo_id"]
    await join_with_invite(stack, owner, joe, did, role="observer")
    await stack.ok(
        "PUT", f"/dojos/{did}/participants/{joe.user_id}/role", owner, json={"role": "navigator"}
    )
    await stack.ok("POST", f"/dojos/{did}/start", owner)
    timer = await stack.ok("GET", f"/dojos/{did}/timer", owner)
    assert (timer["driver_id"], timer["order"]) == (owner.user_id, [owner.user_id, joe.user_id])


async def _timer_left_running(stack: Stack, who: Account, did: str) -> None:
    """A prepared kata's timer as one started before resuming it was refused: running, and
    its turn due already."""
    ctx: Dojos = stack.app.state.dojos
    async with tenant_transaction(ctx.pool, who.tenant_id) as conn:
        await conn.execute(
            """UPDATE dojos SET timer_state = 'running', turn_due_at = now() - interval '1 s'
               WHERE tenant_id = $1 AND dojo_id = $2""",
            who.tenant_id,
            did,
        )


async def test_a_prepared_kata_s_timer_left_running_takes_no_keyboard_and_stops(
    stack: Stack, sign_up: SignUp, invite_member: Any
) -> None:
    owner = await sign_up()
    ana = await invite_member(owner)
    body = dojo_body(format="prepared", rotation_seconds=5)
    did = (await stack.ok("POST", "/dojos", owner, 201, json=body))["dojo_id"]
    await join_with_invite(stack, owner, ana, did)
    await stack.ok("POST", f"/dojos/{did}/start", owner)
    await _timer_left_running(stack, owner, did)
    await asyncio.sleep(1)  # the worker looks every 0.05 s
    timer = await stack.ok("GET", f"/dojos/{did}/timer", owner)
    assert (timer["state"], timer["driver_id"], timer["turn"]) == ("running", owner.user_id, 0)
    # Pausing it stops it, for good: there is no timer to resume.
    await stack.ok("POST", f"/dojos/{did}/timer/pause", owner)
    timer = await stack.ok("GET", f"/dojos/{did}/timer", owner)
    assert (timer["state"], timer["remaining_ms"], timer["driver_id"]) == (
        "stopped",
        None,
        owner.user_id,
    )
    assert (await stack.call("POST", f"/dojos/{did}/timer/resume", owner)).status_code == 409
    # Handing the keyboard over stops one too.
    await _timer_left_running(stack, owner, did)
    await stack.ok("POST", f"/dojos/{did}/timer/skip", owner)
    timer = await stack.ok("GET", f"/dojos/{did}/timer", owner)
    assert (timer["state"], timer["driver_id"]) == ("stopped", ana.user_id)
