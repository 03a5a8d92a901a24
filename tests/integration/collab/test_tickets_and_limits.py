"""Tickets, limits and malformed input: each closes only the offending connection, with a code."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import jwt
import pytest
from aiohttp import web

from collab_server import CollabSettings, create_app
from platform_api.kernel.keys import generate_private_key_pem, public_jwk_from_pem
from rooms import MemoryAccessLedger, MemoryBus, MemoryUpdateLog, RedisAccessLedger, RoomId
from tests.harness.ywire import YClient, eventually

from .conftest import (
    Connect,
    Mint,
    SlowLedger,
    SlowLoads,
    StartNode,
    control,
    first_message,
    no_rooms_loaded,
    node_metric,
)


async def closed_with(client: YClient) -> int | None:
    return await client.wait_closed(timeout=5)


async def test_the_access_ledger_reads_a_rooms_changes_at_once(
    slow_ledger: SlowLedger, room_key: str
) -> None:
    room, elsewhere = RoomId.parse(room_key), RoomId.parse(f"{uuid.uuid4()}:other")
    await slow_ledger.record(room, "ann", "read", 1.0)
    await slow_ledger.record(room, "ann", "revoked", 2.0)
    await slow_ledger.record(room, "bob", "write", 3.0)
    await slow_ledger.record(elsewhere, "cid", "read", 4.0)
    assert await slow_ledger.entries(room) == {"ann": ("revoked", 2.0), "bob": ("write", 3.0)}


@pytest.fixture(params=["memory", "redis"])
async def slow_ledger(request: pytest.FixtureRequest, redis_url: str) -> AsyncIterator[SlowLedger]:
    if request.param == "memory":
        yield SlowLedger(MemoryAccessLedger())
        return
    redis = RedisAccessLedger(redis_url)
    try:
        yield SlowLedger(redis)
    finally:
        await redis.aclose()


async def document(connect: Connect, base: str, room: str) -> str:
    """The room's document as a newcomer receives it."""
    witness = await connect(base, room)
    await asyncio.wait_for(witness.synced.wait(), 5)
    return str(witness)


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


async def test_a_node_verifies_tickets_with_its_configured_clock_skew(
    start_node: StartNode, connect: Connect, mint: Mint, room_key: str
) -> None:
    """An issuer whose clock runs 20 s ahead is within a skew of 30 s: its fresh tickets are
    taken, not refused as issued in the future."""
    base = await start_node(ticket_clock_skew_seconds=30)
    client = await connect(base, room_key, iat=int(time.time()) + 20)
    await asyncio.wait_for(client.synced.wait(), 5)
    assert client.connected


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


@asynccontextmanager
async def jwks_served(document: object) -> AsyncIterator[str]:
    """The URL of a JWKS endpoint answering ``document``, over real HTTP."""

    async def jwks(_request: web.Request) -> web.Response:
        return web.json_response(document)

    app = web.Application()
    app.router.add_get("/.well-known/jwks.json", jwks)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/.well-known/jwks.json"
    finally:
        await runner.cleanup()


async def test_a_bad_key_published_beside_the_issuers_costs_no_join(
    start_node: StartNode, mint: Mint, ticket_key: tuple[str, str], room_key: str
) -> None:
    """A rotation that publishes one unusable entry: the issuer's key still verifies tickets,
    on sockets and on the internal API."""
    issuer = public_jwk_from_pem(ticket_key[1])
    bad = {"kty": "EC", "crv": "P-256", "x": "AA", "kid": "next", "alg": "ES256"}  # no "y"
    async with jwks_served({"keys": [bad, issuer]}) as url:
        base = await start_node(ticket_public_key="", ticket_jwks_url=url)
        message = await first_message(f"{base}/{room_key}?ticket={mint(room_key)}")
        assert message.type == aiohttp.WSMsgType.BINARY  # the server's sync step 1
        http = base.replace("ws://", "http://").removesuffix("/collab")
        service = {"Authorization": f"Bearer {mint(room_key, role='service')}"}
        async with aiohttp.ClientSession() as session:
            response = await session.get(f"{http}/internal/rooms/{room_key}/state", headers=service)
            assert response.status == 200


async def test_a_document_that_is_no_jwks_refuses_tickets_with_4401(
    start_node: StartNode, mint: Mint, ticket_key: tuple[str, str], room_key: str
) -> None:
    """Not a JWKS at all: an unknown key, as for any ticket we cannot verify, not a 1011."""
    async with jwks_served([public_jwk_from_pem(ticket_key[1])]) as url:
        base = await start_node(ticket_public_key="", ticket_jwks_url=url)
        message = await first_message(f"{base}/{room_key}?ticket={mint(room_key)}")
        assert message.type == aiohttp.WSMsgType.CLOSE
        assert message.data == 4401


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


