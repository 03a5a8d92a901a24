"""A peer that stops reading is evicted (1013) instead of holding memory; keep-alive pings."""

from __future__ import annotations

import asyncio
import base64
import os
import socket

import aiohttp

from tests.harness.ywire import eventually

from .conftest import Connect, Mint, StartNode


def _stalled_socket(base: str, room: str, ticket: str) -> socket.socket:
    """A WebSocket handshake over a socket with a tiny receive buffer, never read again."""
    host, port = base.removeprefix("ws://").split("/")[0].split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, int(port)))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /collab/{room}?ticket={ticket} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    assert b"101" in sock.recv(1024)
    return sock


async def test_slow_consumer_is_evicted_and_others_keep_up(
    start_node: StartNode, connect: Connect, mint: Mint, room_key: str
) -> None:
    base = await start_node(send_queue_bytes=256 * 1024, rate_per_second=10_000, rate_burst=10_000)
    stalled = await asyncio.to_thread(_stalled_socket, base, room_key, mint(room_key))
    try:
        writer = await connect(base, room_key)
        reader = await connect(base, room_key)
        chunk = "z" * 30_000
        for _ in range(120):  # ~3.6 MB of updates: far more than socket buffers plus the queue
            await writer.insert(chunk)
        await eventually(
            lambda: len(str(reader)) == 120 * 30_000, timeout=60, what="fast reader keeps up"
        )
        http = base.replace("ws://", "http://").removesuffix("/collab")
        async with aiohttp.ClientSession() as session:
            metrics = await (await session.get(f"{http}/metrics")).text()
        assert 'collab_evictions_total{reason="1013"} 1.0' in metrics
        sent = next(x for x in metrics.splitlines() if x.startswith("collab_bytes_out_total "))
        assert float(sent.split()[1]) >= 120 * 30_000  # at least what the fast reader got
    finally:
        stalled.close()


async def test_a_document_larger_than_the_send_queue_reaches_newcomers(
    start_node: StartNode, connect: Connect, room_key: str
) -> None:
    """The whole document for a newcomer is one message, and may exceed the send queue's
    budget (16 MiB documents, 8 MiB by default): it is sent, not answered with 1013."""
    base = await start_node(send_queue_bytes=256 * 1024)
    writer = await connect(base, room_key)
    for _ in range(4):
        await writer.insert("w" * 200_000)

    async def newcomer_keeps_up() -> None:
        newcomer = await connect(base, room_key)
        await eventually(
            lambda: str(newcomer) == str(writer), timeout=10, what="the whole document"
        )
        await writer.insert("!")  # and what follows it
        await eventually(lambda: str(newcomer) == str(writer), what="the next update")
        assert newcomer.close_code is None
        await newcomer.close()

    await newcomer_keeps_up()
    await newcomer_keeps_up()  # this one surely gets the document in one message


async def test_server_pings_idle_connections(
    start_node: StartNode, mint: Mint, room_key: str
) -> None:
    base = await start_node(ping_interval=0.2)
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(f"{base}/{room_key}?ticket={mint(room_key)}", autoping=False) as ws,
    ):
        kinds = set()
        for _ in range(5):
            kinds.add((await ws.receive(timeout=2)).type)
            if aiohttp.WSMsgType.PING in kinds:
                break
        assert aiohttp.WSMsgType.PING in kinds


def test_default_ping_is_well_inside_a_60s_idle_timeout() -> None:
    from collab_server import CollabSettings

    assert CollabSettings().ping_interval <= 20
