"""Tenant isolation of the dojo service: every id-bearing endpoint, the lists, and RLS in SQL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from platform_api.kernel import tenant_transaction
from platform_api.kernel.provision import ServiceDatabase
from tests.harness.cross_tenant import Probe, assert_all_not_found
from tests.integration.conftest import SignUp

from .conftest import Stack, dojo_body, join_with_invite

D = "/dojos/{dojo_id}"
DOJO_PROBES = [
    Probe("GET", D),
    Probe("PATCH", D, json={"name": "Taken over"}),
    Probe("POST", f"{D}/start"),
    Probe("POST", f"{D}/end"),
    Probe("POST", f"{D}/archive"),
    Probe("POST", f"{D}/invites", json={"role": "navigator"}),
    Probe("GET", f"{D}/invites"),
    Probe("DELETE", f"{D}/invites/{{invite_id}}"),
    Probe("GET", f"{D}/participants"),
    Probe("PUT", f"{D}/participants/{{user_id}}/role", json={"role": "driver"}),
    Probe("DELETE", f"{D}/participants/{{user_id}}"),
    Probe("POST", f"{D}/leave"),
    Probe("POST", f"{D}/tickets"),
    Probe("GET", f"{D}/timer"),
    Probe("POST", f"{D}/timer/pause"),
    Probe("POST", f"{D}/timer/resume"),
    Probe("POST", f"{D}/timer/skip"),
    Probe("PUT", f"{D}/timer/order", json={"order": [str(uuid.uuid4())]}),
    Probe("GET", f"{D}/messages"),
    Probe("POST", f"{D}/messages", json={"text": "hello from B"}),
    Probe("DELETE", f"{D}/messages/{{message_id}}"),
    Probe("GET", f"{D}/snapshots"),
    Probe("POST", f"{D}/snapshots"),
    Probe("GET", f"{D}/snapshots/{{snapshot_id}}"),
    Probe("GET", f"{D}/snapshots/{{snapshot_id}}/attribution"),
    Probe("POST", f"{D}/snapshots/{{snapshot_id}}/restore"),
    Probe("GET", f"{D}/diff?from={{snapshot_id}}&to={{snapshot_id}}"),
    Probe("GET", f"{D}/export"),
]


async def test_tenant_b_cannot_reach_tenant_a_by_id(
    stack: Stack, sign_up: SignUp, invite_member: Any
) -> None:
    a, b = await sign_up(), await sign_up()
    a_member, b_member = await invite_member(a), await invite_member(b)
    dojo = await stack.ok("POST", "/dojos", a, 201, json=dojo_body())
    did = dojo["dojo_id"]
    invite = await stack.ok("POST", f"/dojos/{did}/invites", a, 201, json={"role": "navigator"})
    await stack.ok("POST", "/dojos/join", a_member, json={"code": invite["code"]})
    await stack.ok("POST", f"/dojos/{did}/start", a)
    said = await stack.ok("POST", f"/dojos/{did}/messages", a, 201, json={"text": "hi"})
    snap = (await stack.ok("GET", f"/dojos/{did}/snapshots", a))["items"][0]
    ids = {
        "dojo_id": did,
        "invite_id": invite["invite_id"],
        "user_id": a_member.user_id,
        "message_id": said["message_id"],
        "snapshot_id": snap["snapshot_id"],
    }
    await assert_all_not_found(stack.client, DOJO_PROBES, ids, b.access_token)
    await assert_all_not_found(stack.client, DOJO_PROBES, ids, b_member.access_token)
    # B cannot join with A's invite code either, and sees none of A's dojos.
    joined = await stack.call("POST", "/dojos/join", b, json={"code": invite["code"]})
    assert joined.status_code == 404
    for status in (None, "scheduled", "active", "ended", "archived"):
        params = {"status": status} if status else {}
        listed = await stack.ok("GET", "/dojos", b, params=params)
        assert did not in {d["dojo_id"] for d in listed["items"]}
    # Nothing changed in A; and the same calls in A do not answer 404 (positive control).
    after = await stack.ok("GET", f"/dojos/{did}", a)
    assert (after["status"], after["name"], after["participant_count"]) == (
        "active",
        dojo["name"],
        2,
    )
    messages = await stack.ok("GET", f"/dojos/{did}/messages", a)
    assert [m["message_id"] for m in messages["items"]] == [said["message_id"]]


async def test_joining_rules(stack: Stack, sign_up: SignUp, invite_member: Any) -> None:
    owner = await sign_up()
    one, two, three = [await invite_member(owner) for _ in range(3)]
    dojo = await stack.ok("POST", "/dojos", owner, 201, json=dojo_body(max_participants=3))
    did = dojo["dojo_id"]
    outsider = await stack.call("GET", f"/dojos/{did}/snapshots", one)
    assert outsider.status_code == 403  # same tenant, not a participant
    invite = await stack.ok("POST", f"/dojos/{did}/invites", owner, 201, json={"role": "observer"})
    assert invite["url"].endswith(f"/dojos/join#{invite['code']}")
    joined = await stack.ok("POST", "/dojos/join", one, json={"code": invite["code"]})
    assert (joined["role"], joined["dojo_id"]) == ("observer", did)
    again = await stack.ok("POST", "/dojos/join", one, json={"code": invite["code"]})
    assert again["role"] == "observer"  # idempotent
    await stack.ok("POST", "/dojos/join", two, json={"code": invite["code"]})
    full = await stack.call("POST", "/dojos/join", three, json={"code": invite["code"]})
    assert full.status_code == 409
    # Members manage nothing; the facilitator cannot leave.
    assert (await stack.call("POST", f"/dojos/{did}/start", one)).status_code == 403
    assert (await stack.call("POST", f"/dojos/{did}/leave", owner)).status_code == 409
    # Leaving frees a seat; revoking the invite removes whoever joined with it.
    await stack.ok("POST", f"/dojos/{did}/leave", two, 204)
    await stack.ok("POST", "/dojos/join", three, json={"code": invite["code"]})
    await stack.ok("DELETE", f"/dojos/{did}/invites/{invite['invite_id']}", owner, 204)
    people = await stack.ok("GET", f"/dojos/{did}/participants", owner)
    active = {p["user_id"] for p in people["items"] if p["status"] == "active"}
    assert active == {owner.user_id}
    gone = await stack.call("POST", "/dojos/join", two, json={"code": invite["code"]})
    assert gone.status_code == 404
    # An expired invite is as good as none; a removed participant cannot come back.
    fresh = await stack.ok("POST", f"/dojos/{did}/invites", owner, 201, json={})
    await stack.ok("POST", "/dojos/join", one, json={"code": fresh["code"]})
    await stack.ok("DELETE", f"/dojos/{did}/participants/{one.user_id}", owner, 204)
    banned = await stack.call("POST", "/dojos/join", one, json={"code": fresh["code"]})
    assert banned.status_code == 403
    async with tenant_transaction(stack.app.state.dojos.pool, owner.tenant_id) as conn:
        await conn.execute(
            "UPDATE dojo_invites SET expires_at = now() - interval '1 minute' WHERE invite_id = $1",
            uuid.UUID(fresh["invite_id"]),
        )
    expired = await stack.call("POST", "/dojos/join", two, json={"code": fresh["code"]})
    assert expired.status_code == 404


@pytest.fixture
async def app_conn(dojos_db: ServiceDatabase) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(dojos_db.app_dsn)
    try:
        yield conn
    finally:
        await conn.close()


TABLES = (
    "dojos",
    "dojo_invites",
    "dojo_participants",
    "dojo_code_snapshots",
    "dojo_chat_messages",
    "outbox",
)


async def test_rls_hides_other_tenants_rows(
    app_conn: asyncpg.Connection, stack: Stack, sign_up: SignUp, invite_member: Any
) -> None:
    a, b = await sign_up(), await sign_up()
    did = (await stack.ok("POST", "/dojos", a, 201, json=dojo_body()))["dojo_id"]
    await join_with_invite(stack, a, await invite_member(a), did)
    await stack.ok("POST", f"/dojos/{did}/start", a)
    await stack.ok("POST", f"/dojos/{did}/messages", a, 201, json={"text": "hi"})
    count = "SELECT count(*) FROM {} WHERE tenant_id = $1"
    async with app_conn.transaction():
        await app_conn.execute("SELECT set_config('app.tenant_id', $1, true)", a.tenant_id)
        for table in TABLES:
            assert await app_conn.fetchval(count.format(table), uuid.UUID(a.tenant_id)) >= 1, table
    async with app_conn.transaction():
        await app_conn.execute("SELECT set_config('app.tenant_id', $1, true)", b.tenant_id)
        for table in TABLES:
            assert await app_conn.fetchval(count.format(table), uuid.UUID(a.tenant_id)) == 0, table
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await app_conn.execute(
                """INSERT INTO dojo_chat_messages (tenant_id, dojo_id, user_id, display_name, message)
                   VALUES ($1, $2, $3, 'x', 'intruder')""",
                uuid.UUID(a.tenant_id),
                uuid.UUID(did),
                uuid.UUID(b.user_id),
            )
    for table in TABLES:  # no tenant at all: nothing
        assert await app_conn.fetchval(f"SELECT count(*) FROM {table}") == 0, table  # noqa: S608


async def test_catalog_forces_rls_and_the_app_role_is_unprivileged(
    app_conn: asyncpg.Connection,
) -> None:
    tables = await app_conn.fetch(
        """SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
                  pg_get_userbyid(c.relowner) AS owner
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')"""
    )
    assert set(TABLES) <= {t["relname"] for t in tables}
    unprotected = [
        t["relname"]
        for t in tables
        if t["relname"] != "alembic_version"
        and not (t["relrowsecurity"] and t["relforcerowsecurity"])
    ]
    assert not unprotected
    me = await app_conn.fetchrow(
        "SELECT rolname, rolbypassrls, rolsuper FROM pg_roles WHERE rolname = current_user"
    )
    assert (me["rolbypassrls"], me["rolsuper"]) == (False, False)
    assert all(t["owner"] != me["rolname"] for t in tables)
    policies = await app_conn.fetch(
        """SELECT c.relname, p.polname, p.polqual IS NOT NULL AS has_using,
                  p.polwithcheck IS NOT NULL AS has_check, p.polcmd::text AS polcmd,
                  array(SELECT pg_get_userbyid(r) FROM unnest(p.polroles) r) AS roles
           FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid"""
    )
    for p in policies:
        if p["polname"] == "tenant_isolation":
            assert p["has_using"], p["relname"]
            assert p["has_check"], p["relname"]
        else:  # the worker's policies: only for the owner, never for the app role
            assert p["polname"] in ("outbox_relay", "scheduler")
            assert p["roles"] == ["dojos_owner"]
            assert p["polname"] != "scheduler" or p["polcmd"] == "r"  # SELECT only