async def test_a_plain_http_request_is_told_to_upgrade(
    start_node: StartNode, room_key: str
) -> None:
    base = await start_node()
    async with aiohttp.ClientSession() as session:
        response = await session.get(f"{base.replace('ws://', 'http://', 1)}/{room_key}")
        body = await response.json(content_type=None)
    assert response.status == 426
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert response.headers["Upgrade"] == "websocket"
    assert body["status"] == 426
    assert "WebSocket" in body["detail"]


async def test_a_broken_websocket_handshake_is_a_400_problem(
    start_node: StartNode, room_key: str
) -> None:
    base = await start_node()
    async with aiohttp.ClientSession() as session:
        response = await session.get(
            f"{base.replace('ws://', 'http://', 1)}/{room_key}",
            headers={"Upgrade": "websocket", "Connection": "Upgrade"},  # no key, no version
        )
        body = await response.json(content_type=None)
    assert response.status == 400
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert body["status"] == 400
    assert body["detail"] != "Bad Request"  # what is wrong with the handshake


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
    # Ticket times are whole seconds: a 2 s ticket lasts 1 to 2 s, time to send the new one.
    client = await connect(base, room_key, ttl=2, user=user)
    await client.send_raw(mint(room_key, user=user, ttl=60))
    await asyncio.sleep(2.5)  # past the first ticket's expiry
    assert not client.ws.closed
    await client.insert("still here")


async def test_a_service_ticket_sent_on_a_socket_closes_it_with_4403(
    start_node: StartNode, connect: Connect, mint: Mint, room_key: str
) -> None:
    base = await start_node()
    user = str(uuid.uuid4())
    client = await connect(base, room_key, user=user)
    await client.send_raw(mint(room_key, user=user, role="service"))
    assert await closed_with(client) == 4403


async def test_ticket_frames_count_against_the_rate_limit(
    start_node: StartNode, connect: Connect, mint: Mint, room_key: str
) -> None:
    base = await start_node(rate_per_second=5, rate_burst=10)
    user = str(uuid.uuid4())
    client = await connect(base, room_key, user=user)
    ticket = mint(room_key, user=user)
    for _ in range(30):
        if client.ws.closed:
            break
        await client.send_raw(ticket)
    assert await closed_with(client) == 1008


async def test_refresh_does_not_undo_a_downgrade_made_while_it_reads(
    start_node: StartNode, connect: Connect, mint: Mint, room_key: str, slow_ledger: SlowLedger
) -> None:
    base = await start_node(access_ledger=slow_ledger)
    user = str(uuid.uuid4())
    driver = await connect(base, room_key, user=user)
    await asyncio.wait_for(driver.synced.wait(), 5)
    await driver.insert("mine")
    slow_ledger.hold_next()
    await driver.send_raw(mint(room_key, user=user))  # a fresh write ticket
    await asyncio.wait_for(slow_ledger.holding.wait(), 5)
    await control(base, mint, room_key, {"type": "role", "user": user, "role": "read"})
    slow_ledger.release.set()  # the refresh's answer, read before the downgrade, arrives
    await driver.insert(" stale")
    await driver.handled()
    assert await document(connect, base, room_key) == "mine"


async def _join_while_access_changes(
    change: dict[str, str],
    start_node: StartNode,
    connect: Connect,
    mint: Mint,
    room_key: str,
    slow_ledger: SlowLedger,
) -> tuple[str, YClient]:
    """Connect a user whose access ``change`` lands while the node reads its role."""
    base = await start_node(access_ledger=slow_ledger)
    user = str(uuid.uuid4())
    slow_ledger.hold_next()
    client = await connect(base, room_key, user=user)
    await asyncio.wait_for(slow_ledger.holding.wait(), 5)
    await control(base, mint, room_key, {**change, "user": user})
    slow_ledger.release.set()
    return base, client


async def test_a_downgrade_made_while_a_peer_joins_applies_to_it(
    start_node: StartNode, connect: Connect, mint: Mint, room_key: str, slow_ledger: SlowLedger
) -> None:
    base, driver = await _join_while_access_changes(
        {"type": "role", "role": "read"}, start_node, connect, mint, room_key, slow_ledger
    )
    await asyncio.wait_for(driver.synced.wait(), 5)
    await driver.insert("stale")
    await driver.handled()
    assert await document(connect, base, room_key) == ""


