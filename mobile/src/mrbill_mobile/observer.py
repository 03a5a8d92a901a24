"""Watch a dojo's code live: a read-only Yjs peer over the standard y-websocket protocol.

It answers the server's sync step 1 (with nothing: it never edits), applies sync step 2 and
updates to a local pycrdt document, and reports the shared text ``code`` after each change.
It never sends a document update; the room would drop one anyway (read ticket). Before the
ticket expires it sends a fresh one as a text frame, as the collab server expects, until the
connection closes. Changes to the room's ``dojo`` map (status, driver: written by the dojo
service) are reported too, as a signal to re-read the dojo from its API, which is the record.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from .api import Ticket

_log = logging.getLogger(__name__)
TicketSource = Callable[[], Awaitable[Ticket]]
SYNC = 0  # y-websocket message type; 1 is awareness, which an observer only listens to
META = "dojo"  # the room's map of the dojo's state, written by the dojo service


class DojoObserver:
    def __init__(
        self,
        ticket: Ticket,
        on_code: Callable[[str], None],
        *,
        renew: TicketSource | None = None,
        on_closed: Callable[[int | None], None] | None = None,
        on_meta: Callable[[dict[str, Any]], None] | None = None,
        text: str = "code",
    ) -> None:
        from pycrdt import Doc, Map, Text  # a native wheel: imported only when a dojo is watched

        self.ticket = ticket
        self.on_code = on_code
        self.renew = renew
        self.on_closed = on_closed
        self.on_meta = on_meta
        self.doc: Any = Doc()
        self.text: Any = self.doc.get(text, type=Text)
        self.meta_map: Any = self.doc.get(META, type=Map)
        self.meta: dict[str, Any] = {}
        self.code = ""
        self.close_code: int | None = None
        self.synced = asyncio.Event()
        self._ws: Any = None
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> DojoObserver:
        import websockets
        from pycrdt import create_sync_message

        url = f"{self.ticket.url}?ticket={self.ticket.ticket}"
        self._ws = await websockets.connect(url, max_size=64 * 1024 * 1024)
        await self._ws.send(create_sync_message(self.doc))
        self._tasks.append(asyncio.create_task(self._read()))
        if self.renew is not None:
            self._tasks.append(asyncio.create_task(self._keep_ticket_fresh()))
        return self

    async def _read(self) -> None:
        from pycrdt import YSyncMessageType, handle_sync_message
        from websockets.exceptions import ConnectionClosed

        try:
            async for message in self._ws:
                if isinstance(message, str) or not message or message[0] != SYNC:
                    continue
                reply = handle_sync_message(message[1:], self.doc)
                if reply is not None:
                    await self._ws.send(reply)  # sync step 2 of an empty doc: no content
                if message[1] == YSyncMessageType.SYNC_STEP2:
                    self.synced.set()
                code = str(self.text)
                if code != self.code:
                    self.code = code
                    self.on_code(code)
                meta = self.meta_map.to_py() or {}
                if meta != self.meta:
                    self.meta = meta
                    if self.on_meta is not None:
                        self.on_meta(meta)
        except ConnectionClosed:
            pass  # the close code below says why
        finally:
            self.close_code = self._ws.close_code
            for task in self._tasks:  # no ticket to renew for a closed connection
                if task is not asyncio.current_task():
                    task.cancel()
            if self.on_closed is not None:
                self.on_closed(self.close_code)

    async def _keep_ticket_fresh(self) -> None:
        assert self.renew is not None
        wait = max(5.0, self.ticket.expires_in * 0.8)
        while True:
            await asyncio.sleep(wait)
            try:
                self.ticket = await self.renew()
                await self._ws.send(self.ticket.ticket)
                wait = max(5.0, self.ticket.expires_in * 0.8)
            except Exception as exc:  # offline for a moment, say: try again soon
                _log.warning("could not renew the room ticket: %r", exc)
                wait = 5.0

    @property
    def connected(self) -> bool:
        return self._ws is not None and self.close_code is None

    async def close(self) -> None:
        self.on_closed = self.on_meta = None  # closing on purpose: nothing to report
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._ws is not None:
            await self._ws.close()
            self.close_code = self._ws.close_code
