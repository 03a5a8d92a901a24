"""Real Yjs clients (y-websocket in Node, pycrdt in Python) against reference servers.

Two Node clients and one pycrdt client share a room, edit concurrently, and must end with
the same text and state vector; awareness set by one must reach the others.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass

import pytest

from crdt import decode_state_vector
from loadtests.ywire import room_url
from tests.harness.polling import eventually
from tests.harness.pycrdt_client import PycrdtClient
from tests.harness.yjs_client import YjsNodeClient

from .conftest import ServerUnderTest

pytestmark = pytest.mark.timeout(60)


@dataclass
class Trio:
    server: ServerUnderTest
    room: str
    alice: YjsNodeClient
    bob: YjsNodeClient
    carol: PycrdtClient

    async def texts(self) -> list[str]:
        return [await self.alice.text(), await self.bob.text(), str(self.carol.text)]

    async def state_vectors(self) -> list[dict[int, int]]:
        vectors = [await self.alice.state_vector(), await self.bob.state_vector()]
        vectors.append(self.carol.doc.get_state())
        return [decode_state_vector(v, max_bytes=1 << 16) for v in vectors]


@pytest.fixture
async def trio(reference_server: ServerUnderTest) -> AsyncIterator[Trio]:
    server = reference_server
    room = server.room()
    params = server.params_for(room)
    async with AsyncExitStack() as stack:
        alice = await stack.enter_async_context(YjsNodeClient.start())
        bob = await stack.enter_async_context(YjsNodeClient.start())
        await alice.connect(server.url, room, params=params)
        await bob.connect(server.url, room, params=params)
        carol = await stack.enter_async_context(
            PycrdtClient.connect(server.url, room, params=params)
        )
        await asyncio.gather(alice.wait_synced(), bob.wait_synced(), carol.wait_synced())
        yield Trio(server, room, alice, bob, carol)


async def test_concurrent_edits_converge(trio: Trio) -> None:
    tokens = {tag: [f"[{tag}{i}]" for i in range(20)] for tag in "abc"}

    async def node_edits(client: YjsNodeClient, tag: str) -> None:
        for i, token in enumerate(tokens[tag]):
            await client.insert(token, index=0 if i % 2 else None)

    async def pycrdt_edits() -> None:
        for i, token in enumerate(tokens["c"]):
            trio.carol.text.insert(0 if i % 2 else len(trio.carol.text), token)
            await asyncio.sleep(0)  # let the provider send between edits

    await asyncio.gather(node_edits(trio.alice, "a"), node_edits(trio.bob, "b"), pycrdt_edits())
    texts = await eventually(trio.texts, lambda t: len(set(t)) == 1, what="same text everywhere")
    everything = [token for group in tokens.values() for token in group]
    assert sorted(texts[0].replace("][", "]\n[").split("\n")) == sorted(everything)

    start = texts[0].index("[b7]")
    await trio.bob.delete(start, len("[b7]"))
    trio.carol.text.insert(0, "!")
    texts = await eventually(
        trio.texts,
        lambda t: len(set(t)) == 1 and "[b7]" not in t[0] and t[0].startswith("!"),
        what="the delete and the insert everywhere",
    )
    vectors = await eventually(
        trio.state_vectors, lambda v: v[0] == v[1] == v[2], what="same state vector everywhere"
    )
    assert {trio.alice.client_id, trio.bob.client_id, trio.carol.client_id} <= set(vectors[0])


async def test_awareness_reaches_every_client(trio: Trio) -> None:
    alice_state = {"user": {"name": "João", "color": "#30bced"}}
    carol_state = {"user": {"name": "Carol", "color": "#6eeb83"}}
    await trio.alice.set_awareness(alice_state)
    await trio.carol.set_awareness(carol_state)
    alice_id = trio.alice.client_id
    assert alice_id is not None

    def has_both(states: dict[int, object]) -> bool:
        return (
            states.get(alice_id) == alice_state and states.get(trio.carol.client_id) == carol_state
        )

    await eventually(trio.bob.awareness, has_both, what="bob sees alice and carol")
    await eventually(trio.alice.awareness, has_both, what="alice sees carol")

    async def carol_view() -> dict[int, object]:
        return trio.carol.awareness_states()

    await eventually(carol_view, has_both, what="carol sees alice")


async def test_late_joiner_receives_the_document(trio: Trio) -> None:
    await trio.alice.insert("written before dave came")
    await trio.carol.wait_synced()
    trio.carol.text.insert(0, "and carol too: ")
    expected = await eventually(
        trio.texts, lambda t: len(set(t)) == 1 and "carol" in t[0], what="edits everywhere"
    )
    async with YjsNodeClient.start() as dave:
        params = trio.server.params_for(trio.room)
        await dave.connect(trio.server.url, trio.room, params=params)
        await dave.wait_synced()
        assert await dave.text() == expected[0]


async def test_python_clients_build_the_same_url_as_the_node_provider() -> None:
    room, params = "3f2b:dojo/1", {"ticket": "a b+c/d=e!'()*~", "role": "é"}
    async with YjsNodeClient.start() as client:
        # Port 9 (discard) refuses: we only want the URL the provider computed.
        reply = await client.request(
            "connect",
            {"url": "ws://127.0.0.1:9/", "room": room, "params": params, "reconnect": False},
        )
    assert reply["url"] == room_url("ws://127.0.0.1:9/", room, params)
