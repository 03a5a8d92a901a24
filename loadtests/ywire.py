"""A lean y-websocket client for load generation: pycrdt documents over `websockets`.

It speaks the protocol the way y-websocket's `WebsocketProvider` does: the room is appended
to the server URL as a path segment (not escaped) with the parameters as a query string, and
on open the client sends SyncStep1 (its state vector); it answers the server's SyncStep1 with
SyncStep2 and counts as synced once the server's SyncStep2 has been applied.

Parsing incoming frames is a hand-rolled fast path (no Yrs validation): this is a load
generator talking to servers under test, not a server guarding itself; use
`crdt.parse_message` when the bytes are untrusted.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from pycrdt import Doc, Text
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from crdt import (
    AwarenessEntry,
    encode_awareness,
    encode_state_as_update,
    encode_sync_step1,
    encode_sync_step2,
    encode_update,
    merge_updates,
    state_vector,
)

MSG_SYNC, MSG_AWARENESS, MSG_AUTH, MSG_QUERY_AWARENESS = 0, 1, 2, 3
SYNC_STEP1, SYNC_STEP2, SYNC_UPDATE = 0, 1, 2
MAX_FRAME_BYTES = 256 * 1024 * 1024  # a cold join of a big document is one large SyncStep2

UpdateCallback = Callable[[bytes, int], None]


def room_url(base: str, room: str, params: Mapping[str, str] | None = None) -> str:
    """The URL y-websocket's provider opens: `base` + "/" + room + "?" + encoded params."""
    url = base.rstrip("/") + "/" + room
    if params:
        url += "?" + "&".join(f"{_component(k)}={_component(v)}" for k, v in params.items())
    return url


def _component(value: str) -> str:
    """JavaScript's encodeURIComponent, which lib0's encodeQueryParams uses."""
    return quote(value, safe="!'()*")


def _var_uint(data: bytes, pos: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def split_message(data: bytes) -> tuple[int, int, bytes]:
    """(message kind, sync step or -1, payload) of one y-websocket frame; trusts its input."""
    kind, pos = _var_uint(data, 0)
    step = -1
    if kind == MSG_SYNC:
        step, pos = _var_uint(data, pos)
    if kind in (MSG_SYNC, MSG_AWARENESS):
        length, pos = _var_uint(data, pos)
        return kind, step, data[pos : pos + length]
    return kind, step, data[pos:]


class YClient:
    """One y-websocket connection with its own pycrdt document.

    With `apply_remote=False` incoming updates are only kept (`pending`) and applied by
    `apply_pending()`, which keeps the receive path cheap while load is being generated.
    `on_update(payload, received_at_ns)` sees every incoming update first.
    """

    def __init__(
        self,
        ws: ClientConnection,
        *,
        text_name: str = "text",
        apply_remote: bool = True,
        on_update: UpdateCallback | None = None,
    ) -> None:
        self.ws = ws
        self.doc: Doc[Any] = Doc()
        self.text = self.doc.get(text_name, type=Text)
        self.apply_remote = apply_remote
        self.on_update = on_update
        self.pending: list[bytes] = []
        self.synced = asyncio.Event()
        self.sync_bytes = 0  # size of the server's SyncStep2 payload
        self.updates_received = 0
        self.awareness_received = 0
        self.close_code: int | None = None
        self.error: BaseException | None = None
        self._awareness_clock = 0
        self._reader: asyncio.Task[None] | None = None

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        open_timeout: float = 10.0,
        compression: bool = False,
        **options: Any,
    ) -> YClient:
        """Open `url` (see `room_url`), send SyncStep1 and start reading in the background.

        No permessage-deflate unless asked (so that servers are measured without it) and no
        client pings (browsers send none; servers ping and `websockets` answers).
        """
        ws = await connect(
            url,
            open_timeout=open_timeout,
            compression="deflate" if compression else None,
            max_size=MAX_FRAME_BYTES,
            ping_interval=None,
            close_timeout=2,
        )
        client = cls(ws, **options)
        client._reader = asyncio.create_task(client._read(), name=f"ywire {url}")
        await ws.send(encode_sync_step1(state_vector(client.doc)))
        return client

    async def wait_synced(self, seconds: float) -> None:
        """Wait up to `seconds` for the server's SyncStep2; raise TimeoutError or ConnectionError."""
        async with asyncio.timeout(seconds):
            synced = asyncio.ensure_future(self.synced.wait())
            assert self._reader is not None
            done, _ = await asyncio.wait({synced, self._reader}, return_when="FIRST_COMPLETED")
            if synced not in done:
                synced.cancel()
                raise ConnectionError(
                    f"closed before sync (code {self.close_code})"
                ) from self.error

    async def _read(self) -> None:
        try:
            async for frame in self.ws:
                if isinstance(frame, bytes):
                    reply = self._handle(frame)
                    if reply is not None:
                        await self.ws.send(reply)
        except ConnectionClosed:
            pass
        except Exception as exc:  # kept for the caller: a load generator must not crash silently
            self.error = exc
        finally:
            self.close_code = self.ws.close_code

    def _handle(self, frame: bytes) -> bytes | None:
        received_at = time.time_ns()
        kind, step, payload = split_message(frame)
        if kind == MSG_SYNC:
            if step == SYNC_UPDATE:
                self.updates_received += 1
                if self.on_update is not None:
                    self.on_update(payload, received_at)
                if self.apply_remote:
                    self.doc.apply_update(payload)
                else:
                    self.pending.append(payload)
            elif step == SYNC_STEP2:
                self.sync_bytes = len(payload)
                self.doc.apply_update(payload)
                self.synced.set()
            elif step == SYNC_STEP1:
                return encode_sync_step2(encode_state_as_update(self.doc, payload))
        elif kind == MSG_AWARENESS:
            self.awareness_received += 1
        return None

    async def send_local_change(self, change: Callable[[Text], object]) -> bytes:
        """Run `change(text)` in one transaction and send the resulting update."""
        before = self.doc.get_state()
        with self.doc.transaction():
            change(self.text)
        update = self.doc.get_update(before)
        await self.ws.send(encode_update(update))
        return update

    async def insert(self, index: int, value: str) -> bytes:
        """Insert `value` at `index` of the shared text and send the update."""
        return await self.send_local_change(lambda text: text.insert(index, value))

    async def set_awareness(self, state: dict[str, Any] | None) -> None:
        """Announce this client's awareness state (None: it left)."""
        self._awareness_clock += 1
        entry = AwarenessEntry.of(self.doc.client_id, self._awareness_clock, state)
        await self.ws.send(encode_awareness([entry]))

    def apply_pending(self) -> None:
        """Apply the updates kept while `apply_remote` was off."""
        if self.pending:
            self.doc.apply_update(merge_updates(self.pending))
            self.pending.clear()

    async def close(self) -> None:
        """Close the connection and wait for the reader to finish."""
        await self.ws.close()
        if self._reader is not None:
            await self._reader
