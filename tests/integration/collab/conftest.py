"""Collab fixtures: rooms and clients (keys, ``mint`` and ``start_node`` are in ../conftest.py)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from tests.harness.ywire import YClient
from tests.integration.conftest import Mint, StartNode

__all__ = ["Connect", "Mint", "StartNode"]


@pytest.fixture
def room_key() -> str:
    return f"{uuid.uuid4()}:dojo-{uuid.uuid4().hex[:8]}"


Connect = Callable[..., Awaitable[YClient]]


@pytest.fixture
async def connect(mint: Mint) -> AsyncIterator[Connect]:
    clients: list[YClient] = []

    async def make(
        base: str, room: str, *, role: str = "write", ticket: str | None = None, **kw: Any
    ) -> YClient:
        token = ticket if ticket is not None else mint(room, role=role, **kw)
        query = f"?ticket={token}" if token else ""
        client = YClient(f"{base}/{room}{query}")
        clients.append(client)
        return await client.connect()

    yield make
    for client in clients:
        await client.close()
