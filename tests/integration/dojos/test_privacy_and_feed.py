"""Private dojos and tags; the internal feed the search index is rebuilt from."""

from __future__ import annotations

import uuid
from typing import Any

from platform_api.dojos.settings import DEVELOPMENT_SERVICE_TOKEN
from tests.harness.cross_tenant import assert_all_not_found
from tests.harness.pagination import encode, follow_pages, malformed_cursors
from tests.integration.conftest import SignUp

from .conftest import Stack, dojo_body, join_with_invite
from .test_isolation import DOJO_PROBES

SERVICE = {"X-Service-Token": DEVELOPMENT_SERVICE_TOKEN}


async def _listed(stack: Stack, who: Any) -> set[str]:
    page = await stack.ok("GET", "/dojos", who, params={"limit": 100})
    return {d["dojo_id"] for d in page["items"]}


async def test_a_private_dojo_exists_only_for_its_people(
    stack: Stack, sign_up: SignUp, invite_member: Any
) -> None:
    owner = await sign_up()
    facilitator, guest, colleague = [await invite_member(owner) for _ in range(3)]
    admin = await invite_member(owner, role="admin")
    body = dojo_body(is_private=True, tags=["TDD", " Kata  Night ", "tdd"])
    dojo = await stack.ok("POST", "/dojos", facilitator, 201, json=body)
    did = dojo["dojo_id"]
    assert (dojo["is_private"], dojo["tags"]) == (True, ["tdd", "kata-night"])
    public = await stack.ok("POST", "/dojos", facilitator, 201, json=dojo_body())
    assert (public["is_private"], public["tags"]) == (False, [])
    # Facilitator and tenant admins see it; a colleague does not, anywhere, as for another
    # tenant's dojo (404, never 403).
    assert did in await _listed(stack, facilitator)
    assert did in await _listed(stack, admin)
    assert (await stack.ok("GET", f"/dojos/{did}", admin))["name"] == body["name"]
    for outsider in (colleague, guest):
        listed = await _listed(stack, outsider)
        assert public["dojo_id"] in listed
        assert did not in listed
    invite = await stack.ok("POST", f"/dojos/{did}/invites", facilitator, 201, json={})
    said = await stack.ok("POST", f"/dojos/{did}/messages", facilitator, 201, json={"text": "hi"})
    ids = {
        "dojo_id": did,
        "invite_id": invite["invite_id"],
        "user_id": facilitator.user_id,
        "message_id": said["message_id"],
        "snapshot_id": str(uuid.uuid4()),
    }
    await assert_all_not_found(stack.client, DOJO_PROBES, ids, colleague.access_token)
    # An invite code is the way in; leaving is the way out again.
    await stack.ok("POST", "/dojos/join", guest, json={"code": invite["code"]})
    assert did in await _listed(stack, guest)
    assert (await stack.ok("GET", f"/dojos/{did}", guest))["participant_count"] == 2
    await stack.ok("POST", f"/dojos/{did}/leave", guest, 204)
    assert did not in await _listed(stack, guest)
    assert (await stack.call("GET", f"/dojos/{did}", guest)).status_code == 404
    # Making it public shows it to everyone; tags change with it.
    patched = await stack.ok(
        "PATCH", f"/dojos/{did}", facilitator, json={"is_private": False, "tags": ["katas"]}
    )
    assert (patched["is_private"], patched["tags"]) == (False, ["katas"])
    assert did in await _listed(stack, colleague)
    for bad in (
        {"is_private": None},
        {"tags": ["no spaces?!"]},
        {"tags": [f"t{i}" for i in range(21)]},
    ):
        refused = await stack.call("PATCH", f"/dojos/{did}", facilitator, json=bad)
        assert refused.status_code == 422, bad
        assert refused.headers["content-type"].startswith("application/problem+json")


async def test_the_internal_feed_needs_the_service_token(
    stack: Stack, sign_up: SignUp, invite_member: Any
) -> None:
    a, b = await sign_up(), await sign_up()
    member = await invite_member(a)
    dids = []
    for n in range(5):
        extra = {"is_private": True, "tags": ["feed"]} if n == 0 else {}
        dids.append((await stack.ok("POST", "/dojos", a, 201, json=dojo_body(**extra)))["dojo_id"])
    await join_with_invite(stack, a, member, dids[0])
    await stack.ok("POST", f"/dojos/{dids[1]}/archive", a)
    await stack.ok("POST", "/dojos", b, 201, json=dojo_body())
    path = f"/internal/tenants/{a.tenant_id}/dojos"
    for headers in ({}, {"X-Service-Token": "wrong"}, a.auth):
        refused = await stack.client.get(path, headers=headers)
        assert refused.status_code == 401, headers
        assert refused.headers["content-type"].startswith("application/problem+json")
    pages = await follow_pages(stack.client, path, SERVICE, "dojo_id", limit=2)
    assert [len(p) for p in pages] == [2, 2, 1]
    response = await stack.client.get(path, headers=SERVICE)
    items = response.json()["items"]
    by_id = {i["dojo_id"]: i for i in items}
    assert set(by_id) == set(dids)  # archived too, nothing of tenant B
    first = by_id[dids[0]]
    assert (first["is_private"], first["tags"], first["participant_count"]) == (True, ["feed"], 2)
    assert set(first["participant_ids"]) == {a.user_id, member.user_id}
    assert first["version"] >= 2
    assert by_id[dids[1]]["status"] == "archived"
    for cursor in [*malformed_cursors("id"), encode({"id": "nope"}), encode({"id": 7})]:
        bad = await stack.client.get(path, params={"cursor": cursor}, headers=SERVICE)
        assert bad.status_code == 400, cursor
    other = await stack.client.get(f"/internal/tenants/{b.tenant_id}/dojos", headers=SERVICE)
    assert not set(dids) & {i["dojo_id"] for i in other.json()["items"]}
