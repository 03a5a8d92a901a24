"""Lifecycle rules, lists and their filters, events, and riding out a collab outage."""

from __future__ import annotations

import uuid
from typing import Any

from platform_api.dojos import create_app, ydoc
from platform_api.dojos.collab import MemoryCollab, unavailable
from platform_api.dojos.tickets import room_key
from tests.harness.asgi import serve
from tests.harness.pagination import follow_pages, malformed_cursors
from tests.harness.ywire import eventually
from tests.integration.conftest import SignUp

from .conftest import STARTING_CODE, MakeSettings, Stack, dojo_body


async def test_lifecycle_rules_and_events(
    stack: Stack, sign_up: SignUp, invite_member: Any
) -> None:
    owner = await sign_up()
    member = await invite_member(owner)
    did = (await stack.ok("POST", "/dojos", owner, 201, json=dojo_body()))["dojo_id"]
    # A tenant member sees it but cannot change it.
    assert (await stack.ok("GET", f"/dojos/{did}", member))["participant_count"] == 1
    denied = await stack.call("PATCH", f"/dojos/{did}", member, json={"name": "Mine"})
    assert denied.status_code == 403
    patched = await stack.ok("PATCH", f"/dojos/{did}", owner, json={"format": "free"})
    assert patched["format"] == "free"
    nulls = await stack.call("PATCH", f"/dojos/{did}", owner, json={"name": None})
    assert nulls.status_code == 422
    await stack.ok("POST", f"/dojos/{did}/start", owner)
    again = await stack.call("POST", f"/dojos/{did}/start", owner)
    assert again.status_code == 409
    late = await stack.call("PATCH", f"/dojos/{did}", owner, json={"initial_code": "x = 1\n"})
    assert late.status_code == 409
    # Free co-editing: everyone but observers writes, there is no driver and no timer.
    assert (await stack.ok("POST", f"/dojos/{did}/tickets", owner))["role"] == "write"
    no_timer = await stack.call("POST", f"/dojos/{did}/timer/skip", owner)
    assert no_timer.status_code == 409
    assert (await stack.call("POST", f"/dojos/{did}/archive", owner)).status_code == 409
    await stack.ok("POST", f"/dojos/{did}/end", owner)
    assert (await stack.ok("POST", f"/dojos/{did}/tickets", owner))["role"] == "read"
    archived = await stack.ok("POST", f"/dojos/{did}/archive", owner)
    assert archived["status"] == "archived"
    gone = await stack.call("POST", f"/dojos/{did}/tickets", owner)
    assert gone.status_code == 409

    relay_events = stack.app.state.publisher.published

    def mine() -> list[dict[str, Any]]:
        return [e.to_dict() for e in relay_events if str(e.aggregate_id) == did]

    await eventually(lambda: len(mine()) == 5, what="five events relayed")
    kinds = [e["type"] for e in mine()]
    assert kinds == ["dojo.created", "dojo.updated", "dojo.started", "dojo.ended", "dojo.archived"]
    versions = [e["version"] for e in mine()]
    assert versions == sorted(versions)
    assert len(set(versions)) == 5
    last = mine()[-1]
    assert last["tenant_id"] == owner.tenant_id
    assert last["payload"]["status"] == "archived"
    assert last["payload"]["participant_count"] == 1


async def test_lists_filter_and_page(stack: Stack, sign_up: SignUp) -> None:
    owner = await sign_up()
    made = []
    for i in range(5):
        language = "Python" if i % 2 else "Go"
        made.append(
            (await stack.ok("POST", "/dojos", owner, 201, json=dojo_body(language=language)))[
                "dojo_id"
            ]
        )
    await stack.ok("POST", f"/dojos/{made[0]}/start", owner)
    await stack.ok("POST", f"/dojos/{made[1]}/archive", owner)
    pages = await follow_pages(stack.client, "/dojos", owner.auth, "dojo_id", limit=2)
    listed = [i for page in pages for i in page]
    assert listed == [d for d in reversed(made) if d != made[1]]  # newest first, no archived
    only = await stack.ok("GET", "/dojos", owner, params={"status": "archived"})
    assert [d["dojo_id"] for d in only["items"]] == [made[1]]
    active = await stack.ok("GET", "/dojos", owner, params={"status": "active"})
    assert [d["dojo_id"] for d in active["items"]] == [made[0]]
    go = await stack.ok("GET", "/dojos", owner, params={"language": "go"})
    assert {d["dojo_id"] for d in go["items"]} == {made[0], made[2], made[4]}
    future = await stack.ok("GET", "/dojos", owner, params={"since": "2999-01-01T00:00:00Z"})
    assert future["items"] == []
    past = await stack.ok("GET", "/dojos", owner, params={"until": "2000-01-01T00:00:00Z"})
    assert past["items"] == []
    naive = await stack.call("GET", "/dojos", owner, params={"since": "2024-01-01T00:00:00"})
    assert naive.status_code == 422
    for cursor in malformed_cursors("dojo_id"):
        response = await stack.call("GET", "/dojos", owner, params={"cursor": cursor})
        assert response.status_code == 400, cursor
    # Chat and snapshots page the same way.
    for n in range(3):
        await stack.ok("POST", f"/dojos/{made[0]}/messages", owner, 201, json={"text": f"m{n}"})
    pages = await follow_pages(
        stack.client, f"/dojos/{made[0]}/messages", owner.auth, "message_id", limit=2
    )
    assert [len(p) for p in pages] == [2, 1]
    for cursor in malformed_cursors("message_id")[:3]:
        response = await stack.call(
            "GET", f"/dojos/{made[0]}/messages", owner, params={"cursor": cursor}
        )
        assert response.status_code == 400


