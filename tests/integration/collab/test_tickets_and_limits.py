"""Tickets, limits and malformed input: each closes only the offending connection, with a code."""

from __future__ import annotations

import asyncio
import time
import uuid

import aiohttp
import jwt
import pytest

from platform_api.kernel.keys import generate_private_key_pem
from tests.harness.ywire import YClient, eventually

from .conftest import Connect, Mint, StartNode


async def closed_with(client: YClient) -> int | None:
    return await client.wait_closed(timeout=5)


@pytest.mark.parametrize(
    ("make_ticket", "code"),
    [
        (lambda mint, room: "not-a-jwt", 4401),
        (lambda mint, room: mint(room, ttl=-60), 4401),
        (lambda mint, room: mint(room, role="owner"), 4401),
        (lambda mint, room: mint(f"{room}-other"), 4403),
        (
            lambda mint, room: mint(
                f"{uuid.uuid4()}:{room.split(':')[1]}", tenant=room.split(":")[0]
            ),
            4403,
        ),
        (lambda mint, room: mint(room, role="service"), 4403),
    ],
    ids=["garbage", "expired", "bad-role", "other-room", "other-tenant", "service-on-socket"],
)
async def test_bad_tickets_are_refused(
    start_node: StartNode, connect: Connect, mint: Mint, room_key: str, make_ticket, code: int
) -> None:
    base = await start_node()
    client = await connect(base, room_key, ticket=make_ticket(mint, room_key))
    assert await closed_with(client) == code


async def test_ticket_signed_by_another_key_or_typ_is_refused(
    start_node: StartNode, connect: Connect, room_key: str
) -> None:
    base = await start_node()
    now = int(time.time())
    claims = {
        "iss": "mrbill-dojos",
        "aud": "mrbill-collab",
        "sub": "u",
        "tenant": room_key.split(":")[0],
        "room": room_key,
        "role": "write",
        "iat": now,
        "exp": now + 60,
    }
    forged = jwt.encode(
        claims,
        generate_private_key_pem(),
        algorithm="EdDSA",
        headers={"typ": "room+jwt", "kid": "x"},
    )
    client = await connect(base, room_key, ticket=forged)
    assert await closed_with(client) == 4401


async def test_ticket_as_first_message(start_node: StartNode, mint: Mint, room_key: str) -> None:
    base = await start_node()
    async with aiohttp.ClientSession() as session, session.ws_connect(f"{base}/{room_key}") as ws:
        await ws.send_str(mint(room_key))
        message = await ws.receive(timeout=5)
        assert message.type == aiohttp.WSMsgType.BINARY  # the server's sync step 1


async def test_missing_ticket_times_out(start_node: StartNode, room_key: str) -> None:
    base = await start_node(first_message_timeout=0.2)
    async with aiohttp.ClientSession() as session, session.ws_connect(f"{base}/{room_key}") as ws:
        message = await ws.receive(timeout=5)
        assert message.type == aiohttp.WSMsgType.CLOSE
        assert message.data == 4401


async def test_binary_before_ticket_is_refused(start_node: StartNode, room_key: str) -> None:
    base = await start_node()
    async with aiohttp.ClientSession() as session, session.ws_connect(f"{base}/{room_key}") as ws:
        await ws.send_bytes(b"\xff\xff\xff\x7a")
        message = await ws.receive(timeout=5)
        assert message.data == 4401


async def test_expired_ticket_on_a_live_connection_closes_it(
    start_node: StartNode, connect: Connect, room_key: str
) -> None:
    base = await start_node()
    client = await connect(base, room_key, ttl=1)
    assert await client.wait_closed(timeout=10) == 4401


async def test_refreshed_ticket_keeps_the_connection(
    start_node: StartNode, connect: Connect, mint: Mint, room_key: str
) -> None:
    base = await start_node()
    user = str(uuid.uuid4())
    client = await connect(base, room_key, ttl=1, user=user)
    await client.send_raw(mint(room_key, user=user, ttl=60))
    await asyncio.sleep(1.5)
    assert not client.ws.closed
    await client.insert("still here")


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (b"\x00\x02\xff\xff\xff\x7a", 1002),  # update length prefix of ~250M
        (b"\x00\x02\x05\xff\xff\xff\x7a\x00", 1007),  # update declaring ~250M structs
        (b"\x01\x05\xff\xff\xff\x7a\x00", 1007),  # awareness entry-count bomb
        (b"\x07\x00", 1003),  # unknown message type
        (b"\x00", 1002),  # truncated
    ],
    ids=["update-length-bomb", "struct-count-bomb", "awareness-bomb", "unknown-type", "truncated"],
)
async def test_malformed_messages_close_only_that_connection(
    start_node: StartNode, connect: Connect, room_key: str, payload: bytes, code: int
) -> None:
    base = await start_node()
    healthy = await connect(base, room_key)
    attacker = await connect(base, room_key)
    await attacker.send_raw(payload)
    assert await closed_with(attacker) == code
    other = await connect(base, room_key)
    await healthy.insert("still serving")
    await eventually(lambda: str(other) == "still serving", what="others keep working")


async def test_oversize_message_is_1009(
    start_node: StartNode, connect: Connect, room_key: str
) -> None:
    base = await start_node(max_message_bytes=4096)
    client = await connect(base, room_key)
    await client.insert("x" * 10_000)
    assert await closed_with(client) == 1009


async def test_invalid_utf8_text_frame_is_1007(
    start_node: StartNode, mint: Mint, room_key: str
) -> None:
    base = await start_node()
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(f"{base}/{room_key}?ticket={mint(room_key)}") as ws,
    ):
        await ws.receive(timeout=5)
        # aiohttp's client would refuse to encode invalid UTF-8; write the frame by hand.
        await ws._writer.send_frame(b"\xc3\x28", aiohttp.WSMsgType.TEXT)  # type: ignore[attr-defined]
        closing = await ws.receive(timeout=5)
        while closing.type == aiohttp.WSMsgType.BINARY:
            closing = await ws.receive(timeout=5)
        assert closing.data == 1007


async def test_rate_limit_closes_with_1008(
    start_node: StartNode, connect: Connect, room_key: str
) -> None:
    base = await start_node(rate_per_second=5, rate_burst=10)
    client = await connect(base, room_key)
    for i in range(30):
        if client.ws.closed:
            break
        await client.insert(str(i))
    assert await closed_with(client) == 1008


async def test_document_size_limit_is_4413(
    start_node: StartNode, connect: Connect, room_key: str
) -> None:
    base = await start_node(max_document_bytes=65_536)
    client = await connect(base, room_key)
    for _ in range(20):
        if client.ws.closed:
            break
        await client.insert("y" * 8000)
    assert await closed_with(client) == 4413
