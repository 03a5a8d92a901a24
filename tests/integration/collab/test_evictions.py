"""``collab_evictions_total``: every connection the server closes counts once, by close code,
whether refused while it joins or kicked once in the room; one the client closes does not."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web

from collab_server import CollabSettings, create_app
from collab_server.state import METRICS
from rooms import MemoryAccessLedger
from tests.harness.ywire import YClient, eventually

from .conftest import (
    Connect,
    Mint,
    SlowLedger,
    StartNode,
    control,
    node_evictions,
    node_metric,
)

Kick = Callable[[YClient, str, Mint, str, str], Awaitable[None]]


async def _flood(client: YClient, *_: Any) -> None:
    for i in range(100):
        if client.ws is None or client.ws.closed:
            return
        await client.insert(str(i))


async def _grow(client: YClient, *_: Any) -> None:
    for _round in range(20):
        if client.ws is None or client.ws.closed:
            return
        await client.insert("y" * 8000)


def _raw(payload: bytes) -> Kick:
    async def send(client: YClient, *_: Any) -> None:
        await client.send_raw(payload)

    return send


async def _oversize(client: YClient, *_: Any) -> None:
    await client.insert("x" * 10_000)  # past max_message_bytes: aiohttp's reader refuses it


async def _revoke(client: YClient, base: str, mint: Mint, room: str, user: str) -> None:
    await control(base, mint, room, {"type": "revoke", "user": user})


async def _nothing(*_: Any) -> None:
    """The ticket's own expiry closes the connection."""


async def _leave(client: YClient, *_: Any) -> None:
    await client.disconnect()


@pytest.mark.parametrize(
    ("settings", "ticket", "kick", "evictions"),
    [
        pytest.param({"rate_per_second": 5, "rate_burst": 10}, {}, _flood, {"1008": 1}, id="1008"),
        pytest.param({}, {}, _raw(b"\x00"), {"1002": 1}, id="1002-truncated"),
        pytest.param({}, {}, _raw(b"\x07\x00"), {"1003": 1}, id="1003-unknown-type"),
        pytest.param(
            {}, {}, _raw(b"\x01\x05\xff\xff\xff\x7a\x00"), {"1007": 1}, id="1007-awareness-bomb"
        ),
        pytest.param(
            {"max_message_bytes": 4096}, {}, _oversize, {"1009": 1}, id="1009-oversize-frame"
        ),
        # Ticket times are whole seconds: a 2 s ticket lasts 1 to 2 s, time to sync first.
        pytest.param({}, {"ttl": 2}, _nothing, {"4401": 1}, id="4401-expired"),
        pytest.param({}, {}, _revoke, {"4403": 1}, id="4403-revoked"),
        pytest.param({"max_document_bytes": 65_536}, {}, _grow, {"4413": 1}, id="4413"),
        pytest.param({}, {}, _leave, {}, id="client-leaves"),
    ],
)
async def test_a_connection_closed_in_the_room_counts_once_by_its_code(
    start_node: StartNode,
    connect: Connect,
    mint: Mint,
    room_key: str,
    settings: dict[str, Any],
    ticket: dict[str, Any],
    kick: Kick,
    evictions: dict[str, float],
) -> None:
    base = await start_node(**settings)
    user = str(uuid.uuid4())
    client = await connect(base, room_key, user=user, **ticket)
    await asyncio.wait_for(client.synced.wait(), 5)
    await kick(client, base, mint, room_key, user)
    await client.wait_closed(timeout=10)
    await eventually(lambda: _connections(base, 0), what="the connection is gone")
    assert await node_evictions(base) == evictions


async def test_a_refused_join_counts_once(
    start_node: StartNode, connect: Connect, room_key: str
) -> None:
    base = await start_node()
    client = await connect(base, room_key, ticket="not-a-jwt")
    assert await client.wait_closed(timeout=5) == 4401
    await eventually(lambda: _connections(base, 0), what="the connection is gone")
    assert await node_evictions(base) == {"4401": 1}


async def test_a_revoke_while_joining_counts_once(
    start_node: StartNode, connect: Connect, mint: Mint, room_key: str
) -> None:
    """The revoke kicks the joining peer, then its role read refuses it: one close."""
    ledger = SlowLedger(MemoryAccessLedger())
    base = await start_node(access_ledger=ledger)
    await connect(base, room_key)  # the room is loaded: the held read is the joining peer's
    user = str(uuid.uuid4())
    ledger.hold_next()
    client = await connect(base, room_key, user=user)
    await asyncio.wait_for(ledger.holding.wait(), 5)
    await control(base, mint, room_key, {"type": "revoke", "user": user})
    ledger.release.set()
    assert await client.wait_closed(timeout=5) == 4403
    await eventually(lambda: _connections(base, 1), what="only the first peer is left")
    assert await node_evictions(base) == {"4403": 1}


async def test_a_drain_counts_each_peer_it_closes(
    ticket_key: tuple[str, str], mint: Mint, room_key: str
) -> None:
    app = create_app(CollabSettings(environment="test", ticket_public_key=ticket_key[1]))
    runner = web.AppRunner(app, shutdown_timeout=3)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    base = f"ws://127.0.0.1:{runner.addresses[0][1]}/collab"
    clients = [YClient(f"{base}/{room_key}?ticket={mint(room_key)}") for _ in range(2)]
    try:
        for client in clients:
            await client.connect()
            await asyncio.wait_for(client.synced.wait(), 5)
        await runner.cleanup()  # what SIGTERM triggers
        assert [await c.wait_closed(timeout=5) for c in clients] == [1012, 1012]
    finally:
        for client in clients:
            await client.close()
    registry = app[METRICS].registry
    assert registry.get_sample_value("collab_evictions_total", {"reason": "1012"}) == 2


async def _connections(base: str, count: int) -> bool:
    return await node_metric(base, "collab_connections") == count