class FlakyCollab(MemoryCollab):
    """Rooms in memory that can be switched off, like an unreachable collab engine."""

    def __init__(self) -> None:
        super().__init__()
        self.down = True

    async def state(self, room: str) -> bytes:
        if self.down:
            raise unavailable()
        return await super().state(room)

    async def apply(self, room: str, update: bytes) -> None:
        if self.down:
            raise unavailable()
        await super().apply(room, update)

    async def control(self, room: str, command: dict[str, str]) -> None:
        if self.down:
            raise unavailable()
        await super().control(room, command)


async def test_a_collab_outage_delays_the_room_but_loses_nothing(
    dojo_settings: MakeSettings, sign_up: SignUp
) -> None:
    collab = FlakyCollab()
    app = create_app(dojo_settings(), collab=collab)
    async with serve(app) as client:
        s = Stack(client=client, app=app, ws="")
        owner = await sign_up()
        did = (await s.ok("POST", "/dojos", owner, 201, json=dojo_body()))["dojo_id"]
        started = await s.ok("POST", f"/dojos/{did}/start", owner)  # the room is away
        assert started["status"] == "active"
        assert (await s.ok("POST", f"/dojos/{did}/tickets", owner))["role"] == "write"
        room = room_key(uuid.UUID(owner.tenant_id), uuid.UUID(did))
        collab.down = False
        # The worker pushes again: starting code, start snapshot, roles and timer.

        async def pushed() -> bool:
            state = await collab.state(room)
            return ydoc.meta_of(state).get("status") == "active"

        await eventually(pushed, timeout=5.0, what="the worker's retry")
        assert ydoc.text_of(await collab.state(room)) == STARTING_CODE
        assert (room, {"type": "role", "user": owner.user_id, "role": "write"}) in collab.controls
        snaps = (await s.ok("GET", f"/dojos/{did}/snapshots", owner))["items"]
        assert [x["reason"] for x in snaps] == ["start"]


async def test_snapshots_on_demand_are_rate_limited_per_dojo(
    dojo_settings: MakeSettings, sign_up: SignUp
) -> None:
    """Each manual snapshot holds its dojo's row (and a rotation due meanwhile): a dojo takes
    a few a minute, and one dojo's budget does not touch another's."""
    app = create_app(dojo_settings(manual_snapshots_per_minute=2), collab=MemoryCollab())
    async with serve(app) as client:
        s = Stack(client=client, app=app, ws="")
        owner = await sign_up()
        busy, other = [
            (await s.ok("POST", "/dojos", owner, 201, json=dojo_body()))["dojo_id"]
            for _ in range(2)
        ]
        for did in (busy, other):
            await s.ok("POST", f"/dojos/{did}/start", owner)
        for _ in range(2):
            await s.ok("POST", f"/dojos/{busy}/snapshots", owner, 201)
        refused = await client.post(
            f"/dojos/{busy}/snapshots", headers={**owner.auth, "Accept-Language": "pt-BR"}
        )
        assert refused.status_code == 429
        assert 0 < int(refused.headers["retry-after"]) <= 60
        assert refused.json()["detail"] == (
            "Este dojo tira no máximo 2 snapshots por minuto; tente de novo em instantes"
        )
        await s.ok("POST", f"/dojos/{other}/snapshots", owner, 201)
        snaps = (await s.ok("GET", f"/dojos/{busy}/snapshots", owner))["items"]
        assert [x["reason"] for x in snaps].count("manual") == 2
