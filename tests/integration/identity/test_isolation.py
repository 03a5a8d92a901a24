"""Tenant isolation: over HTTP (every id-bearing endpoint), in SQL (RLS) and under concurrency."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import httpx
import pytest

from platform_api.identity.app import create_app
from platform_api.identity.settings import IdentitySettings
from platform_api.kernel.provision import ServiceDatabase
from tests.harness.asgi import serve
from tests.harness.cross_tenant import Probe, assert_all_not_found

from .conftest import PASSWORD, Account, SignUp

InviteMember = Callable[..., Awaitable[Account]]

IDENTITY_PROBES = [
    Probe("GET", "/users/{user_id}"),
    Probe("POST", "/users/{user_id}/deactivate"),
    Probe("POST", "/users/{user_id}/reactivate"),
    Probe("PUT", "/users/{user_id}/role", json={"role": "member"}),
    Probe("PUT", "/users/{user_id}/role", json={"role": "owner"}),
    Probe("DELETE", "/invitations/{invitation_id}"),
]


async def _pending_invitation(client: httpx.AsyncClient, owner: Account) -> str:
    body = {"email": f"pending-{uuid.uuid4().hex[:8]}@example.com", "role": "member"}
    response = await client.post("/invitations", json=body, headers=owner.auth)
    assert response.status_code == 201, response.text
    return str(response.json()["invitation_id"])


async def test_tenant_b_cannot_reach_tenant_a_by_id(
    identity: httpx.AsyncClient, sign_up: SignUp, invite_member: InviteMember
) -> None:
    a, b = await sign_up(), await sign_up()
    a_member = await invite_member(a)
    b_member = await invite_member(b)
    invitation_id = await _pending_invitation(identity, a)
    for target in (a.user_id, a_member.user_id):
        ids = {"user_id": target, "invitation_id": invitation_id}
        # B's owner may do all of this in B; B's member would get 403 there, never here.
        await assert_all_not_found(identity, IDENTITY_PROBES, ids, b.access_token)
        await assert_all_not_found(identity, IDENTITY_PROBES, ids, b_member.access_token)
    # Nothing changed in A: the member is active, still a member, the invitation pending.
    user = (await identity.get(f"/users/{a_member.user_id}", headers=a.auth)).json()
    assert (user["status"], user["role"]) == ("active", "member")
    pending = (await identity.get("/invitations", headers=a.auth)).json()["items"]
    assert [i["invitation_id"] for i in pending] == [invitation_id]
    # Positive control: the same probes inside A do not answer 404.
    own = await identity.get(f"/users/{a_member.user_id}", headers=a.auth)
    assert own.status_code == 200


async def test_user_lists_hold_only_the_callers_tenant(
    identity: httpx.AsyncClient, sign_up: SignUp, invite_member: InviteMember
) -> None:
    a, b = await sign_up(), await sign_up()
    a_ids = {a.user_id, (await invite_member(a)).user_id}
    b_ids = {b.user_id, (await invite_member(b)).user_id}
    for status in (None, "active", "deactivated"):
        params = {"status": status} if status else {}
        listed = (await identity.get("/users", params=params, headers=b.auth)).json()["items"]
        assert not {u["user_id"] for u in listed} & a_ids
        if status != "deactivated":
            assert {u["user_id"] for u in listed} == b_ids


# --- row-level security, straight in SQL as the application role ----------------------------


@pytest.fixture
async def app_conn(identity_db: ServiceDatabase) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(identity_db.app_dsn)
    try:
        yield conn
    finally:
        await conn.close()


async def _as_tenant(conn: asyncpg.Connection, tenant_id: str) -> None:
    await conn.execute("SELECT set_config('app.tenant_id', $1, true)", tenant_id)


async def test_rls_hides_and_protects_other_tenants_rows(
    app_conn: asyncpg.Connection, identity: httpx.AsyncClient, sign_up: SignUp
) -> None:
    a, b = await sign_up(), await sign_up()
    await _pending_invitation(identity, a)
    a_tenant, a_user = uuid.UUID(a.tenant_id), uuid.UUID(a.user_id)
    tables = ("tenants", "users", "refresh_tokens", "invitations")
    count_a = "SELECT count(*) FROM {} WHERE tenant_id = $1"
    async with app_conn.transaction():
        await _as_tenant(app_conn, a.tenant_id)
        for table in tables:  # positive control: A sees its own rows
            assert await app_conn.fetchval(count_a.format(table), a_tenant) >= 1, table
    async with app_conn.transaction():
        await _as_tenant(app_conn, b.tenant_id)
        for table in tables:
            assert await app_conn.fetchval(count_a.format(table), a_tenant) == 0, table
            everyone = await app_conn.fetch(f"SELECT tenant_id FROM {table}")  # noqa: S608
            assert {r["tenant_id"] for r in everyone} <= {uuid.UUID(b.tenant_id)}, table
        for table in tables:
            updated = await app_conn.execute(
                f"UPDATE {table} SET tenant_id = tenant_id WHERE tenant_id = $1",  # noqa: S608
                a_tenant,
            )
            assert updated == "UPDATE 0", table
        assert await app_conn.execute("DELETE FROM users WHERE user_id = $1", a_user) == "DELETE 0"
        assert (
            await app_conn.execute("DELETE FROM tenants WHERE tenant_id = $1", a_tenant)
            == "DELETE 0"
        )
        # Moving B's own row into A is refused by WITH CHECK, like inserting into A.
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            async with app_conn.transaction():
                await app_conn.execute(
                    "UPDATE users SET tenant_id = $1 WHERE user_id = $2",
                    a_tenant,
                    uuid.UUID(b.user_id),
                )
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await app_conn.execute(
                """INSERT INTO users (tenant_id, email, password_hash, full_name, role)
                   VALUES ($1, 'intruder@example.com', 'x', 'Intruder', 'owner')""",
                a_tenant,
            )
    # No tenant at all (also after a tenant transaction ended on this connection): no rows.
    for table in tables:
        assert await app_conn.fetchval(f"SELECT count(*) FROM {table}") == 0, table  # noqa: S608
    async with app_conn.transaction():
        await _as_tenant(app_conn, a.tenant_id)
        assert (
            await app_conn.fetchval("SELECT role FROM users WHERE user_id = $1", a_user) == "owner"
        )


async def test_catalog_forces_rls_everywhere_and_app_role_is_unprivileged(
    app_conn: asyncpg.Connection,
) -> None:
    tables = await app_conn.fetch(
        """SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
                  pg_get_userbyid(c.relowner) AS owner
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')"""
    )
    names = {t["relname"] for t in tables}
    assert {"tenants", "users", "refresh_tokens", "invitations", "login_directory"} <= names
    unprotected = [
        t["relname"]
        for t in tables
        if t["relname"] not in {"login_directory", "alembic_version"}
        and not (t["relrowsecurity"] and t["relforcerowsecurity"])
    ]
    assert not unprotected, f"tables without forced RLS: {unprotected}"
    me = await app_conn.fetchrow(
        "SELECT rolname, rolbypassrls, rolsuper FROM pg_roles WHERE rolname = current_user"
    )
    assert (me["rolbypassrls"], me["rolsuper"]) == (False, False)
    assert all(t["owner"] != me["rolname"] for t in tables)

    policies = await app_conn.fetch(
        """SELECT c.relname, p.polname, p.polqual IS NOT NULL AS has_using,
                  p.polwithcheck IS NOT NULL AS has_check, p.polcmd, p.polpermissive
           FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid"""
    )
    assert {p["relname"] for p in policies} >= names - {"login_directory", "alembic_version"}
    incomplete = [
        f"{p['relname']}.{p['polname']}"
        for p in policies
        if not (p["has_using"] and p["has_check"])
    ]
    assert not incomplete, f"policies without USING and WITH CHECK: {incomplete}"


