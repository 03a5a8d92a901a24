"""Real Yjs clients against our collab engine, each client on a different node.

The same scenarios as against the reference servers (two y-websocket Node clients and one
pycrdt client, concurrent edits, awareness, a late joiner), with durability and tickets on:
three nodes share PostgreSQL and Redis, and every client holds a room ticket.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest

from platform_api.kernel.provision import ServiceDatabase
from tests.harness.pycrdt_client import PycrdtClient
from tests.harness.yjs_client import YjsNodeClient, require_node
from tests.integration.conftest import Mint, StartNode

from .conftest import ServerUnderTest
from .test_reference_servers import (  # the scenarios, collected again here for our server
    Trio,
    test_awareness_reaches_every_client,
    test_concurrent_edits_converge,
    test_late_joiner_receives_the_document,
)

__all__ = [
    "test_awareness_reaches_every_client",
    "test_concurrent_edits_converge",
    "test_late_joiner_receives_the_document",
]
pytestmark = pytest.mark.timeout(90)


@pytest.fixture
async def trio(
    start_node: StartNode, mint: Mint, collab_db: ServiceDatabase, redis_url: str
) -> AsyncIterator[Trio]:
    require_node()
    nodes = [
        await start_node(database_url=collab_db.app_dsn, redis_url=redis_url, node_name=f"i{i}")
        for i in range(3)
    ]
    room = f"{uuid.uuid4()}:interop-{uuid.uuid4().hex[:6]}"

    def params_for(room_key: str) -> dict[str, str]:
        return {"ticket": mint(room_key)}

    server = ServerUnderTest("mrbill", nodes[0], params_for)
    async with AsyncExitStack() as stack:
        alice = await stack.enter_async_context(YjsNodeClient.start())
        bob = await stack.enter_async_context(YjsNodeClient.start())
        await alice.connect(nodes[0], room, params=params_for(room))
        await bob.connect(nodes[1], room, params=params_for(room))
        carol = await stack.enter_async_context(
            PycrdtClient.connect(nodes[2], room, params=params_for(room))
        )
        await asyncio.gather(alice.wait_synced(), bob.wait_synced(), carol.wait_synced())
        yield Trio(server, room, alice, bob, carol)