async def _edits_dropped_while_read_only(
    base: str, connect: Connect, mint: Mint, room_key: str, user: str
) -> tuple[YClient, YClient]:
    """A driver, and a navigator (``user``) whose typing the node dropped while it was
    read-only, and took back from the navigator's document a moment later (deleted there:
    the items stay, and the navigator's next edits name them as neighbours)."""
    driver = await connect(base, room_key)
    navigator = await connect(base, room_key, user=user)
    await asyncio.wait_for(navigator.synced.wait(), 5)
    await navigator.set_awareness({"user": {"name": "Nico"}})  # it speaks for its client id
    await control(base, mint, room_key, {"type": "role", "user": user, "role": "read"})
    await navigator.insert("typed at the rotation; ")
    await eventually(lambda: str(navigator) == "", what="the dropped edit taken back")
    assert str(driver) == ""
    return driver, navigator


async def test_a_peer_allowed_to_write_again_is_heard_again(
    start_node: StartNode, connect: Connect, mint: Mint, room_key: str
) -> None:
    """The navigator's later edits build on the one dropped: without it the others would
    hold them back for good. Allowed to write again, it is asked for what the room lacks
    (the dropped edit comes deleted: no one sees it)."""
    base = await start_node()
    user = str(uuid.uuid4())
    driver, navigator = await _edits_dropped_while_read_only(base, connect, mint, room_key, user)
    await control(base, mint, room_key, {"type": "role", "user": user, "role": "write"})
    await navigator.insert("then driving")
    await eventually(
        lambda: str(driver) == str(navigator) == "then driving", what="the navigator's edits"
    )
    assert await document(connect, base, room_key) == "then driving"


async def test_a_fresh_write_ticket_after_dropped_edits_is_heard_again(
    start_node: StartNode, connect: Connect, mint: Mint, room_key: str
) -> None:
    base = await start_node(ticket_clock_skew_seconds=0)
    user = str(uuid.uuid4())
    driver, navigator = await _edits_dropped_while_read_only(base, connect, mint, room_key, user)
    await asyncio.sleep(1.1)  # a ticket issued after the downgrade (times are whole seconds)
    await navigator.send_raw(mint(room_key, user=user))
    await eventually(lambda: navigator.received_sync_step1 > 1, what="the state vector")
    await navigator.insert("then driving")
    await eventually(lambda: str(driver) == "then driving", what="the driver's copy")


async def test_an_access_change_from_another_node_asks_for_the_dropped_edits(
    start_node: StartNode, connect: Connect, mint: Mint, room_key: str
) -> None:
    hub, log, ledger = MemoryBus(), MemoryUpdateLog(), MemoryAccessLedger()
    here, there = [
        await start_node(bus=hub.node(), update_log=log, access_ledger=ledger) for _ in range(2)
    ]
    # The room is open on both nodes before anything is dropped: the nodes' hellos (and the
    # catch-ups they start, which judge access too) are over before the change is made.
    observer = await connect(there, room_key, role="read")
    await observer.handled()
    user = str(uuid.uuid4())
    driver, navigator = await _edits_dropped_while_read_only(here, connect, mint, room_key, user)
    await control(there, mint, room_key, {"type": "role", "user": user, "role": "write"})
    await eventually(lambda: navigator.received_sync_step1 > 1, what="the state vector")
    await navigator.insert("then driving")
    expected = "then driving"
    await eventually(lambda: str(driver) == str(observer) == expected, what="both nodes' peers")


async def test_what_a_read_only_peer_answers_on_joining_is_dropped_not_taken_back(
    start_node: StartNode, connect: Connect, room_key: str
) -> None:
    """A sync step 2 may hold what other nodes accepted and this one has not heard yet:
    dropped, but not deleted from the peer's screen (a live edit is, see above)."""
    base = await start_node()
    reader = await connect(base, room_key, role="read")
    await reader.handled()
    await reader.disconnect()
    await reader.insert("drafted while away")
    await reader.connect()
    await reader.handled()  # the node has handled its sync step 2, and answered since
    assert await node_metric(base, "collab_readonly_updates_dropped_total") == 1
    assert str(reader) == "drafted while away"
    assert await document(connect, base, room_key) == ""


