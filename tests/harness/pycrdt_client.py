"""A Python Yjs client for tests: pycrdt's `Provider` over a `websockets` client connection.

pycrdt-websocket 0.16 has no client provider of its own any more: it builds on
`pycrdt.Provider(doc, channel)`, which needs a `Channel` (path, send, recv, async iteration).
`WebsocketsChannel` is that channel for the `websockets` library. The provider only handles
sync messages, so awareness is handled here: incoming awareness updates are applied to a
`pycrdt.Awareness`, and our own state is encoded with `crdt` (pycrdt's encoder writes string
lengths in code points, which breaks non-ASCII states such as "João").

Worth knowing: pycrdt's provider sends every transaction of its document to the server,
remote ones included, so each update it receives goes back to the server once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
from pycrdt import Awareness, Doc, Provider, Text
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from crdt import AwarenessEntry, encode_awareness
from loadtests.ywire import MSG_AWARENESS, room_url, split_message


class WebsocketsChannel:
    """A pycrdt `Channel` over a `websockets` connection; awareness goes to `on_awareness`."""

    def __init__(self, ws: ClientConnection, path: str, on_awareness: Callable[[bytes], None]):
        self._ws = ws
        self._path = path
        self._on_awareness = on_awareness

    @property
    def path(self) -> str:
        return self._path

    def __aiter__(self) -> WebsocketsChannel:
        return self

    async def __anext__(self) -> bytes:
        try:
            return await self.recv()
        except ConnectionClosed:
            raise StopAsyncIteration from None

    async def send(self, message: bytes) -> None:
        await self._ws.send(message)

    async def recv(self) -> bytes:
        while True:
            frame = await self._ws.recv(decode=False)
            kind, _, payload = split_message(frame)
            if kind != MSG_AWARENESS:
                return frame
            self._on_awareness(payload)


class PycrdtClient:
    """A pycrdt document synced through pycrdt's provider, plus awareness."""

    def __init__(self, ws: ClientConnection, text_name: str) -> None:
        self.ws = ws
        self.doc: Doc[Any] = Doc()
        self.text = self.doc.get(text_name, type=Text)
        self.awareness = Awareness(self.doc)
        self.provider: Provider | None = None

    @property
    def client_id(self) -> int:
        return self.doc.client_id

    @classmethod
    @contextlib.asynccontextmanager
    async def connect(
        cls,
        url: str,
        room: str,
        *,
        params: dict[str, str] | None = None,
        text_name: str = "text",
        open_timeout: float = 10.0,
    ) -> AsyncIterator[PycrdtClient]:
        """Connect like y-websocket's provider does (URL + "/" + room + "?" + params).

        The connection and the provider live in a task of their own: anyio's cancel scopes
        must be left by the task that entered them, and a pytest fixture's setup and
        teardown may run in different tasks.
        """
        target = room_url(url, room, params)
        ready: asyncio.Future[PycrdtClient] = asyncio.get_running_loop().create_future()
        leave = asyncio.Event()

        async def host() -> None:
            async with connect(target, open_timeout=open_timeout, close_timeout=2) as ws:
                client = cls(ws, text_name)
                channel = WebsocketsChannel(ws, target, client._apply_awareness)
                async with Provider(client.doc, channel) as provider:
                    client.provider = provider
                    ready.set_result(client)
                    await leave.wait()

        hosting = asyncio.create_task(host(), name=f"pycrdt client {target}")
        try:
            pending: set[asyncio.Future[Any]] = {ready, hosting}
            await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            if not ready.done():
                hosting.result()  # raises why the connection failed
                raise ConnectionError(f"pycrdt client for {target} stopped before it started")
            yield ready.result()
        finally:
            leave.set()
            async with asyncio.timeout(10):
                await hosting

    def _apply_awareness(self, payload: bytes) -> None:
        self.awareness.apply_awareness_update(payload, "remote")

    async def wait_synced(self, seconds: float = 10.0) -> None:
        assert self.provider is not None
        with anyio.fail_after(seconds):
            await self.provider.synced.wait()

    async def set_awareness(self, state: dict[str, Any] | None) -> None:
        """Set and announce this client's awareness state."""
        self.awareness.set_local_state(state)
        clock = self.awareness.meta[self.client_id]["clock"]
        await self.ws.send(encode_awareness([AwarenessEntry.of(self.client_id, clock, state)]))

    def awareness_states(self) -> dict[int, Any]:
        """Every awareness state this client knows, its own included."""
        return dict(self.awareness.states)
