"""End to end: identity + dojo service + a real collab node + Yjs clients over WebSockets."""

from __future__ import annotations

import io
import time
import zipfile
from typing import Any

from pycrdt import Array, Map

from tests.harness.ywire import YClient, eventually
from tests.integration.conftest import Account, SignUp

from .conftest import STARTING_CODE, Stack, dojo_body, join_with_invite


def meta(client: YClient) -> dict[str, Any]:
    return client.doc.get("dojo", type=Map).to_py() or {}


def feed(client: YClient) -> list[dict[str, Any]]:
    return client.doc.get("chat", type=Array).to_py() or []


async def test_a_randori_from_start_to_export(
    stack: Stack, sign_up: SignUp, invite_member: Any
) -> None:
    bill: Account = await sign_up()
    ana: Account = await invite_member(bill)
    joe: Account = await invite_member(bill)
    dojo = await stack.ok("POST", "/dojos", bill, 201, json=dojo_body())
    did = dojo["dojo_id"]
    await join_with_invite(stack, bill, ana, did)
    await join_with_invite(stack, bill, joe, did, role="observer")

    started = await stack.ok("POST", f"/dojos/{did}/start", bill)
    assert started["driver_id"] == bill.user_id
    assert started["status"] == "active"
    driver, t_bill = await stack.connect(did, bill)
    navigator, t_ana = await stack.connect(did, ana)
    observer, t_joe = await stack.connect(did, joe)
    assert (t_bill["role"], t_ana["role"], t_joe["role"]) == ("write", "read", "read")
    clients = (driver, navigator, observer)
    await eventually(lambda: all(str(c) == STARTING_CODE for c in clients), what="starting code")

    # The timer and the driver, as every client sees them in the room's "dojo" map.
    await eventually(lambda: meta(observer).get("driver") == bill.user_id, what="timer map")
    shown = meta(observer)
    assert shown["timer_state"] == "running"
    assert shown["next_driver"] == ana.user_id
    assert 0 < shown["remaining_ms"] <= 300_000
    assert shown["driver_name"] == "Owner Person"

    # Only the driver's edits count; the observer's are dropped by the room.
    await observer.insert("# joe was never here\n", 0)
    await driver.insert("# bill was here\n")
    await eventually(lambda: "bill was here" in str(navigator), what="driver's edit")
    assert "joe" not in str(driver)
    assert "joe" not in str(navigator)

    # Rotate: roles swap on the live connections, no reconnect, within a second.
    began = time.monotonic()
    timer = await stack.ok("POST", f"/dojos/{did}/timer/skip", bill)
    assert timer["driver_id"] == ana.user_id
    assert timer["next_driver_id"] == bill.user_id
    await navigator.insert("# ana drives now\n", 0)
    await eventually(lambda: "ana drives" in str(driver), timeout=1.0, what="new driver's edit")
    assert time.monotonic() - began < 1.0
    await eventually(lambda: meta(driver).get("driver") == ana.user_id, timeout=1.0)
    await driver.insert("# bill typing out of turn\n", 0)
    await navigator.insert("# still ana\n", 0)
    await eventually(lambda: "still ana" in str(observer), what="ana's second edit")
    assert "out of turn" not in str(observer)

    # Pause and resume: the map follows the server's timer.
    await stack.ok("POST", f"/dojos/{did}/timer/pause", bill)
    await eventually(lambda: meta(observer).get("timer_state") == "paused", timeout=1.0)
    resumed = await stack.ok("POST", f"/dojos/{did}/timer/resume", bill)
    assert resumed["state"] == "running"
    assert resumed["remaining_ms"] > 290_000

    # Chat: persisted, escaped, mirrored live into the room's "chat" array.
    said = await stack.ok(
        "POST", f"/dojos/{did}/messages", ana, 201, json={"text": "Try `n % 15` **first** <b>"}
    )
    assert said["html"] == "Try <code>n % 15</code> <strong>first</strong> &lt;b&gt;"
    await eventually(lambda: [m["id"] for m in feed(observer)] == [said["message_id"]])
    page = await stack.ok("GET", f"/dojos/{did}/messages", joe)
    assert [m["message_id"] for m in page["items"]] == [said["message_id"]]
    assert (
        await stack.call("DELETE", f"/dojos/{did}/messages/{said['message_id']}", joe)
    ).status_code == 403
    await stack.ok("DELETE", f"/dojos/{did}/messages/{said['message_id']}", bill, 204)
    await eventually(lambda: feed(observer) == [], what="deleted from the feed")

    # Snapshots: one at the start, one at the rotation (bill's work), one on demand (ana's).
    mine = await stack.ok("POST", f"/dojos/{did}/snapshots", ana, 201)
    assert mine["reason"] == "manual"
    assert mine["driver_id"] == ana.user_id
    snaps = (await stack.ok("GET", f"/dojos/{did}/snapshots", bill))["items"]
    reasons = [s["reason"] for s in reversed(snaps)]
    assert reasons == ["start", "rotation", "manual"], reasons
    start, rotation = snaps[-1], snaps[-2]
    assert rotation["driver_id"] == bill.user_id
    code = await stack.ok("GET", f"/dojos/{did}/snapshots/{rotation['snapshot_id']}", ana)
    assert code["code"] == STARTING_CODE + "# bill was here\n"
    diff = await stack.ok(
        "GET", f"/dojos/{did}/diff", ana,
        params={"from": start["snapshot_id"], "to": mine["snapshot_id"]},
    )  # fmt: skip
    assert "+# bill was here" in diff["diff"]
    assert "+# ana drives now" in diff["diff"]

    # Attribution: who wrote which line.
    credits = await stack.ok(
        "GET", f"/dojos/{did}/snapshots/{mine['snapshot_id']}/attribution", ana
    )
    by_line = {line["text"]: line["user_id"] for line in credits["lines"]}
    assert by_line["# bill was here"] == bill.user_id
    assert by_line["# ana drives now"] == ana.user_id
    assert by_line["def fizzbuzz(n):"] is None  # the starting code

    # Restore the start: a new edit every peer sees live, and nothing is lost.
    restored = await stack.ok(
        "POST", f"/dojos/{did}/snapshots/{start['snapshot_id']}/restore", bill, 201
    )
    assert restored["reason"] == "restore"
    # (The driver's and observer's copies hold their own dropped edits; ana's is the room's.)
    await eventually(lambda: str(navigator) == STARTING_CODE, what="restored code")
    assert "bill was here" not in str(driver)
    assert "ana drives" not in str(observer)

    # Removing a participant disconnects them (4403) within a second; no new ticket after.
    began = time.monotonic()
    await stack.ok("DELETE", f"/dojos/{did}/participants/{joe.user_id}", bill, 204)
    assert await observer.wait_closed(timeout=1.0) == 4403
    assert time.monotonic() - began < 1.0
    assert (await stack.call("POST", f"/dojos/{did}/tickets", joe)).status_code == 403

    # The end: a final snapshot, everyone read-only, the export holds the whole session.
    await stack.ok("POST", f"/dojos/{did}/end", bill)
    await eventually(lambda: meta(driver).get("status") == "ended", timeout=1.0)
    await navigator.insert("# after the end\n", 0)
    await stack.ok("POST", f"/dojos/{did}/messages", ana, 409, json={"text": "late"})
    response = await stack.call("GET", f"/dojos/{did}/export", ana)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    names = set(archive.namelist())
    assert {"dojo.json", "final.py", "chat.json", "chat.md", "attribution.json"} <= names
    assert archive.read("final.py").decode() == STARTING_CODE
    # start, rotation, manual, restore (the code before it was already snapshotted), end
    assert sum(n.startswith("snapshots/") for n in names) == 5

    def relayed() -> list[dict[str, Any]]:
        """This dojo's events on the (in-memory) bus, as the JSON envelope."""
        bus = stack.app.state.publisher.published
        return [e.to_dict() for e in bus if str(e.aggregate_id) == did]

    await eventually(lambda: len(relayed()) >= 6, what="events")
    published = [e["type"] for e in relayed()]
    assert published[:6] == [
        "dojo.created",
        "dojo.participant.joined",
        "dojo.participant.joined",
        "dojo.started",
        "dojo.participant.left",  # the removal
        "dojo.ended",
    ]
    left = relayed()[4]["payload"]
    assert left["reason"] == "removed"
    assert left["user_id"] not in left["participant_ids"]
    assert left["participant_count"] == len(left["participant_ids"]) == 2


