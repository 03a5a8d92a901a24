"""Dojo service fixtures: the app with a collab node (its database and the live identity
service come from ``tests/harness/dojos.py``)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from platform_api.dojos import DojosSettings, create_app
from platform_api.kernel.provision import ServiceDatabase
from tests.harness.asgi import serve
from tests.harness.ywire import YClient
from tests.integration.conftest import Account, StartNode

STARTING_CODE = "def fizzbuzz(n):\n    pass\n"


MakeSettings = Callable[..., DojosSettings]


@pytest.fixture
def dojo_settings(
    dojos_db: ServiceDatabase, identity_url: str, ticket_key: tuple[str, str], tmp_path: Path
) -> MakeSettings:
    def make(**overrides: Any) -> DojosSettings:
        values: dict[str, Any] = {
            "environment": "test",
            "database_url": dojos_db.app_dsn,
            "migrations_database_url": dojos_db.owner_dsn,
            "ticket_private_key": ticket_key[0],
            "ticket_ttl_seconds": 60,
            "jwks_url": f"{identity_url}/.well-known/jwks.json",
            "identity_url": identity_url,
            "snapshot_dir": str(tmp_path / "objects"),
            "scheduler_interval_seconds": 0.05,
            "event_bus": "memory",
            "db_pool_max": 6,
            **overrides,
        }
        return DojosSettings(**values)

    return make


@dataclass
class Stack:
    client: httpx.AsyncClient
    app: FastAPI
    ws: str  # the collab node's ws://…/collab

    async def call(self, method: str, path: str, who: Account, **kw: Any) -> httpx.Response:
        return await self.client.request(method, path, headers=who.auth, **kw)

    async def ok(self, method: str, path: str, who: Account, status: int = 200, **kw: Any) -> Any:
        response = await self.call(method, path, who, **kw)
        assert response.status_code == status, f"{method} {path}: {response.text}"
        return response.json() if response.content and status != 204 else None

    async def connect(self, dojo_id: str, who: Account) -> tuple[YClient, dict[str, Any]]:
        """A Yjs client in the dojo's room with a fresh ticket from the service."""
        ticket = await self.ok("POST", f"/dojos/{dojo_id}/tickets", who)
        client = YClient(f"{self.ws}/{ticket['room']}?ticket={ticket['ticket']}")
        self.clients.append(client)
        await client.connect()
        return client, ticket

    def __post_init__(self) -> None:
        self.clients: list[YClient] = []


@pytest.fixture
async def stack(dojo_settings: MakeSettings, start_node: StartNode) -> AsyncIterator[Stack]:
    ws = await start_node()
    base = ws.replace("ws://", "http://").removesuffix("/collab")
    app = create_app(dojo_settings(collab_url=base, collab_public_url=ws))
    async with serve(app) as client:
        s = Stack(client=client, app=app, ws=ws)
        try:
            yield s
        finally:
            for c in s.clients:
                await c.close()


NewDojo = Callable[..., Awaitable[dict[str, Any]]]


def dojo_body(**overrides: Any) -> dict[str, Any]:
    return {
        "name": f"Kata {uuid.uuid4().hex[:6]}",
        "description": "# FizzBuzz\nPrint *fizz* for 3, **buzz** for 5.",
        "language": "Python",
        "initial_code": STARTING_CODE,
        "format": "randori",
        "rotation_seconds": 300,
        **overrides,
    }


async def join_with_invite(
    s: Stack, owner: Account, member: Account, dojo_id: str, role: str = "navigator"
) -> dict[str, Any]:
    invite = await s.ok("POST", f"/dojos/{dojo_id}/invites", owner, 201, json={"role": role})
    return await s.ok("POST", "/dojos/join", member, json={"code": invite["code"]})
