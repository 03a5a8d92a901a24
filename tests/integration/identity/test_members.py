"""Members: invitations, listing, deactivation, roles, LGPD export and account deletion."""

from __future__ import annotations

import asyncio
import contextlib
import json
import unicodedata
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pyotp
import pytest

from platform_api.identity import store
from platform_api.identity.app import create_app
from platform_api.identity.settings import IdentitySettings
from platform_api.kernel.events import InMemoryBus
from platform_api.kernel.provision import ServiceDatabase
from tests.harness.asgi import serve
from tests.harness.databases import tenant_connection
from tests.harness.pagination import follow_pages, malformed_cursors
from tests.harness.polling import eventually

from .conftest import PASSWORD, Account, SignUp

InviteMember = Callable[..., Awaitable[Account]]


async def _invite(client: httpx.AsyncClient, who: Account, role: str = "member") -> httpx.Response:
    body = {"email": f"invitee-{uuid.uuid4().hex[:10]}@example.com", "role": role}
    return await client.post("/invitations", json=body, headers=who.auth)


async def _accept(client: httpx.AsyncClient, token: str) -> httpx.Response:
    body = {"token": token, "full_name": "New Person", "password": PASSWORD}
    return await client.post("/invitations/accept", json=body)


async def _set_role(
    client: httpx.AsyncClient, who: Account, target: Account, role: str
) -> httpx.Response:
    return await client.put(f"/users/{target.user_id}/role", json={"role": role}, headers=who.auth)


async def _delete_me(
    client: httpx.AsyncClient, who: Account, password: str = PASSWORD
) -> httpx.Response:
    return await client.post("/me/delete", json={"password": password}, headers=who.auth)


async def _login(client: httpx.AsyncClient, email: str) -> httpx.Response:
    return await client.post("/login", json={"email": email, "password": PASSWORD})


