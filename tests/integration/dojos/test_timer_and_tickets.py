"""The server's timer rotates by itself; tickets expire on live connections unless renewed."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Any

from pycrdt import Map

from platform_api.dojos import create_app
from tests.harness.asgi import serve
from tests.harness.ywire import YClient, eventually
from tests.integration.conftest import SignUp, StartNode

from .conftest import MakeSettings, Stack, dojo_body, join_with_invite


def meta(client: YClient) -> dict[str, Any]:
    return client.doc.get("dojo", type=Map).to_py() or {}


async def test_turns_rotate_on_time_and_tickets_expire_unless_renewed(
    dojo_settings: MakeSettings, start_node: StartNode, sign_up: SignUp, invite_member: Any
) -> None:
    ws = await start_node()
    base = ws.replace("ws://", "http://").removesuffix("/collab")
    app = create_app(dojo_settings(collab_url=base, collab_public_url=ws, ticket_ttl_seconds=5))
    async with serve(app) as client:
        s = Stack(client=client, app=app, ws=ws)
        try:
            await _scenario(s, sign_up, invite_member)
        finally:
            for c in s.clients:
                await c.close()


async def _scenario(s: Stack, sign_up: SignUp, invite_member: Any) -> None:
    bill = await sign_up()
    ana, joe = await invite_member(bill), await invite_member(bill)
    did = (await s.ok("POST", "/dojos", bill, 201, json=dojo_body(rotation_seconds=5)))["dojo_id"]
    await join_with_invite(s, bill, ana, did)
    await join_with_invite(s, bill, joe, did, role="observer")
    await s.ok("POST", f"/dojos/{did}/start", bill)
    driver, _ = await s.connect(did, bill)
    navigator, _ = await s.connect(did, ana)
    observer, _ = await s.connect(did, joe)

    # Everyone reads the same timer from the server, wherever they ask.
    seen = [await s.ok("GET", f"/dojos/{did}/timer", who) for who in (bill, ana, joe)]
    assert len({t["due_at"] for t in seen}) == 1
    assert all(t["state"] == "running" and t["driver_id"] == bill.user_id for t in seen)
    due = datetime.fromisoformat(seen[0]["due_at"]).timestamp()

    # Bill and ana renew their tickets on the live connection; joe does not.
    await asyncio.sleep(2.5)
    for who, c in ((bill, driver), (ana, navigator)):
        fresh = await s.ok("POST", f"/dojos/{did}/tickets", who)
        await c.send_raw(fresh["ticket"])

    # The worker rotates at the due time; the new roles reach the live connections.
    await eventually(lambda: meta(navigator).get("driver") == ana.user_id, timeout=8.0)
    assert time.time() - due < 1.0
    await navigator.insert("# ana's turn\n", 0)
    await eventually(lambda: "ana's turn" in str(driver), timeout=1.0, what="new driver's edit")
    assert meta(navigator)["next_driver"] == bill.user_id
    snaps = (await s.ok("GET", f"/dojos/{did}/snapshots", bill))["items"]
    assert [x["reason"] for x in snaps] == ["rotation", "start"]

    # Joe's ticket expired on his open connection (4401); the others are still connected.
    assert await observer.wait_closed(timeout=5.0) == 4401
    assert driver.connected
    assert navigator.connected
