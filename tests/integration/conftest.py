"""Fixtures shared by the integration suites: the identity service and collab nodes.

Session-scoped fixtures live here once, so that suites which need both (the dojo service's)
share one identity database and one ticket key with the suites that test them.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import pytest
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from pydantic import SecretStr

from collab_server import CollabSettings, create_app
from platform_api.identity.app import create_app as create_identity_app
from platform_api.identity.settings import IdentitySettings
from platform_api.kernel import migrations
from platform_api.kernel.keys import generate_private_key_pem, public_jwk_from_pem
from platform_api.kernel.provision import ServiceDatabase, drop_database, provision_database
from tests.harness.asgi import serve

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="session")
async def identity_db(admin_dsn: str, run_id: str) -> AsyncIterator[ServiceDatabase]:
    # One database per test run, so that concurrent runs never share or drop each other's.
    db = await provision_database(admin_dsn, "identity", f"test_identity_{run_id}", recreate=True)
    await migrations.upgrade("identity", db.owner_dsn)
    yield db
    await drop_database(admin_dsn, db.name)


@pytest.fixture(scope="session")
def identity_settings(
    identity_db: ServiceDatabase, redis_url: str, run_id: str
) -> IdentitySettings:
    return IdentitySettings(
        environment="test",
        # One key for the session: tokens from any identity app instance (in-process or
        # served over HTTP for the dojo service's JWKS) verify everywhere.
        jwt_private_key=SecretStr(generate_private_key_pem()),
        database_url=identity_db.app_dsn,
        redis_url=redis_url,
        rate_limit_prefix=f"test-{run_id}",
        login_rate_per_address="10000/minute",
        signup_rate_per_address="10000/minute",
        db_pool_max=4,
    )


@pytest.fixture(scope="session")
async def identity(identity_settings: IdentitySettings) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(create_identity_app(identity_settings)) as client:
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


@pytest.fixture
def sign_up(identity: httpx.AsyncClient) -> SignUp:
    """Factory: a new tenant with its owner, logged in."""

    async def make(organization: str | None = None, **overrides: Any) -> Account:
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


# -- collab nodes ------------------------------------------------------------


@pytest.fixture(scope="session")
def ticket_key() -> tuple[str, str]:
    """(private PEM, public PEM) of the test ticket issuer."""
    private_pem = generate_private_key_pem()
    private = serialization.load_pem_private_key(private_pem.encode(), password=None)
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private_pem, public_pem.decode()


Mint = Callable[..., str]


@pytest.fixture(scope="session")
def mint(ticket_key: tuple[str, str]) -> Mint:
    private_pem, _ = ticket_key
    kid = public_jwk_from_pem(private_pem)["kid"]

    def make(
        room: str, *, role: str = "write", user: str | None = None, ttl: float = 300, **claims: Any
    ) -> str:
        tenant = room.split(":", 1)[0]
        now = int(time.time())
        payload = {
            "iss": "mrbill-dojos",
            "aud": "mrbill-collab",
            "sub": user or str(uuid.uuid4()),
            "tenant": tenant,
            "room": room,
            "role": role,
            "iat": now,
            "exp": now + ttl,
            **claims,
        }
        return jwt.encode(
            payload, private_pem, algorithm="EdDSA", headers={"kid": kid, "typ": "room+jwt"}
        )

    return make


@pytest.fixture(scope="session")
async def collab_db(admin_dsn: str, run_id: str) -> AsyncIterator[ServiceDatabase]:
    db = await provision_database(admin_dsn, "collab", f"test_collab_{run_id}", recreate=True)
    await migrations.upgrade("collab", db.owner_dsn)
    yield db
    await drop_database(admin_dsn, db.name)


StartNode = Callable[..., Awaitable[str]]


@pytest.fixture
async def start_node(ticket_key: tuple[str, str], tmp_path) -> AsyncIterator[StartNode]:
    """Factory: start a collab node on a free port; returns its ws base URL (``ws://…/collab``)."""
    runners: list[web.AppRunner] = []

    async def start(**kwargs: Any) -> str:
        update_log = kwargs.pop("update_log", None)
        bus = kwargs.pop("bus", None)
        settings = CollabSettings(
            environment="test",
            ticket_public_key=ticket_key[1],
            snapshot_dir=str(tmp_path / "snapshots"),
            **kwargs,
        )
        app = create_app(settings, update_log=update_log, bus=bus)
        runner = web.AppRunner(app, shutdown_timeout=2, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return f"ws://127.0.0.1:{port}/collab"

    yield start
    for runner in reversed(runners):
        await runner.cleanup()
