"""Sign-up, login, token rotation, logout and password change against the real database."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import httpx
import jwt
import pytest

from platform_api.identity import store
from platform_api.identity.app import create_app
from platform_api.identity.settings import IdentitySettings
from tests.harness.asgi import serve

from .conftest import PASSWORD, SignUp


async def test_sign_up_creates_tenant_and_owner(
    identity: httpx.AsyncClient, sign_up: SignUp
) -> None:
    account = await sign_up("Mr Bill Labs")
    me = await identity.get("/me", headers=account.auth)
    assert me.status_code == 200
    body = me.json()
    assert body["user"]["role"] == "owner"
    assert body["tenant"]["name"] == "Mr Bill Labs"
    assert body["tenant"]["slug"].startswith("mr-bill-labs")
    claims = jwt.decode(account.access_token, options={"verify_signature": False})
    assert {"sub", "tenant", "roles", "aud", "iss", "exp", "iat", "jti", "nbf"} <= set(claims)
    assert claims["exp"] - claims["iat"] == 900
    assert jwt.get_unverified_header(account.access_token)["alg"] == "EdDSA"


async def test_same_organization_name_gets_distinct_slugs(
    sign_up: SignUp, identity: httpx.AsyncClient
) -> None:
    a = await sign_up("Twin Corp")
    b = await sign_up("Twin Corp")
    slug_a = (await identity.get("/me", headers=a.auth)).json()["tenant"]["slug"]
    slug_b = (await identity.get("/me", headers=b.auth)).json()["tenant"]["slug"]
    assert slug_a != slug_b


async def test_login_with_wrong_password_or_unknown_email_is_generic(
    identity: httpx.AsyncClient, sign_up: SignUp
) -> None:
    account = await sign_up()
    wrong = await identity.post(
        "/login", json={"email": account.email, "password": "nope-nope-nope"}
    )
    unknown = await identity.post(
        "/login", json={"email": "ghost@example.com", "password": "whatever1234"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"] == "Invalid email or password"
    assert wrong.headers["content-type"] == "application/problem+json"


async def test_login_is_case_insensitive_on_email(
    identity: httpx.AsyncClient, sign_up: SignUp
) -> None:
    account = await sign_up()
    response = await identity.post(
        "/login", json={"email": account.email.upper(), "password": PASSWORD}
    )
    assert response.status_code == 200
    assert response.cookies.get("mrbill_refresh")


async def test_refresh_rotates_and_reuse_revokes_family(
    identity_settings: IdentitySettings, sign_up: SignUp
) -> None:
    strict = identity_settings.model_copy(update={"refresh_reuse_grace_seconds": 0})
    async with serve(create_app(strict)) as identity:
        account = await sign_up()
        refresh = {"refresh_token": account.refresh_token}
        first = await identity.post("/token/refresh", json=refresh)
        assert first.status_code == 200
        second_token = first.json()["refresh_token"]
        assert second_token != account.refresh_token
        # The old token again: reuse. The whole family dies, including the newest token.
        reused = await identity.post("/token/refresh", json=refresh)
        assert reused.status_code == 401
        assert "reuse" in reused.json()["detail"]
        after = await identity.post("/token/refresh", json={"refresh_token": second_token})
        assert after.status_code == 401


async def test_a_token_used_moments_ago_is_a_race_not_a_theft(
    identity: httpx.AsyncClient, sign_up: SignUp
) -> None:
    """Two tabs refreshing together, or a reload while a refresh was in flight: the same
    client presents a token it has just used. It gets a new one; nothing is revoked."""
    account = await sign_up()
    refresh = {"refresh_token": account.refresh_token}
    first, again = [await identity.post("/token/refresh", json=refresh) for _ in range(2)]
    assert first.status_code == again.status_code == 200
    tokens = {first.json()["refresh_token"], again.json()["refresh_token"]}
    assert len(tokens) == 2
    for token in tokens:  # both successors live on, each once
        assert (await identity.post("/token/refresh", json={"refresh_token": token})).is_success
    # After logging out, the used token is refused even within the grace period.
    assert (await identity.post("/token/logout", json=refresh)).status_code == 204
    late = await identity.post("/token/refresh", json=refresh)
    assert late.status_code == 401


async def test_refresh_with_cookie(identity: httpx.AsyncClient, sign_up: SignUp) -> None:
    account = await sign_up()
    response = await identity.post(
        "/token/refresh", json={}, headers={"Cookie": f"mrbill_refresh={account.refresh_token}"}
    )
    assert response.status_code == 200


async def test_browsers_get_the_refresh_token_in_the_cookie_only(
    identity: httpx.AsyncClient, sign_up: SignUp
) -> None:
    account = await sign_up()
    cookie_only = {"X-Token-Delivery": "cookie"}
    login = await identity.post(
        "/login", json={"email": account.email, "password": PASSWORD}, headers=cookie_only
    )
    assert login.status_code == 200
    assert login.json()["refresh_token"] is None
    cookie = login.cookies.get("mrbill_refresh")
    assert cookie
    refreshed = await identity.post(
        "/token/refresh", json={}, headers={**cookie_only, "Cookie": f"mrbill_refresh={cookie}"}
    )
    assert refreshed.status_code == 200
    assert refreshed.json()["refresh_token"] is None
    assert refreshed.json()["access_token"]
    assert refreshed.cookies.get("mrbill_refresh") not in (None, cookie)


async def test_refresh_token_with_forged_tenant_is_refused(
    identity: httpx.AsyncClient, sign_up: SignUp
) -> None:
    a, b = await sign_up(), await sign_up()
    _, secret = a.refresh_token.split(".", 1)
    forged = f"{b.tenant_id.replace('-', '')}.{secret}"
    response = await identity.post("/token/refresh", json={"refresh_token": forged})
    assert response.status_code == 401


async def test_a_refresh_in_flight_during_a_password_change_does_not_outlive_it(
    identity: httpx.AsyncClient, sign_up: SignUp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refresh that has locked its token and is about to insert the new one while the
    password changes: the change must revoke that new token too. The refresh is held before
    its insert until the change is revoking tokens (or a second passed, when the change
    waits for the refresh instead, as it should)."""
    account = await sign_up()
    insert = store.insert_refresh_token
    holding, revoking = asyncio.Event(), asyncio.Event()
    revoke = store.revoke_user_tokens

    async def held_insert(*args: Any, **kwargs: Any) -> Any:
        holding.set()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(1.0):
                await revoking.wait()
        return await insert(*args, **kwargs)

    async def signalled_revoke(*args: Any, **kwargs: Any) -> Any:
        revoking.set()
        return await revoke(*args, **kwargs)

    monkeypatch.setattr(store, "insert_refresh_token", held_insert)
    monkeypatch.setattr(store, "revoke_user_tokens", signalled_revoke)
    refreshing = asyncio.create_task(
        identity.post("/token/refresh", json={"refresh_token": account.refresh_token})
    )
    await holding.wait()
    changed = await identity.post(
        "/me/password",
        json={"current_password": PASSWORD, "new_password": "another long password"},
        headers=account.auth,
    )
    refreshed = await refreshing
    monkeypatch.undo()
    assert changed.status_code == 200, changed.text
    assert refreshed.status_code == 200, refreshed.text
    late = refreshed.json()["refresh_token"]
    assert (await identity.post("/token/refresh", json={"refresh_token": late})).status_code == 401
    kept = changed.json()["refresh_token"]
    assert (await identity.post("/token/refresh", json={"refresh_token": kept})).status_code == 200


