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
from tests.harness.ywire import eventually
from tests.integration.collab.conftest import control, node_metric
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


async def test_a_yjs_client_allowed_to_write_again_is_heard_again(
    start_node: StartNode, mint: Mint, collab_db: ServiceDatabase, redis_url: str
) -> None:
    """A navigator's edit made as the driver's role passed on is dropped, taken back from
    its own screen and answered with a permission-denied message; once the role comes back
    (changed on another node, through Redis) the node asks its y-websocket client for what
    the room lacks, so that the edits it builds on the dropped one (deleted, but still their
    neighbour) reach the others."""
    require_node()
    nodes = [
        await start_node(database_url=collab_db.app_dsn, redis_url=redis_url, node_name=f"r{i}")
        for i in range(2)
    ]
    room, user = f"{uuid.uuid4()}:rotation", str(uuid.uuid4())
    async with YjsNodeClient.start() as navigator, YjsNodeClient.start() as driver:
        await navigator.connect(nodes[0], room, params={"ticket": mint(room, user=user)})
        await driver.connect(nodes[1], room, params={"ticket": mint(room)})
        await asyncio.gather(navigator.wait_synced(), driver.wait_synced())
        await control(nodes[0], mint, room, {"type": "role", "user": user, "role": "read"})
        await navigator.insert("typed at the rotation; ")
        await eventually(lambda: _dropped(nodes[0]), what="the node dropping the edit")
        await eventually(lambda: _text_is(navigator, ""), what="the edit taken back")
        # ...and told, in y-protocols' words (y-websocket logs it), once for two edits.
        await navigator.insert("more; ")
        await eventually(lambda: _text_is(navigator, ""), what="that taken back too")
        await eventually(lambda: "read-only" in navigator.stderr_text, what="the denial")
        assert navigator.stderr_text.count("Permission denied") == 1
        await control(nodes[1], mint, room, {"type": "role", "user": user, "role": "write"})
        await navigator.insert("then driving")
        await eventually(lambda: _text_is(driver, "then driving"), what="the driver's copy")
        assert await navigator.text() == "then driving"


async def _dropped(node: str) -> bool:
    return await node_metric(node, "collab_readonly_updates_dropped_total") == 1


async def _text_is(client: YjsNodeClient, expected: str) -> bool:
    return await client.text() == expected


async def test_a_yjs_client_alone_in_a_room_keeps_hearing_from_the_node(
    start_node: StartNode, mint: Mint, collab_db: ServiceDatabase, redis_url: str
) -> None:
    """y-websocket reconnects when it has received nothing for 30 s (pings do not count),
    and a client alone in a room is sent nothing else: the node nudges a quiet peer with a
    message that changes nothing. (Nudged every 0.3 s here instead of every 10.)"""
    require_node()
    node = await start_node(
        database_url=collab_db.app_dsn, redis_url=redis_url, quiet_peer_seconds=0.3
    )
    room = f"{uuid.uuid4()}:alone"
    async with YjsNodeClient.start() as alone:
        await alone.connect(node, room, params={"ticket": mint(room)})
        await alone.wait_synced()
        await alone.set_awareness({"user": {"name": "Solo"}})
        await asyncio.sleep(3.5)
        assert await alone.last_message_ago() < 2.5  # nudged about every second (maintenance)
        await alone.insert("still here")
        assert await alone.text() == "still here"
        assert [e for e in alone.events if e["event"] == "status"] == [
            {"event": "status", "status": "connected"}
        ]
        assert "Error" not in alone.stderr_text
