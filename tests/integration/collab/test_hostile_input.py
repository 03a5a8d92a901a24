"""Hostile input against live nodes: allocation bombs under a memory cap, and fuzzing.

The node runs as a real process with RLIMIT_AS set, so an allocation bomb that slipped past
validation would fail (MemoryError or death) instead of quietly passing on a big machine.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pycrdt import Array, Doc, Map, write_var_uint

from crdt import encode_update
from tests.harness.nodes import NodeProcess
from tests.harness.ywire import YClient, eventually

from .conftest import Connect, Mint, StartNode

DOCUMENTED_CLOSE_CODES = {1002, 1003, 1007, 1008, 1009, 4413}
BOMBS = [
    b"\x00\x02\xff\xff\xff\x7a",  # update length prefix
    b"\x00\x02\x05\xff\xff\xff\x7a\x00",  # struct-group count
    b"\x00\x00\x05\xff\xff\xff\x7a\x00",  # state vector count
    b"\x00\x00\x05\xff\xff\xff\xff\x01",  # state vector count, bigger
    b"\x01\x05\xff\xff\xff\x7a\x00",  # awareness entry count
    encode_update(
        b"\x01\x01\x05\x00\x08\x01\x01\x75\xff\xff\xff\x1f" + b"\x00" * 8
    ),  # Any object count
]


def nested_arrays(levels: int) -> bytes:
    """Y.Arrays nested `levels` deep under root "code", then all deleted: Yrs deletes such a
    chain recursively, and ~40k levels overflow the node's stack (SIGSEGV)."""
    parts = [write_var_uint(n) for n in (1, levels, 5, 0)]
    parts.append(b"\x07\x01" + write_var_uint(4) + b"code\x00")  # parent: root "code"
    for clock in range(levels - 1):  # parent: the item before
        parts.append(b"\x07\x00\x05" + write_var_uint(clock) + b"\x00")
    parts.append(b"\x01\x05\x01\x00\x01")  # delete set: client 5, clock 0, length 1
    return b"".join(parts)


def map_holding_array() -> bytes:
    doc: Doc[Map] = Doc()
    doc.get("m", type=Map)["a"] = Array()
    return doc.get_update()


@pytest.fixture
def capped_node(ticket_key: tuple[str, str], tmp_path: Path):
    node = NodeProcess(
        "capped",
        {
            "COLLAB_TICKET_PUBLIC_KEY": ticket_key[1],
            "COLLAB_RATE_BURST": "100000",
            "COLLAB_RATE_PER_SECOND": "100000",
        },
        tmp_path,
        memory_limit=1536 * 1024 * 1024,
    ).start()
    yield node
    node.stop()


async def test_allocation_bombs_under_a_memory_cap(
    capped_node: NodeProcess, mint: Mint, room_key: str
) -> None:
    healthy = await YClient(f"{capped_node.url}/{room_key}?ticket={mint(room_key)}").connect()
    baseline = capped_node.rss_bytes()
    try:
        for _round in range(5):
            attackers = [
                await YClient(f"{capped_node.url}/{room_key}?ticket={mint(room_key)}").connect()
                for _ in BOMBS
            ]
            for attacker, bomb in zip(attackers, BOMBS, strict=True):
                await attacker.send_raw(bomb)
            codes = [await a.wait_closed(timeout=10) for a in attackers]
            for attacker in attackers:
                await attacker.close()
            assert all(code in DOCUMENTED_CLOSE_CODES for code in codes), codes
        assert capped_node.alive
        await healthy.insert("alive")
        probe = await YClient(f"{capped_node.url}/{room_key}?ticket={mint(room_key)}").connect()
        await eventually(lambda: str(probe) == "alive", what="node still serving")
        await probe.close()
        growth = capped_node.rss_bytes() - baseline
        assert growth < 64 * 1024 * 1024, f"RSS grew by {growth / 2**20:.0f} MiB"
    finally:
        await healthy.close()


