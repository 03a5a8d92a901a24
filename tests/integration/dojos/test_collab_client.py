"""The dojo service's client of the collab nodes' internal API reads a room's state as raw
bytes: the JSON of a large document stalls the node's loop, every room's on it."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
from aiohttp import web
from pycrdt import Doc, Text

from platform_api.dojos import DojosSettings
from platform_api.dojos.collab import HttpCollab
from platform_api.dojos.tickets import TicketSigner
from tests.integration.conftest import StartNode

BYTES = "application/octet-stream"


@pytest.fixture
def room() -> str:
    return f"{uuid.uuid4()}:dojo-{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def collab_at(ticket_key: tuple[str, str]) -> AsyncIterator[Callable[[str], HttpCollab]]:
    signer = TicketSigner(DojosSettings(environment="test", ticket_private_key=ticket_key[0]))
    clients: list[HttpCollab] = []

    def make(base_url: str) -> HttpCollab:
        clients.append(HttpCollab(base_url, signer))
        return clients[-1]

    yield make
    for client in clients:
        await client.aclose()


def _edit(text: str) -> bytes:
    doc: Doc = Doc()
    doc.get("code", type=Text).insert(0, text)
    return doc.get_update()


def _text(update: bytes) -> str:
    doc: Doc = Doc()
    doc.apply_update(update)
    return str(doc.get("code", type=Text))


async def test_the_client_reads_what_it_wrote_through_a_node(
    start_node: StartNode, collab_at: Callable[[str], HttpCollab], room: str
) -> None:
    ws = await start_node()
    collab = collab_at(ws.replace("ws://", "http://").removesuffix("/collab"))
    await collab.apply(room, _edit("print('hi')"))
    assert _text(await collab.state(room)) == "print('hi')"


async def _stand_in(answer_json_only: bool) -> tuple[web.AppRunner, str, list[str]]:
    """A node's GET state as a stand-in: the raw update when asked for it, else JSON (or
    JSON always, as nodes did before they answered bytes); the Accept headers it got."""
    update = _edit("kept")
    accepts: list[str] = []

    async def state(request: web.Request) -> web.Response:
        accepts.append(request.headers.get("Accept", ""))
        if BYTES in accepts[-1] and not answer_json_only:
            return web.Response(body=update, content_type=BYTES)
        return web.json_response({"text": "kept", "update": base64.b64encode(update).decode()})

    app = web.Application()
    app.router.add_get("/internal/rooms/{room}/state", state)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}", accepts


@pytest.mark.parametrize("answer_json_only", [False, True], ids=["bytes", "json-only node"])
async def test_the_client_asks_for_bytes_and_reads_json_from_a_node_without_them(
    collab_at: Callable[[str], HttpCollab], room: str, answer_json_only: bool
) -> None:
    runner, base_url, accepts = await _stand_in(answer_json_only)
    try:
        assert _text(await collab_at(base_url).state(room)) == "kept"
    finally:
        await runner.cleanup()
    assert accepts == [BYTES]