async def test_a_read_only_peer_joining_drops_no_update(
    start_node: StartNode, connect: Connect, room_key: str
) -> None:
    """A newcomer answers the node's state vector with an empty update: nothing refused,
    nothing stored, nothing sent to the others."""
    base = await start_node()
    writer = await connect(base, room_key)
    await asyncio.wait_for(writer.synced.wait(), 5)
    reader = await connect(base, room_key, role="read")
    await asyncio.wait_for(reader.synced.wait(), 5)
    await reader.handled()
    newcomer = await connect(base, room_key)
    await newcomer.handled()
    assert await node_metric(base, "collab_readonly_updates_dropped_total") == 0
    assert writer.received_updates == 1  # its own sync step 2, nothing from the others


async def test_a_revoke_made_while_a_peer_joins_closes_it(
    start_node: StartNode, connect: Connect, mint: Mint, room_key: str, slow_ledger: SlowLedger
) -> None:
    _, removed = await _join_while_access_changes(
        {"type": "revoke"}, start_node, connect, mint, room_key, slow_ledger
    )
    assert await closed_with(removed) == 4403


async def test_a_removed_participant_hears_nothing_of_the_room(
    start_node: StartNode, connect: Connect, mint: Mint, room_key: str
) -> None:
    """An old ticket of a removed participant is refused before the room greets it: no
    state vector, no names or cursors of the people in it, only the close."""
    base = await start_node()
    user = str(uuid.uuid4())
    old_ticket = mint(room_key, user=user)
    present = await connect(base, room_key)
    await present.set_awareness({"name": "Ana", "cursor": 3})
    await present.handled()
    await control(base, mint, room_key, {"type": "revoke", "user": user})
    message = await first_message(f"{base}/{room_key}?ticket={old_ticket}")
    assert message.type == aiohttp.WSMsgType.CLOSE
    assert message.data == 4403


async def test_a_ticket_from_an_issuer_clock_ahead_cannot_undo_a_change(
    start_node: StartNode, connect: Connect, mint: Mint, room_key: str
) -> None:
    """The dojo service's clock runs 3 s ahead: tickets minted just before a revoke or a
    downgrade carry a later time than the change, and still lose to it. A re-grant (a new
    role change) right after opens the room again, with the role it gives."""
    base = await start_node()
    removed, former_driver = str(uuid.uuid4()), str(uuid.uuid4())
    ahead = int(time.time()) + 3
    old_removed = mint(room_key, user=removed, iat=ahead)
    old_driver = mint(room_key, user=former_driver, role="write", iat=ahead)
    await control(base, mint, room_key, {"type": "revoke", "user": removed})
    await control(base, mint, room_key, {"type": "role", "user": former_driver, "role": "read"})
    message = await first_message(f"{base}/{room_key}?ticket={old_removed}")
    assert message.type == aiohttp.WSMsgType.CLOSE
    assert message.data == 4403
    driver = await connect(base, room_key, ticket=old_driver)
    await asyncio.wait_for(driver.synced.wait(), 5)
    await driver.insert("stale")
    await driver.handled()
    assert await document(connect, base, room_key) == ""
    await control(base, mint, room_key, {"type": "role", "user": removed, "role": "write"})
    back = await connect(base, room_key, user=removed, iat=int(time.time()) + 3)
    await asyncio.wait_for(back.synced.wait(), 5)
    await back.insert("back")
    await back.handled()
    assert await document(connect, base, room_key) == "back"


async def test_a_removed_participant_cannot_make_the_node_load_the_room(
    start_node: StartNode, connect: Connect, mint: Mint, room_key: str, slow_log: SlowLoads
) -> None:
    """Once everyone has left and the room is unloaded, an old ticket of a removed user is
    refused without reading the room from the database."""
    base = await start_node(update_log=slow_log, idle_room_seconds=0)
    user = str(uuid.uuid4())
    old_ticket = mint(room_key, user=user)
    present = await connect(base, room_key)
    await control(base, mint, room_key, {"type": "revoke", "user": user})
    await present.close()
    await eventually(lambda: no_rooms_loaded(base), what="the room unloads")
    loads = slow_log.started
    message = await first_message(f"{base}/{room_key}?ticket={old_ticket}")
    assert message.type == aiohttp.WSMsgType.CLOSE
    assert message.data == 4403
    assert slow_log.started == loads
    assert await no_rooms_loaded(base)


