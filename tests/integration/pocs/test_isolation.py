"""Tenant isolation of the POC service: every endpoint over HTTP, and RLS in SQL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import httpx
import pytest

from platform_api.kernel.provision import ServiceDatabase
from tests.harness.cross_tenant import Probe, assert_all_not_found
from tests.harness.identity import Account, SignUp

from .conftest import MakePoc

InviteMember = Callable[..., Awaitable[Account]]

POC_PROBES = [
    Probe("GET", "/pocs/{poc_id}"),
    Probe("PATCH", "/pocs/{poc_id}", json={"name": "Hijacked"}, headers={"If-Match": "*"}),
    Probe("PATCH", "/pocs/{poc_id}", json={"visibility": "tenant"}, headers={"If-Match": '"1"'}),
    Probe("DELETE", "/pocs/{poc_id}"),
    Probe("DELETE", "/pocs/{poc_id}", headers={"If-Match": "*"}),
    Probe("POST", "/trash/{trashed_id}/restore"),
    Probe("GET", "/pocs/{trashed_id}"),
]


async def test_tenant_b_cannot_reach_tenant_a_pocs(
    pocs: httpx.AsyncClient, sign_up: SignUp, invite_member: InviteMember, make_poc: MakePoc
) -> None:
    a, b = await sign_up(), await sign_up()
    b_member = await invite_member(b)
    shared = await make_poc(a, name="A shared", visibility="tenant", tags=["secret-a"])
    private = await make_poc(a, name="A private")
    trashed = await make_poc(a, name="A trashed", visibility="tenant")
    await pocs.delete(f"/pocs/{trashed['poc_id']}", headers=a.auth)
    for target in (shared, private):
        ids = {"poc_id": target["poc_id"], "trashed_id": trashed["poc_id"]}
        await assert_all_not_found(pocs, POC_PROBES, ids, b.access_token)
        await assert_all_not_found(pocs, POC_PROBES, ids, b_member.access_token)
    # Nothing changed in A.
    still = await pocs.get(f"/pocs/{shared['poc_id']}", headers=a.auth)
    assert (still.status_code, still.json()["version"], still.json()["name"]) == (
        200,
        1,
        "A shared",
    )
    trash = (await pocs.get("/trash", headers=a.auth)).json()["items"]
    assert [t["poc_id"] for t in trash] == [trashed["poc_id"]]


async def test_lists_and_exports_hold_only_the_callers_tenant(
    pocs: httpx.AsyncClient, sign_up: SignUp, make_poc: MakePoc
) -> None:
    a, b = await sign_up(), await sign_up()
    await make_poc(a, name="A only", visibility="tenant", tags=["shared-tag"], language="Go")
    await make_poc(b, name="B only", visibility="tenant", tags=["shared-tag"], language="Go")
    for params in ({}, {"tag": "shared-tag"}, {"language": "go"}, {"scope": "mine"}, {"q": "only"}):
        listed = (await pocs.get("/pocs", params=params, headers=b.auth)).json()["items"]
        assert [p["name"] for p in listed] == ["B only"], params
    for fmt in ("csv", "json"):
        for scope in ("all", "mine"):
            exported = await pocs.get(
                "/pocs/export", params={"format": fmt, "scope": scope}, headers=b.auth
            )
            assert "A only" not in exported.text
            assert "B only" in exported.text
    assert (await pocs.get("/trash", headers=b.auth)).json()["items"] == []


async def test_internal_feed_needs_the_service_token(
    pocs: httpx.AsyncClient, sign_up: SignUp, make_poc: MakePoc
) -> None:
    a, b = await sign_up(), await sign_up()
    poc = await make_poc(a, name="Private of A")
    url = f"/internal/tenants/{a.tenant_id}/pocs"
    for headers in ({}, b.auth, a.auth, {"X-Service-Token": "guess"}):
        response = await pocs.get(url, headers=headers)
        assert response.status_code == 401, headers
    ok = await pocs.get(url, headers={"X-Service-Token": "development-only-service-token"})
    assert [p["poc_id"] for p in ok.json()["items"]] == [poc["poc_id"]]


# --- row-level security, straight in SQL as the application role ----------------------------


@pytest.fixture
async def app_conn(pocs_db: ServiceDatabase) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(pocs_db.app_dsn)
    yield conn
    await conn.close()


async def test_rls_hides_and_protects_other_tenants_rows(
    app_conn: asyncpg.Connection, sign_up: SignUp, make_poc: MakePoc, pocs: httpx.AsyncClient
) -> None:
    a, b = await sign_up(), await sign_up()
    poc = await make_poc(a, tags=["t"], frameworks=["f"], visibility="tenant")
    once = await pocs.post(
        "/pocs", json={"name": "Once"}, headers={**a.auth, "Idempotency-Key": "once"}
    )
    assert once.status_code == 201, once.text
    a_tenant, poc_id = uuid.UUID(a.tenant_id), uuid.UUID(poc["poc_id"])
    tables = ("pocs", "poc_tags", "poc_frameworks", "outbox", "idempotency_keys")
    async with app_conn.transaction():
        await app_conn.execute("SELECT set_config('app.tenant_id', $1, true)", a.tenant_id)
        for table in tables:
            count = f"SELECT count(*) FROM {table} WHERE tenant_id = $1"  # noqa: S608
            assert await app_conn.fetchval(count, a_tenant) >= 1, table
    async with app_conn.transaction():
        await app_conn.execute("SELECT set_config('app.tenant_id', $1, true)", b.tenant_id)
        for table in tables:
            rows = await app_conn.fetch(f"SELECT tenant_id FROM {table}")  # noqa: S608
            assert {r["tenant_id"] for r in rows} <= {uuid.UUID(b.tenant_id)}, table
            changed = await app_conn.execute(
                f"UPDATE {table} SET tenant_id = tenant_id WHERE tenant_id = $1",  # noqa: S608
                a_tenant,
            )
            assert changed == "UPDATE 0", table
        assert await app_conn.execute("DELETE FROM pocs WHERE poc_id = $1", poc_id) == "DELETE 0"
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await app_conn.execute(
                """INSERT INTO outbox (event_id, tenant_id, type, body)
                   VALUES (gen_random_uuid(), $1, 'poc.created', '{}')""",
                a_tenant,
            )
    for table in tables:  # no tenant set: nothing at all
        assert await app_conn.fetchval(f"SELECT count(*) FROM {table}") == 0, table  # noqa: S608


async def test_catalog_forces_rls_everywhere(app_conn: asyncpg.Connection) -> None:
    tables = await app_conn.fetch(
        """SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
                  pg_get_userbyid(c.relowner) AS owner
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')"""
    )
    names = {t["relname"] for t in tables} - {"alembic_version"}
    assert names == {"pocs", "poc_tags", "poc_frameworks", "outbox", "idempotency_keys"}
    assert all(
        t["relrowsecurity"] and t["relforcerowsecurity"] for t in tables if t["relname"] in names
    )
    me = await app_conn.fetchrow(
        "SELECT rolname, rolbypassrls, rolsuper FROM pg_roles WHERE rolname = current_user"
    )
    assert (me["rolbypassrls"], me["rolsuper"]) == (False, False)
    assert all(t["owner"] != me["rolname"] for t in tables)
    policies = await app_conn.fetch(
        """SELECT c.relname, p.polname, p.polqual IS NOT NULL AS has_using,
                  p.polwithcheck IS NOT NULL AS has_check,
                  ARRAY(SELECT pg_get_userbyid(r) FROM unnest(p.polroles) r) AS roles
           FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid"""
    )
    tenant = [p for p in policies if p["polname"] == "tenant_isolation"]
    assert {p["relname"] for p in tenant} == names
    assert all(p["has_using"] and p["has_check"] for p in tenant)
    # The other policies (relay, purge) are for the owner role only, never for the app role.
    others = [p for p in policies if p["polname"] != "tenant_isolation"]
    assert {p["polname"] for p in others} == {
        "outbox_relay",
        "purge_expired",
        "expire_idempotency_keys",
    }
    assert all(me["rolname"] not in p["roles"] and "public" not in p["roles"] for p in others)