# --- many tenants, few connections ------------------------------------------------------------


async def _login(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    response = await client.post("/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def test_concurrent_requests_on_a_tiny_pool_never_mix_tenants(
    identity_settings: IdentitySettings, sign_up: SignUp, invite_member: InviteMember
) -> None:
    tenants = []
    for _ in range(2):
        owner = await sign_up()
        members = [await invite_member(owner) for _ in range(3)]
        tenants.append((owner.tenant_id, [owner, *members]))
    settings = identity_settings.model_copy(update={"db_pool_max": 2, "db_pool_min": 1})
    app = create_app(settings)
    async with serve(app) as client:
        assert app.state.identity.pool.get_max_size() == 2
        # Tokens of this app's own (ephemeral) key: log everyone in through it.
        callers = [
            (tenant_id, {m.user_id for m in people}, m.user_id, await _login(client, m.email))
            for tenant_id, people in tenants
            for m in people
        ]

        async def check(i: int, caller: tuple[str, set[str], str, dict[str, str]]) -> None:
            tenant_id, expected_users, user_id, headers = caller
            if (i + i // len(callers)) % 2:  # every caller alternates between the two
                response = await client.get("/users", headers=headers)
                assert response.status_code == 200, response.text
                assert {u["user_id"] for u in response.json()["items"]} == expected_users
            else:
                response = await client.get("/me", headers=headers)
                assert response.status_code == 200, response.text
                body = response.json()
                assert (body["tenant"]["tenant_id"], body["user"]["user_id"]) == (
                    tenant_id,
                    user_id,
                )

        work = zip(range(200), itertools.cycle(callers), strict=False)
        await asyncio.gather(*(check(i, caller) for i, caller in work))
