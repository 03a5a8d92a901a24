"""Collab fixtures shared across suites: the ticket issuer's key, ``mint``, nodes on free ports,
and a way to hold the update log's commits."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import jwt
import pytest
from aiohttp import web
from cryptography.hazmat.primitives import serialization

from collab_server import CollabSettings, create_app
from crdt import merge_updates
from platform_api.kernel.keys import generate_private_key_pem, public_jwk_from_pem
from platform_api.kernel.provision import ServiceDatabase
from rooms import RoomId, UpdateLog
from tests.harness.databases import database_fixture
from tests.harness.polling import eventually


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


collab_db = database_fixture("collab")


async def compacted_seq(log: UpdateLog, room: RoomId) -> int:
    """Compact the room's log into a snapshot (a plain merge); the last seq it merged."""
    done = await log.compact(room, merge_updates)
    assert done is not None
    return done.seq


@asynccontextmanager
async def appends_held(db: ServiceDatabase) -> AsyncIterator[Callable[[], Awaitable[object]]]:
    """Hold every append to ``db``'s update log until the block ends (an exclusive lock on
    ``room_updates``, which reads pass); yields ``stuck()``, which returns once one waits."""
    conn = await asyncpg.connect(db.owner_dsn)
    try:
        async with conn.transaction():
            await conn.execute("LOCK TABLE room_updates IN EXCLUSIVE MODE")

            def waiting() -> Awaitable[bool]:
                return conn.fetchval(
                    """SELECT count(*) > 0 FROM pg_locks
                       WHERE relation = 'room_updates'::regclass AND NOT granted"""
                )

            yield lambda: eventually(waiting, what="an append waiting on the lock")
    finally:
        await conn.close()


StartNode = Callable[..., Awaitable[str]]


@pytest.fixture
async def start_node(ticket_key: tuple[str, str], tmp_path) -> AsyncIterator[StartNode]:
    """Factory: start a collab node on a free port; returns its ws base URL (``ws://…/collab``)."""
    runners: list[web.AppRunner] = []

    async def start(**kwargs: Any) -> str:
        update_log = kwargs.pop("update_log", None)
        bus = kwargs.pop("bus", None)
        access_ledger = kwargs.pop("access_ledger", None)
        kwargs.setdefault("ticket_public_key", ticket_key[1])
        settings = CollabSettings(
            environment="test",
            snapshot_dir=str(tmp_path / "snapshots"),
            **kwargs,
        )
        app = create_app(settings, update_log=update_log, bus=bus, access_ledger=access_ledger)
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