async def _users(client: httpx.AsyncClient, who: Account) -> list[dict[str, Any]]:
    response = await client.get("/users", headers=who.auth)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def assert_problem(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"


async def test_invitation_accept_creates_user_with_role_once(
    identity: httpx.AsyncClient, sign_up: SignUp
) -> None:
    owner = await sign_up()
    created = await _invite(identity, owner, "admin")
    assert created.status_code == 201, created.text
    token = created.json()["token"]
    assert created.json()["accept_url"].endswith(token)
    accepted = await _accept(identity, token)
    assert accepted.status_code == 201, accepted.text
    user = accepted.json()["user"]
    assert (user["email"], user["role"]) == (created.json()["email"], "admin")
    me = await identity.get(
        "/me", headers={"Authorization": f"Bearer {accepted.json()['tokens']['access_token']}"}
    )
    assert me.json()["tenant"]["tenant_id"] == owner.tenant_id
    assert_problem(await _accept(identity, token), 404)
    # Signing up and accepting both log in: neither shows as "never logged in".
    listed = {u["user_id"]: u for u in await _users(identity, owner)}
    assert listed[user["user_id"]]["last_login_at"] is not None
    assert listed[owner.user_id]["last_login_at"] is not None


async def test_who_may_invite(
    identity: httpx.AsyncClient, sign_up: SignUp, invite_member: InviteMember
) -> None:
    owner = await sign_up()
    member = await invite_member(owner, "member")
    admin = await invite_member(owner, "admin")
    assert_problem(await _invite(identity, member, "member"), 403)
    assert_problem(await _invite(identity, admin, "admin"), 403)
    # Who was invited, and as what, is for those who manage invitations.
    assert_problem(await identity.get("/invitations", headers=member.auth), 403)
    assert (await identity.get("/invitations", headers=admin.auth)).status_code == 200
    assert (await _invite(identity, admin, "member")).status_code == 201
    existing = {"email": member.email, "role": "member"}
    assert_problem(await identity.post("/invitations", json=existing, headers=owner.auth), 409)


async def test_revoked_invitation_cannot_be_accepted(
    identity: httpx.AsyncClient, sign_up: SignUp
) -> None:
    owner = await sign_up()
    created = (await _invite(identity, owner)).json()
    revoked = await identity.delete(f"/invitations/{created['invitation_id']}", headers=owner.auth)
    assert revoked.status_code == 204
    assert_problem(await _accept(identity, created["token"]), 404)
    again = await identity.delete(f"/invitations/{created['invitation_id']}", headers=owner.auth)
    assert_problem(again, 409)


async def test_pending_invitations_paginate_with_cursor(
    identity: httpx.AsyncClient, sign_up: SignUp
) -> None:
    owner = await sign_up()
    made = [(await _invite(identity, owner)).json() for _ in range(5)]
    assert (await _accept(identity, made[0]["token"])).status_code == 201  # no longer pending
    pages = await follow_pages(identity, "/invitations", owner.auth, "invitation_id")
    assert [len(p) for p in pages] == [2, 2]
    listed = [i for page in pages for i in page]
    assert listed == [m["invitation_id"] for m in reversed(made[1:])]  # newest first, no repeats


async def test_malformed_cursors_are_a_400(identity: httpx.AsyncClient, sign_up: SignUp) -> None:
    owner = await sign_up()
    failures = []
    for path, key in (("/users", "user_id"), ("/invitations", "invitation_id")):
        for cursor in malformed_cursors(key):
            response = await identity.get(path, params={"cursor": cursor}, headers=owner.auth)
            problem = response.headers["content-type"] == "application/problem+json"
            if response.status_code != 400 or not problem:
                failures.append(f"{path} {cursor} -> {response.status_code}")
    assert not failures, "\n".join(failures)


async def test_users_paginate_with_cursor(
    identity: httpx.AsyncClient, sign_up: SignUp, invite_member: InviteMember
) -> None:
    owner = await sign_up()
    members = [await invite_member(owner) for _ in range(4)]
    pages = await follow_pages(identity, "/users", owner.auth, "user_id")
    assert [len(p) for p in pages] == [2, 2, 1]
    listed = [i for page in pages for i in page]
    assert listed == [m.user_id for m in reversed(members)] + [owner.user_id]


async def test_deactivation_revokes_sessions_and_blocks_login(
    identity: httpx.AsyncClient, sign_up: SignUp, invite_member: InviteMember
) -> None:
    owner = await sign_up()
    member, other = await invite_member(owner), await invite_member(owner)
    admin = await invite_member(owner, "admin")
    for who, target, status in ((member, other, 403), (admin, owner, 403), (owner, owner, 409)):
        response = await identity.post(f"/users/{target.user_id}/deactivate", headers=who.auth)
        assert_problem(response, status)
    done = await identity.post(f"/users/{member.user_id}/deactivate", headers=owner.auth)
    assert done.status_code == 200
    assert done.json()["status"] == "deactivated"
    refreshed = await identity.post("/token/refresh", json={"refresh_token": member.refresh_token})
    assert_problem(refreshed, 401)
    login = await _login(identity, member.email)
    assert_problem(login, 401)
    assert login.json()["detail"] == "Invalid email or password"
    listed = await identity.get("/users", params={"status": "deactivated"}, headers=owner.auth)
    assert [u["user_id"] for u in listed.json()["items"]] == [member.user_id]

    back = await identity.post(f"/users/{member.user_id}/reactivate", headers=owner.auth)
    assert back.status_code == 200
    assert back.json()["status"] == "active"
    assert (await _login(identity, member.email)).status_code == 200


async def test_role_changes_are_for_owners_and_keep_one_owner(
    identity: httpx.AsyncClient, sign_up: SignUp, invite_member: InviteMember
) -> None:
    owner = await sign_up()
    admin, member = await invite_member(owner, "admin"), await invite_member(owner)
    assert_problem(await _set_role(identity, admin, member, "admin"), 403)
    assert_problem(await _set_role(identity, member, member, "owner"), 403)
    assert_problem(await _set_role(identity, owner, owner, "member"), 409)
    promoted = await _set_role(identity, owner, member, "owner")
    assert promoted.status_code == 200
    assert promoted.json()["role"] == "owner"
    # With a second owner the first may step down.
    stepped = await _set_role(identity, owner, owner, "admin")
    assert stepped.status_code == 200
    assert stepped.json()["role"] == "admin"
    roles = {u["user_id"]: u["role"] for u in (await _users(identity, admin))}
    assert roles == {owner.user_id: "admin", admin.user_id: "admin", member.user_id: "owner"}


async def test_export_contains_my_data_as_an_attachment(
    identity: httpx.AsyncClient, sign_up: SignUp
) -> None:
    owner = await sign_up()
    assert (await _login(identity, owner.email)).status_code == 200  # a second session
    response = await identity.get("/me/export", headers=owner.auth)
    assert response.status_code == 200
    assert response.headers["content-disposition"].startswith("attachment")
    data = response.json()
    assert data["user"]["email"] == owner.email
    assert data["organization"]["tenant_id"] == owner.tenant_id
    assert len(data["sessions"]) == 2
    assert "password_hash" not in response.text
    assert "token_hash" not in response.text


async def _nothing_left_but_events(
    identity_db: ServiceDatabase, tenant_id: str
) -> list[asyncpg.Record]:
    """Check that the organization has no tenant, user, invitation or log-in row left, and
    return its outbox rows (type, body, delay), oldest first."""
    async with tenant_connection(identity_db.app_dsn, tenant_id) as conn:
        for table in ("tenants", "users", "invitations"):
            assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 0, table  # noqa: S608
        left = "SELECT count(*) FROM login_directory WHERE tenant_id = $1"
        assert await conn.fetchval(left, uuid.UUID(tenant_id)) == 0
        return list(
            await conn.fetch(
                """SELECT type, body, deliver_after - created_at AS delay
                   FROM outbox ORDER BY id"""
            )
        )


async def test_account_deletion(
    identity: httpx.AsyncClient,
    sign_up: SignUp,
    invite_member: InviteMember,
    identity_db: ServiceDatabase,
) -> None:
    owner = await sign_up()
    member = await invite_member(owner)
    assert_problem(await _delete_me(identity, member, "not my password"), 403)
    assert (await _delete_me(identity, member)).status_code == 204
    assert_problem(await _login(identity, member.email), 401)
    assert_problem(await identity.get("/me", headers=member.auth), 404)

    other = await invite_member(owner)
    assert_problem(await _delete_me(identity, owner), 409)
    assert (await _delete_me(identity, other)).status_code == 204
    # Now the owner is the only user: deleting the account closes the organization.
    assert (await _delete_me(identity, owner)).status_code == 204
    assert_problem(await _login(identity, owner.email), 401)
    assert_problem(await identity.get("/me", headers=owner.auth), 404)
    # Nothing of the organization is left but the events of its deletions, for the other
    # services to erase: the departed members, then the organization.
    rows = await _nothing_left_but_events(identity_db, owner.tenant_id)
    bodies = [json.loads(r["body"]) for r in rows]  # (a bare connection: jsonb as text)
    # Each twice: now, and once the access tokens of before have expired (15 min + 1).
    sweep = timedelta(minutes=16)
    assert [
        (r["type"], b["aggregate_id"], r["delay"]) for r, b in zip(rows, bodies, strict=True)
    ] == [
        ("identity.user.deleted", member.user_id, None),
        ("identity.user.deleted", member.user_id, sweep),
        ("identity.user.deleted", other.user_id, None),
        ("identity.user.deleted", other.user_id, sweep),
        ("identity.tenant.deleted", owner.tenant_id, None),
        ("identity.tenant.deleted", owner.tenant_id, sweep),
    ]
    assert len({b["id"] for b in bodies}) == 6
    assert {b["tenant_id"] for b in bodies} == {owner.tenant_id}


async def _delete_organization(
    client: httpx.AsyncClient, who: Account, name: str, password: str = PASSWORD
) -> httpx.Response:
    body = {"password": password, "organization": name}
    return await client.post("/tenant/delete", json=body, headers=who.auth)


async def test_an_owner_deletes_the_organization(
    identity: httpx.AsyncClient,
    sign_up: SignUp,
    invite_member: InviteMember,
    identity_db: ServiceDatabase,
) -> None:
    """The way out for an owner whose colleagues are all deactivated (whom no one can make an
    owner), or who closes the organization for everyone: every account goes, deactivated ones
    too, and every other service is told to erase it."""
    owner = await sign_up()
    name = (await identity.get("/me", headers=owner.auth)).json()["tenant"]["name"]
    member = await invite_member(owner)
    gone = await invite_member(owner)
    deactivated = await identity.post(f"/users/{gone.user_id}/deactivate", headers=owner.auth)
    assert deactivated.status_code == 200
    # Deleting the owner's account alone is refused: a member is left to hand over to.
    assert_problem(await _delete_me(identity, owner), 409)

    refused = await _delete_organization(identity, member, name)  # not an owner
    assert_problem(refused, 403)
    assert refused.json()["type"] == "https://mrbill.dev/problems/not-an-owner"
    assert_problem(await _delete_organization(identity, owner, name, "not it"), 403)
    mismatch = await _delete_organization(identity, owner, name + " Ltda")
    assert_problem(mismatch, 422)
    assert mismatch.json()["type"] == "https://mrbill.dev/problems/confirmation-mismatch"
    # Typed as a reader sees it: any case, spaces collapsed, letters however encoded.
    typed = unicodedata.normalize("NFD", "  " + name.upper().replace(" ", "   ") + " ")
    assert (await _delete_organization(identity, owner, typed)).status_code == 204

    for person in (owner, member, gone):
        assert_problem(await _login(identity, person.email), 401)
    assert_problem(await identity.get("/me", headers=member.auth), 404)
    rows = await _nothing_left_but_events(identity_db, owner.tenant_id)
    assert [(r["type"], r["delay"]) for r in rows] == [
        ("identity.tenant.deleted", None),
        ("identity.tenant.deleted", timedelta(minutes=16)),
    ]


async def test_an_owner_demoted_or_deactivated_cannot_delete_the_organization(
    identity: httpx.AsyncClient, sign_up: SignUp, invite_member: InviteMember
) -> None:
    """The role as it is now decides, not the one an access token still carries."""
    owner = await sign_up()
    name = (await identity.get("/me", headers=owner.auth)).json()["tenant"]["name"]
    partner = await invite_member(owner)
    assert (await _set_role(identity, owner, partner, "owner")).status_code == 200
    # The partner, now an owner, demotes the first; its token still says owner.
    assert (await _set_role(identity, partner, owner, "admin")).status_code == 200
    refused = await _delete_organization(identity, owner, name)
    assert_problem(refused, 403)
    assert refused.json()["type"] == "https://mrbill.dev/problems/not-an-owner"
    # Promoted back, then deactivated: told so.
    assert (await _set_role(identity, partner, owner, "owner")).status_code == 200
    assert (
        await identity.post(f"/users/{owner.user_id}/deactivate", headers=partner.auth)
    ).status_code == 200
    refused = await _delete_organization(identity, owner, name)
    assert_problem(refused, 403)
    assert refused.json()["type"] == "https://mrbill.dev/problems/account-deactivated"
    assert (await identity.get("/me", headers=partner.auth)).status_code == 200


async def test_an_invitation_accepted_while_the_organization_is_deleted(
    identity: httpx.AsyncClient, sign_up: SignUp, identity_db: ServiceDatabase
) -> None:
    """Accepting locks the invitation and then needs the organization's row; deleting
    takes the organization's row and then needs the invitation's. Both take the membership
    lock first, so one waits for the other instead of each for the other: here the deletion
    comes first and the invitation is gone when the acceptance goes on."""
    owner = await sign_up()
    name = (await identity.get("/me", headers=owner.auth)).json()["tenant"]["name"]
    token = (await _invite(identity, owner)).json()["token"]
    holder = await asyncpg.connect(identity_db.app_dsn)
    try:
        held = holder.transaction()
        await held.start()
        await holder.execute("SELECT set_config('app.tenant_id', $1, true)", owner.tenant_id)
        await holder.execute(
            "SELECT 1 FROM tenants WHERE tenant_id = $1 FOR UPDATE", uuid.UUID(owner.tenant_id)
        )
        deleting = asyncio.create_task(_delete_organization(identity, owner, name))
        await asyncio.sleep(0.3)  # waits for the organization's row
        accepting = asyncio.create_task(_accept(identity, token))
        await asyncio.sleep(0.3)  # waits too (without the membership lock: on the row, the
        await held.rollback()  # invitation locked, and the deletion would then wait on it)
        deleted, accepted = await asyncio.gather(deleting, accepting)
    finally:
        await holder.close()
    assert deleted.status_code == 204, deleted.text
    assert_problem(accepted, 404)


async def test_deleting_the_organization_is_said_in_portuguese(
    identity: httpx.AsyncClient, sign_up: SignUp
) -> None:
    owner = await sign_up()
    response = await identity.post(
        "/tenant/delete",
        json={"password": PASSWORD, "organization": "Some other name"},
        headers={**owner.auth, "Accept-Language": "pt-BR"},
    )
    assert_problem(response, 422)
    assert response.json()["detail"] == (
        "Digite o nome da organização exatamente como ele é para confirmar"
    )
    assert (await identity.get("/me", headers=owner.auth)).status_code == 200  # nothing gone


async def test_the_relay_publishes_deletions(
    identity_settings: IdentitySettings, identity_db: ServiceDatabase, sign_up: SignUp
) -> None:
    """With its owner's DSN, the identity process relays its outbox to the bus."""
    bus = InMemoryBus(topics=["identity"])
    settings = identity_settings.model_copy(
        update={"migrations_database_url": identity_db.owner_dsn}
    )
    owner = await sign_up()
    async with serve(create_app(settings, publisher=bus)) as relaying:
        assert (await _delete_me(relaying, owner)).status_code == 204
        deliveries = await eventually(
            lambda: bus.receive(max_messages=1000, wait_seconds=0.2),
            lambda got: any(d.event.tenant_id == uuid.UUID(owner.tenant_id) for d in got),
            what="the deletion relayed",
        )
    mine = [d.event for d in deliveries if d.event.tenant_id == uuid.UUID(owner.tenant_id)]
    assert [(e.type, e.aggregate_id, e.payload) for e in mine] == [
        (
            "identity.tenant.deleted",
            uuid.UUID(owner.tenant_id),
            {"tenant_id": owner.tenant_id},
        )
    ]


async def test_a_stale_token_carries_no_lost_powers(
    identity: httpx.AsyncClient, sign_up: SignUp, invite_member: InviteMember
) -> None:
    """Access tokens live for minutes after a demotion or a deactivation: member management
    goes by the role and status stored now, not by the token's claim."""
    owner = await sign_up()
    second = await invite_member(owner, "member")
    assert (await _set_role(identity, owner, second, "owner")).status_code == 200
    # ``second``'s token still says member, but they are an owner now.
    assert (await _invite(identity, second, "admin")).status_code == 201
    # And the first owner, demoted by the second, keeps an owner's token for minutes.
    assert (await _set_role(identity, second, owner, "member")).status_code == 200
    assert_problem(await _set_role(identity, owner, owner, "owner"), 403)
    assert_problem(await _set_role(identity, owner, second, "member"), 403)
    assert_problem(await _invite(identity, owner, "member"), 403)
    deactivated = await identity.post(f"/users/{owner.user_id}/deactivate", headers=second.auth)
    assert deactivated.status_code == 200, deactivated.text
    # A deactivated account's token buys no fresh session by changing the password.
    change = {"current_password": PASSWORD, "new_password": "a brand new password"}
    refused = await identity.post("/me/password", json=change, headers=owner.auth)
    assert_problem(refused, 403)
    assert refused.json()["type"] == "https://mrbill.dev/problems/account-deactivated"
    erase = await _delete_me(identity, owner)
    assert_problem(erase, 403)
    assert erase.json()["type"] == "https://mrbill.dev/problems/account-deactivated"
    relogin = await identity.post("/login", json={"email": owner.email, "password": PASSWORD})
    assert relogin.status_code == 401


async def test_a_deactivated_owner_can_be_demoted_by_the_only_active_one(
    identity: httpx.AsyncClient, sign_up: SignUp, invite_member: InviteMember
) -> None:
    owner = await sign_up()
    other = await invite_member(owner, "member")
    assert (await _set_role(identity, owner, other, "owner")).status_code == 200
    assert (
        await identity.post(f"/users/{other.user_id}/deactivate", headers=owner.auth)
    ).status_code == 200
    demoted = await _set_role(identity, owner, other, "member")
    assert demoted.status_code == 200, demoted.text
    assert demoted.json()["role"] == "member"
    # The only active owner still cannot step down.
    assert_problem(await _set_role(identity, owner, owner, "member"), 409)


@pytest.mark.parametrize("action", ["demote", "deactivate"])
async def test_two_owners_acting_on_each_other_at_once_leave_one_owner(
    identity: httpx.AsyncClient,
    sign_up: SignUp,
    invite_member: InviteMember,
    monkeypatch: pytest.MonkeyPatch,
    action: str,
) -> None:
    """Each of two owners demotes (or deactivates) the other at the same moment. Each request
    is held just before it writes until the other has got there too (or a second passed):
    without the tenant's membership lock both see the other as the owner who stays, and the
    organization is left with no active owner."""
    first = await sign_up()
    second = await invite_member(first, "member")
    assert (await _set_role(identity, first, second, "owner")).status_code == 200
    write = store.update_user
    arrived = 0
    both_there = asyncio.Event()

    async def held(*args: Any, **fields: Any) -> Any:
        nonlocal arrived
        arrived += 1
        if arrived == 2:
            both_there.set()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(1.0):
                await both_there.wait()
        return await write(*args, **fields)

    monkeypatch.setattr(store, "update_user", held)

    async def act(who: Account, target: Account) -> httpx.Response:
        if action == "demote":
            return await _set_role(identity, who, target, "member")
        return await identity.post(f"/users/{target.user_id}/deactivate", headers=who.auth)

    answers = await asyncio.gather(act(first, second), act(second, first))
    # The second to get the lock is no longer an owner, and is refused as such.
    assert sorted(a.status_code for a in answers) == [200, 403]
    monkeypatch.undo()
    owners = [
        u for u in await _users(identity, first) if u["role"] == "owner" and u["status"] == "active"
    ]
    assert len(owners) == 1


async def test_a_suspended_organization_gets_no_new_session(
    identity: httpx.AsyncClient, sign_up: SignUp, identity_db: ServiceDatabase
) -> None:
    """Log-in refuses a suspended organization; a refresh, a password change and turning
    two-step verification on, made with tokens issued before the suspension, must not hand
    out a session either."""
    owner = await sign_up()
    setup = await identity.post("/me/two-factor", json={"password": PASSWORD}, headers=owner.auth)
    assert setup.status_code == 200, setup.text
    async with tenant_connection(identity_db.owner_dsn, owner.tenant_id) as conn:
        suspend = "UPDATE tenants SET status = 'suspended' WHERE tenant_id = $1"
        assert await conn.execute(suspend, uuid.UUID(owner.tenant_id)) == "UPDATE 1"
    assert_problem(await _login(identity, owner.email), 401)
    refreshed = await identity.post("/token/refresh", json={"refresh_token": owner.refresh_token})
    assert_problem(refreshed, 401)
    change = {"current_password": PASSWORD, "new_password": "a brand new password"}
    assert_problem(await identity.post("/me/password", json=change, headers=owner.auth), 401)
    code = {"code": pyotp.TOTP(setup.json()["secret"]).now()}
    confirmed = await identity.post("/me/two-factor/confirm", json=code, headers=owner.auth)
    assert_problem(confirmed, 401)