async def test_nested_shared_types_close_the_writer_and_spare_the_node(
    capped_node: NodeProcess, mint: Mint, room_key: str
) -> None:
    """Rooms hold root-level types only: a nested one closes its writer with 1003, however
    deep (45k levels deleted at once used to crash the node, and every tenant's rooms)."""
    elsewhere = f"{uuid.uuid4()}:dojo-elsewhere"
    neighbour = await YClient(f"{capped_node.url}/{elsewhere}?ticket={mint(elsewhere)}").connect()
    try:
        async with aiohttp.ClientSession() as session:
            for update in (map_holding_array(), nested_arrays(45_000)):
                url = f"{capped_node.url}/{room_key}?ticket={mint(room_key)}"
                async with session.ws_connect(url) as ws:
                    await ws.send_bytes(encode_update(update))
                    message = await ws.receive(timeout=10)
                    while message.type == aiohttp.WSMsgType.BINARY:  # the node's greeting
                        message = await ws.receive(timeout=10)
                    assert message.type == aiohttp.WSMsgType.CLOSE
                    assert (message.data, message.extra) == (
                        1003,
                        "nested shared types are not supported",
                    )
            service = {"Authorization": f"Bearer {mint(room_key, role='service')}"}
            http = f"http://127.0.0.1:{capped_node.port}/internal/rooms/{room_key}/updates"
            response = await session.post(http, data=map_holding_array(), headers=service)
            assert response.status == 422
        assert capped_node.alive
        await neighbour.insert("still served")
        probe = await YClient(f"{capped_node.url}/{elsewhere}?ticket={mint(elsewhere)}").connect()
        await eventually(lambda: str(probe) == "still served", what="node still serving")
        await probe.close()
    finally:
        await neighbour.close()


async def test_flood_of_tiny_fragments_is_bounded(
    capped_node: NodeProcess, mint: Mint, room_key: str
) -> None:
    """A message split into thousands of 1-byte continuation frames past the size cap: 1009."""
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(f"{capped_node.url}/{room_key}?ticket={mint(room_key)}") as ws,
    ):
        await ws.receive(timeout=5)
        # Raw masked frames: a BINARY frame without FIN, then 1-byte CONTINUATION frames.
        transport = ws._writer.transport  # type: ignore[attr-defined]
        mask = b"\x00\x00\x00\x00"
        transport.write(bytes([0x02, 0x81]) + mask + b"\x00")
        chunk = (bytes([0x00, 0x81]) + mask + b"\x00") * 4096
        for _ in range(400):  # up to ~1.6 MB of payload in 1-byte fragments
            if ws.closed or transport.is_closing():
                break
            transport.write(chunk)
            await asyncio.sleep(0)
        message = await ws.receive(timeout=10)
        assert message.type == aiohttp.WSMsgType.CLOSE
        assert message.data == 1009
        health = await session.get(f"http://127.0.0.1:{capped_node.port}/healthz")
        assert health.status == 200


frames = st.one_of(
    st.binary(max_size=64),
    st.sampled_from(BOMBS),
    st.builds(
        lambda head, tail: head + tail,
        st.sampled_from([b"\x00\x00", b"\x00\x01", b"\x00\x02", b"\x01", b"\x03"]),
        st.binary(max_size=48),
    ),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(payload=frames)
async def test_fuzzed_frames_close_with_documented_codes_and_spare_others(
    start_node: StartNode, connect: Connect, room_key: str, payload: bytes
) -> None:
    base = await start_node()
    witness = await connect(base, room_key)
    attacker = await connect(base, room_key)
    await attacker.send_raw(payload)
    try:
        code = await attacker.wait_closed(timeout=0.2)
    except TimeoutError:
        code = None  # still open: the bytes were a valid message
    assert code is None or code in DOCUMENTED_CLOSE_CODES, code
    await attacker.close()
    observer = await connect(base, room_key)
    await witness.insert("ok")
    await eventually(lambda: "ok" in str(observer), what="others still served")
    await witness.close()
    await observer.close()
