"""Roles a facilitator hands out: the lasting role (navigator, observer) and the keyboard."""

from __future__ import annotations

from typing import Any

from tests.integration.conftest import SignUp

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