async def test_logout_revokes_refresh(identity: httpx.AsyncClient, sign_up: SignUp) -> None:
    account = await sign_up()
    assert (
        await identity.post("/token/logout", json={"refresh_token": account.refresh_token})
    ).status_code == 204
    response = await identity.post("/token/refresh", json={"refresh_token": account.refresh_token})
    assert response.status_code == 401


async def test_password_change_revokes_sessions_and_new_password_works(
    identity: httpx.AsyncClient, sign_up: SignUp
) -> None:
    account = await sign_up()
    bad = await identity.post(
        "/me/password",
        json={"current_password": "not-my-password", "new_password": "another long password"},
        headers=account.auth,
    )
    assert bad.status_code == 403
    ok = await identity.post(
        "/me/password",
        json={"current_password": PASSWORD, "new_password": "another long password"},
        headers=account.auth,
    )
    # The client that changed it stays signed in: a new session comes back, the old is gone.
    assert ok.status_code == 200, ok.text
    fresh = ok.json()
    assert (await identity.get("/me", headers=_bearer(fresh["access_token"]))).status_code == 200
    assert (
        await identity.post("/token/refresh", json={"refresh_token": account.refresh_token})
    ).status_code == 401
    assert (
        await identity.post("/token/refresh", json={"refresh_token": fresh["refresh_token"]})
    ).status_code == 200
    assert (
        await identity.post("/login", json={"email": account.email, "password": PASSWORD})
    ).status_code == 401
    relogin = await identity.post(
        "/login", json={"email": account.email, "password": "another long password"}
    )
    assert relogin.status_code == 200


async def test_jwks_publishes_the_signing_key(identity: httpx.AsyncClient, sign_up: SignUp) -> None:
    account = await sign_up()
    keys = (await identity.get("/.well-known/jwks.json")).json()["keys"]
    kid = jwt.get_unverified_header(account.access_token)["kid"]
    key = next(k for k in keys if k["kid"] == kid)
    claims = jwt.decode(
        account.access_token,
        jwt.PyJWK.from_dict(key),
        algorithms=["EdDSA"],
        audience="mrbill-api",
    )
    assert claims["tenant"] == account.tenant_id


async def test_same_email_in_two_tenants_logs_into_the_right_one(
    identity: httpx.AsyncClient, sign_up: SignUp
) -> None:
    shared = "shared-person@example.com"
    a = await sign_up(email=shared)
    b = await sign_up(email=shared, password="a different password")
    login_b = await identity.post(
        "/login", json={"email": shared, "password": "a different password"}
    )
    assert login_b.status_code == 200
    claims = jwt.decode(login_b.json()["access_token"], options={"verify_signature": False})
    assert claims["tenant"] == b.tenant_id
    pinned = await identity.post(
        "/login", json={"email": shared, "password": PASSWORD, "tenant_id": a.tenant_id}
    )
    assert pinned.status_code == 200


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