async def test_a_ticket_that_expires_while_the_room_loads_gets_nothing_of_it(
    start_node: StartNode, mint: Mint, room_key: str, slow_log: SlowLoads
) -> None:
    base = await start_node(update_log=slow_log)
    slow_log.gate.clear()
    joining = asyncio.create_task(
        first_message(f"{base}/{room_key}?ticket={mint(room_key, ttl=2)}")  # lasts 1 to 2 s
    )
    await eventually(lambda: slow_log.started == 1, what="the room starts loading")
    await asyncio.sleep(2.2)  # the ticket expires meanwhile
    slow_log.gate.set()
    message = await joining
    assert message.type == aiohttp.WSMsgType.CLOSE
    assert message.data == 4401


async def test_a_join_still_reading_access_when_a_drain_begins_is_refused_with_1012(
    ticket_key: tuple[str, str], mint: Mint, room_key: str, slow_ledger: SlowLedger
) -> None:
    """The drain closes the node's peers; a connection that becomes one after the drain
    began would stay, unclosed, until the drain gave up on it."""
    settings = CollabSettings(environment="test", ticket_public_key=ticket_key[1], drain_seconds=2)
    runner = web.AppRunner(create_app(settings, access_ledger=slow_ledger), shutdown_timeout=3)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    slow_ledger.hold_next()
    joining = asyncio.create_task(
        first_message(f"ws://127.0.0.1:{port}/collab/{room_key}?ticket={mint(room_key)}")
    )
    await asyncio.wait_for(slow_ledger.holding.wait(), 5)
    stopping = asyncio.create_task(runner.cleanup())  # what SIGTERM triggers
    await asyncio.sleep(0.2)  # the drain has begun
    slow_ledger.release.set()
    message = await joining
    await stopping
    assert message.type == aiohttp.WSMsgType.CLOSE
    assert message.data == 1012


async def test_an_access_ledger_that_cannot_answer_closes_with_1011(
    start_node: StartNode, mint: Mint, room_key: str
) -> None:
    """Redis away while a peer joins: a clear close it can retry on, not a dropped socket."""
    unreachable = RedisAccessLedger("redis://127.0.0.1:1/0")
    try:
        base = await start_node(access_ledger=unreachable)
        message = await first_message(f"{base}/{room_key}?ticket={mint(room_key)}")
        assert message.type == aiohttp.WSMsgType.CLOSE
        assert message.data == 1011
        assert "reconnect" in message.extra
    finally:
        await unreachable.aclose()


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


async def test_a_user_holds_at_most_so_many_connections_on_a_node(
    start_node: StartNode, connect: Connect, room_key: str
) -> None:
    """All rooms together: one more is closed with 1008; other users are not counted with
    it, and a connection closed frees its place."""
    base = await start_node(max_connections_per_user=2)
    user = str(uuid.uuid4())
    first = await connect(base, room_key, user=user)
    second = await connect(base, f"{room_key}-2", user=user)
    await asyncio.gather(first.handled(), second.handled())
    one_too_many = await connect(base, room_key, user=user)
    assert await closed_with(one_too_many) == 1008
    someone_else = await connect(base, room_key)
    await someone_else.handled()
    await first.close()
    await eventually(
        lambda: _open_connections(base, 2), what="the node letting the first connection go"
    )
    again = await connect(base, room_key, user=user)
    await again.handled()
    assert second.connected
    assert someone_else.connected


async def _open_connections(base: str, count: int) -> bool:
    return await node_metric(base, "collab_connections") == count


async def test_a_peer_past_its_byte_budget_is_read_at_its_pace_alone(
    start_node: StartNode, connect: Connect, room_key: str
) -> None:
    """Three 100 KB pastes against a budget of 100 KB, refilled at 100 KB/s: the node reads
    the second and the third a second apart each, and meanwhile another peer's edits flow."""
    base = await start_node(read_bytes_per_second=100_000, read_bytes_burst=100_000)
    paster, typist = await connect(base, room_key), await connect(base, room_key)
    other_room = await connect(base, f"{room_key}-2")
    await asyncio.gather(paster.handled(), typist.handled(), other_room.handled())
    started = time.monotonic()
    for _ in range(3):
        await paster.insert("p" * 100_000)
    await typist.insert("t")
    await eventually(lambda: "t" in str(paster), what="the typist's edit, while the paste waits")
    assert str(typist).count("p") < 300_000  # not all of the pastes were read yet
    await other_room.insert("o")
    await other_room.handled()
    await paster.handled()  # all three read
    assert time.monotonic() - started >= 1.8
    assert str(typist).count("p") == 300_000
    assert await node_metric(base, "collab_read_throttled_seconds_total") >= 1.8


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
