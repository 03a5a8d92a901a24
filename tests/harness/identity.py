"""Identity fixtures shared by every service's tests: a migrated identity database, the identity
app in-process, and factories for signed-up tenants and invited members with real tokens.

``tests/integration/conftest.py`` registers them; other services verify the tokens with
:func:`identity_keys` (the identity app's public JWKS).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
from pydantic import SecretStr

from platform_api.identity.app import create_app
from platform_api.identity.settings import IdentitySettings
from platform_api.kernel import KeySet
from platform_api.kernel.keys import generate_private_key_pem
from platform_api.kernel.provision import ServiceDatabase
from tests.harness.asgi import serve
from tests.harness.databases import database_fixture

PASSWORD = "correct horse battery staple"


identity_db = database_fixture("identity")


@pytest.fixture(scope="session")
def identity_settings(
    identity_db: ServiceDatabase,
    redis_url: str,
    run_id: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> IdentitySettings:
    return IdentitySettings(
        mail_folder=str(tmp_path_factory.mktemp("identity-mail")),
        environment="test",
        # One key for the session: tokens from any identity app instance (in-process or
        # served over HTTP, e.g. for the dojo service's JWKS) verify everywhere.
        jwt_private_key=SecretStr(generate_private_key_pem()),
        database_url=identity_db.app_dsn,
        redis_url=redis_url,
        rate_limit_prefix=f"test-{run_id}",
        login_rate_per_address="10000/minute",
        signup_rate_per_address="10000/minute",
        reset_rate_per_address="10000/minute",
        db_pool_max=4,
    )


@pytest.fixture(scope="session")
async def identity(identity_settings: IdentitySettings) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(create_app(identity_settings)) as client:
        yield client


@pytest.fixture
def erasure_bus(redis_url: str) -> dict[str, str]:
    """Redis streams of the test's own (settings fields), for identity's relay and the
    services that erase what it deletes."""
    return {
        "event_bus": "redis",
        "redis_url": redis_url,
        "event_stream_prefix": f"test-erasure-{uuid.uuid4().hex[:8]}",
    }


@pytest.fixture
async def relaying_identity(
    identity_settings: IdentitySettings, identity_db: ServiceDatabase, erasure_bus: dict[str, str]
) -> AsyncIterator[httpx.AsyncClient]:
    """Identity with its outbox relay (as the owner role) publishing deletions on
    ``erasure_bus``."""
    settings = identity_settings.model_copy(
        update={**erasure_bus, "migrations_database_url": identity_db.owner_dsn}
    )
    async with serve(create_app(settings)) as client:
        yield client


@dataclass
class Account:
    tenant_id: str
    user_id: str
    email: str
    access_token: str
    refresh_token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


SignUp = Callable[..., Awaitable[Account]]
Make = Callable[..., Awaitable[dict[str, Any]]]


def created_through(client: httpx.AsyncClient, path: str, **defaults: Any) -> Make:
    """Factory: a resource created by ``account`` with ``POST path`` (``defaults`` and the
    given fields as its body); the test fails unless it is created."""

    async def make(account: Account, **fields: Any) -> dict[str, Any]:
        response = await client.post(path, json={**defaults, **fields}, headers=account.auth)
        assert response.status_code == 201, response.text
        return response.json()

    return make


async def new_tenant(
    identity: httpx.AsyncClient, organization: str | None = None, **overrides: Any
) -> Account:
    """Sign up a new tenant and its owner through the identity app."""
    email = overrides.pop("email", f"owner-{uuid.uuid4().hex[:10]}@example.com")
    body = {
        "organization": organization or f"Org {uuid.uuid4().hex[:6]}",
        "full_name": "Owner Person",
        "email": email,
        "password": PASSWORD,
        **overrides,
    }
    response = await identity.post("/signup", json=body)
    assert response.status_code == 201, response.text
    data = response.json()
    return Account(
        tenant_id=data["tenant"]["tenant_id"],
        user_id=data["user"]["user_id"],
        email=email,
        access_token=data["tokens"]["access_token"],
        refresh_token=data["tokens"]["refresh_token"],
    )


@pytest.fixture
def sign_up(identity: httpx.AsyncClient) -> SignUp:
    """Factory: a new tenant with its owner, logged in."""

    async def make(organization: str | None = None, **overrides: Any) -> Account:
        return await new_tenant(identity, organization, **overrides)

    return make


@pytest.fixture
def invite_member(identity: httpx.AsyncClient) -> Callable[..., Awaitable[Account]]:
    """Factory: invite someone into ``owner``'s tenant and accept it."""

    async def make(owner: Account, role: str = "member") -> Account:
        email = f"member-{uuid.uuid4().hex[:10]}@example.com"
        response = await identity.post(
            "/invitations", json={"email": email, "role": role}, headers=owner.auth
        )
        assert response.status_code == 201, response.text
        accepted = await identity.post(
            "/invitations/accept",
            json={"token": response.json()["token"], "full_name": "Member", "password": PASSWORD},
        )
        assert accepted.status_code == 201, accepted.text
        data = accepted.json()
        return Account(
            tenant_id=owner.tenant_id,
            user_id=data["user"]["user_id"],
            email=email,
            access_token=data["tokens"]["access_token"],
            refresh_token=data["tokens"]["refresh_token"],
        )

    return make


@pytest.fixture(scope="session")
async def identity_keys(identity: httpx.AsyncClient) -> KeySet:
    """The identity app's public keys, for other services' token verifiers."""
    response = await identity.get("/.well-known/jwks.json")
    response.raise_for_status()
    return KeySet(static_keys=response.json()["keys"])


async def holding_the_user(
    identity_db: ServiceDatabase, account: Account
) -> tuple[asyncpg.Connection, Any]:
    """Lock the account's row from outside, as a transaction under way would."""
    holder = await asyncpg.connect(identity_db.app_dsn)
    held = holder.transaction()
    await held.start()
    await holder.execute("SELECT set_config('app.tenant_id', $1, true)", account.tenant_id)
    await holder.execute(
        "SELECT 1 FROM users WHERE user_id = $1 FOR UPDATE", uuid.UUID(account.user_id)
    )
    return holder, held