async def test_revoking_an_invite_disconnects_who_joined_with_it(
    stack: Stack, sign_up: SignUp, invite_member: Any
) -> None:
    owner = await sign_up()
    guest, other = await invite_member(owner), await invite_member(owner)
    did = (await stack.ok("POST", "/dojos", owner, 201, json=dojo_body(format="free")))["dojo_id"]
    invite = await stack.ok("POST", f"/dojos/{did}/invites", owner, 201, json={})
    await stack.ok("POST", "/dojos/join", guest, json={"code": invite["code"]})
    await join_with_invite(stack, owner, other, did)  # another link: unaffected
    await stack.ok("POST", f"/dojos/{did}/start", owner)
    guest_client, ticket = await stack.connect(did, guest)
    other_client, _ = await stack.connect(did, other)
    assert ticket["role"] == "write"  # free co-editing
    await guest_client.insert("# guest\n")
    await eventually(lambda: "# guest" in str(other_client), what="guest's edit")
    began = time.monotonic()
    await stack.ok("DELETE", f"/dojos/{did}/invites/{invite['invite_id']}", owner, 204)
    assert await guest_client.wait_closed(timeout=1.0) == 4403
    assert time.monotonic() - began < 1.0
    assert other_client.connected
    assert (await stack.call("POST", f"/dojos/{did}/tickets", guest)).status_code == 403
