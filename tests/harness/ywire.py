"""A minimal y-websocket client on pycrdt + aiohttp, for driving the collab server in tests."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from pycrdt import Doc, Text

from crdt import (
    AwarenessUpdate,
    SyncStep1,
    SyncStep2,
    SyncUpdate,
    apply_update_to_doc,
    encode_awareness,
    encode_state_as_update,
    encode_sync_step1,
    encode_sync_step2,
    encode_update,
    parse_message,
    state_vector,
)
from crdt.awareness import AwarenessEntry


class YClient:
    """One Yjs peer: a pycrdt doc kept in sync with a room over the y-websocket protocol."""

    def __init__(self, url: str, *, text: str = "code") -> None:
        self.url = url
        self.doc: Doc = Doc()
        self.text = self.doc.get(text, type=Text)
        self.awareness: dict[int, Any] = {}
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.close_code: int | None = None
        self.synced = asyncio.Event()
        self.received_updates = 0
        self.received_sync_step1 = 0  # state vectors the server asked with
        self._reader: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._clock = 0
        self._state: dict[str, Any] | None = None  # the last set with ``set_awareness``

    async def connect(self, url: str | None = None) -> YClient:
        """Connect (or reconnect, keeping the document) and start the sync handshake."""
        if url is not None:
            self.url = url
        if self._session is None:
            self._session = aiohttp.ClientSession()
        self.close_code = None
        self.synced.clear()
        self.ws = await self._session.ws_connect(self.url, max_msg_size=64 * 1024 * 1024)
        self._reader = asyncio.create_task(self._read())
        await self.ws.send_bytes(encode_sync_step1(state_vector(self.doc)))
        return self

    async def _read(self) -> None:
        assert self.ws is not None
        async for msg in self.ws:
            if msg.type != aiohttp.WSMsgType.BINARY:
                continue
            message = parse_message(msg.data, max_update_bytes=64 * 1024 * 1024)
            if isinstance(message, SyncStep1):
                self.received_sync_step1 += 1
                diff = encode_state_as_update(self.doc, message.state_vector)
                await self.ws.send_bytes(encode_sync_step2(diff))
            elif isinstance(message, SyncStep2 | SyncUpdate):
                apply_update_to_doc(self.doc, message.update, max_bytes=None)
                self.received_updates += 1
                if isinstance(message, SyncStep2):
                    self.synced.set()
            elif isinstance(message, AwarenessUpdate):
                for entry in message.entries:
                    if entry.state is None:
                        self.awareness.pop(entry.client_id, None)
                        if entry.client_id == self.doc.client_id:
                            await self._answer_removal(entry.clock)
                    else:
                        self.awareness[entry.client_id] = entry.state
        self.close_code = self.ws.close_code

    async def edit(self, change: Callable[[Text], None]) -> bytes:
        """Make a local change and send it as an update (if connected); return the update."""
        before = self.doc.get_state()
        change(self.text)
        update = self.doc.get_update(before)
        if self.connected:
            assert self.ws is not None
            with contextlib.suppress(ConnectionError, aiohttp.ClientError):
                await self.ws.send_bytes(encode_update(update))
        return update

    async def insert(self, value: str, index: int | None = None) -> bytes:
        def change(text: Text) -> None:
            text.insert(len(text) if index is None else index, value)

        return await self.edit(change)

    async def set_awareness(self, state: dict[str, Any]) -> None:
        assert self.ws is not None
        self._state = state
        self._clock += 1
        entry = AwarenessEntry(self.doc.client_id, self._clock, json.dumps(state), state)
        await self.ws.send_bytes(encode_awareness([entry]))

    async def _answer_removal(self, clock: int) -> None:
        """As a y-protocols client does: told that it left (a removal with a clock not
        below its own) while it has a state, it sends that state again with a later clock."""
        if self._state is not None and clock >= self._clock:
            self._clock = clock
            with contextlib.suppress(ConnectionError, aiohttp.ClientError):
                await self.set_awareness(self._state)

    async def handled(self) -> None:
        """Wait until the server has handled what this client sent so far: it answers a sync
        step 1 only after the messages before it (and their commits). Waits for the first
        sync first: until then the answer to the connection's own sync step 1 may be ahead."""
        await asyncio.wait_for(self.synced.wait(), 5)
        self.synced.clear()
        await self.send_raw(encode_sync_step1(state_vector(self.doc)))
        await asyncio.wait_for(self.synced.wait(), 5)

    async def send_raw(self, data: bytes | str) -> None:
        assert self.ws is not None
        if isinstance(data, str):
            await self.ws.send_str(data)
        else:
            await self.ws.send_bytes(data)

    async def wait_closed(self, timeout: float = 15.0) -> int | None:
        assert self._reader is not None
        await asyncio.wait_for(asyncio.shield(self._reader), timeout)
        return self.close_code

    async def disconnect(self) -> None:
        """Close the socket but keep the document (and the session) for a reconnect."""
        if self.ws is not None and not self.ws.closed:
            await self.ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader

    @property
    def connected(self) -> bool:
        return self.ws is not None and not self.ws.closed

    async def close(self) -> None:
        await self.disconnect()
        if self._session is not None:
            await self._session.close()
            self._session = None

    def __str__(self) -> str:
        return str(self.text)


async def eventually(
    condition: Callable[[], bool | Awaitable[bool]],
    *,
    timeout: float = 15.0,
    what: str = "condition",
) -> None:
    """Poll ``condition`` until it holds, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)
