"""Login rate limits: per account and per client address, answered with 429 and Retry-After."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from platform_api.identity.app import create_app
from platform_api.identity.settings import IdentitySettings
from tests.harness.asgi import serve

from .conftest import PASSWORD, SignUp

PER_ACCOUNT = 3
PER_ADDRESS = 5


@pytest.fixture
def tight_settings(identity_settings: IdentitySettings) -> IdentitySettings:
    """Tight login budgets in a key space of their own (a fresh prefix per test)."""
    return identity_settings.model_copy(
        update={
            "login_rate_per_account": f"{PER_ACCOUNT}/minute",
            "login_rate_per_address": f"{PER_ADDRESS}/minute",
            "rate_limit_prefix": f"{identity_settings.rate_limit_prefix}-tight-{uuid.uuid4().hex[:8]}",
        }
    )


@asynccontextmanager
async def from_address(settings: IdentitySettings, host: str) -> AsyncIterator[httpx.AsyncClient]:
    """The tight app as seen from ``host``; every instance shares the limits through Redis."""
    async with serve(create_app(settings), client_host=host) as client:
        yield client


async def _login(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/login", json={"email": email, "password": password})


def assert_limited(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 429
    retry_after = response.headers["retry-after"]
    assert retry_after.isdigit(), retry_after
    assert 0 < int(retry_after) <= 60


async def test_per_address_limit_spans_accounts_and_spares_other_addresses(
    tight_settings: IdentitySettings, sign_up: SignUp
) -> None:
    account = await sign_up()
    async with from_address(tight_settings, "10.1.1.1") as here:
        # Different e-mails each time, so that only the address budget is being spent.
        for _ in range(PER_ADDRESS):
            failed = await _login(
                here, f"nobody-{uuid.uuid4().hex[:8]}@example.com", "wrong-password"
            )
            assert failed.status_code == 401
        assert_limited(await _login(here, f"nobody-{uuid.uuid4().hex[:8]}@example.com", "x"))
        # Even a correct login from this address waits.
        assert_limited(await _login(here, account.email, PASSWORD))
    async with from_address(tight_settings, "10.9.9.9") as there:
        ok = await _login(there, account.email, PASSWORD)
        assert ok.status_code == 200, ok.text


async def test_per_account_limit_blocks_even_the_right_password(
    tight_settings: IdentitySettings, sign_up: SignUp
) -> None:
    account, bystander = await sign_up(), await sign_up()
    async with from_address(tight_settings, "10.2.2.1") as here:
        for _ in range(PER_ACCOUNT):
            assert (await _login(here, account.email, "wrong-password")).status_code == 401
        assert_limited(await _login(here, account.email, PASSWORD))
        # The address still has budget left: another account logs in from it.
        assert (await _login(here, bystander.email, PASSWORD)).status_code == 200
    # The account budget follows the account to another address, and any letter case.
    async with from_address(tight_settings, "10.2.2.2") as there:
        assert_limited(await _login(there, account.email, PASSWORD))
        assert_limited(await _login(there, account.email.upper(), PASSWORD))


async def test_successful_logins_count_too(
    tight_settings: IdentitySettings, sign_up: SignUp
) -> None:
    account = await sign_up()
    async with from_address(tight_settings, "10.3.3.3") as here:
        for _ in range(PER_ACCOUNT):
            assert (await _login(here, account.email, PASSWORD)).status_code == 200
        assert_limited(await _login(here, account.email, PASSWORD))


async def test_limits_are_per_prefix(
    tight_settings: IdentitySettings, identity_settings: IdentitySettings, sign_up: SignUp
) -> None:
    """A limited account in one key space is untouched in another (tests do not leak)."""
    account = await sign_up()
    async with from_address(tight_settings, "10.4.4.4") as here:
        for _ in range(PER_ACCOUNT):
            await _login(here, account.email, "wrong-password")
        assert_limited(await _login(here, account.email, PASSWORD))
    other = tight_settings.model_copy(
        update={"rate_limit_prefix": f"{identity_settings.rate_limit_prefix}-{uuid.uuid4().hex}"}
    )
    async with from_address(other, "10.4.4.4") as fresh:
        assert (await _login(fresh, account.email, PASSWORD)).status_code == 200


async def test_password_checks_behind_an_access_token_are_limited_per_account(
    tight_settings: IdentitySettings, sign_up: SignUp
) -> None:
    """A stolen access token must not buy unlimited guesses of the password behind it: a
    password change, an account deletion and an organization deletion share one budget per
    account."""
    account, bystander = await sign_up(), await sign_up()
    async with from_address(tight_settings, "10.4.4.1") as here:
        for attempt in range(PER_ACCOUNT):
            path, body = (
                ("/me/delete", {"password": "wrong-password"})
                if attempt % 2
                else (
                    "/me/password",
                    {"current_password": "wrong-password", "new_password": "a long new password"},
                )
            )
            assert (await here.post(path, json=body, headers=account.auth)).status_code == 403
        # Over budget, even the right password waits, and nothing changes.
        right = {"current_password": PASSWORD, "new_password": "a long new password"}
        assert_limited(await here.post("/me/password", json=right, headers=account.auth))
        assert_limited(
            await here.post("/me/delete", json={"password": PASSWORD}, headers=account.auth)
        )
        whole = {"password": PASSWORD, "organization": "whatever it is called"}
        assert_limited(await here.post("/tenant/delete", json=whole, headers=account.auth))
        assert (await _login(here, account.email, PASSWORD)).status_code == 200
        # Another account's budget is its own.
        other = await here.post("/me/password", json=right, headers=bystander.auth)
        assert other.status_code == 200, other.text
