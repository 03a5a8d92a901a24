"""Real JavaScript Yjs clients for tests: y-websocket's `WebsocketProvider` in a Node process.

    async with YjsNodeClient.start() as alice:
        await alice.connect(server_url, "room", params={"ticket": ticket})
        await alice.wait_synced()
        await alice.insert("hello")

One Node process (loadtests/js/client.mjs) per client, driven over stdin/stdout JSON lines;
every command has a timeout, and the process is always reaped on exit. Server events
(status, synced, connection-close with its code, closed) are kept in `events`.
The Python counterpart, pycrdt's provider, is in `tests.harness.pycrdt_client`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import shutil
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

from loadtests.servers import JS_DIR

CLIENT_SCRIPT = JS_DIR / "client.mjs"


class YjsClientError(RuntimeError):
    """The Node client answered a command with an error (or is gone)."""


def require_node() -> str:
    """The node executable; fail clearly when Node or the npm packages are missing."""
    node = shutil.which("node")
    if node is None:
        raise RuntimeError(
            "Node.js is needed for the Yjs interop tests (./mrbill test installs it)"
        )
    if not (JS_DIR / "node_modules" / "y-websocket").is_dir():
        raise RuntimeError(f"npm packages missing: run `npm ci --prefix {JS_DIR}`")
    return node


class YjsNodeClient:
    """One WebsocketProvider + Y.Doc in a Node process; use `start()` as a context manager."""

    def __init__(self, process: asyncio.subprocess.Process, timeout: float) -> None:
        self._process = process
        self.timeout = timeout
        self.client_id: int | None = None
        self.events: list[dict[str, Any]] = []
        self.stderr: deque[str] = deque(maxlen=200)
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._readers: list[asyncio.Task[None]] = []

    @classmethod
    @contextlib.asynccontextmanager
    async def start(cls, *, command_timeout: float = 10.0) -> AsyncIterator[YjsNodeClient]:
        """Start the Node process; stop it (and its connection) on exit."""
        process = await asyncio.create_subprocess_exec(
            require_node(),
            str(CLIENT_SCRIPT),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        client = cls(process, command_timeout)
        client._readers = [
            asyncio.create_task(client._read_replies()),
            asyncio.create_task(client._read_stderr()),
        ]
        try:
            yield client
        finally:
            await client._shutdown()

    async def _read_replies(self) -> None:
        assert self._process.stdout is not None
        async for raw in self._process.stdout:
            message = json.loads(raw)
            waiter = self._waiting.pop(message.get("id") or 0, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(message)
            elif "event" in message:
                self.events.append(message)
        for waiter in self._waiting.values():
            if not waiter.done():
                waiter.set_exception(YjsClientError(f"node client exited: {self.stderr_text}"))

    async def _read_stderr(self) -> None:
        assert self._process.stderr is not None
        async for raw in self._process.stderr:
            self.stderr.append(raw.decode(errors="replace").rstrip())

    @property
    def stderr_text(self) -> str:
        return "\n".join(self.stderr)

    async def request(
        self, cmd: str, fields: dict[str, Any] | None = None, *, within: float | None = None
    ) -> dict[str, Any]:
        """Send one command; return its reply within `within` s (default: the client's timeout).

        Raises YjsClientError on an error reply, TimeoutError when none comes.
        """
        if self._process.returncode is not None or self._process.stdin is None:
            raise YjsClientError(f"node client has exited: {self.stderr_text}")
        ident = next(self._ids)
        waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[ident] = waiter
        line = json.dumps({**(fields or {}), "id": ident, "cmd": cmd}) + "\n"
        self._process.stdin.write(line.encode())
        await self._process.stdin.drain()
        try:
            async with asyncio.timeout(within or self.timeout):
                reply = await waiter
        finally:
            self._waiting.pop(ident, None)
        if not reply.get("ok"):
            raise YjsClientError(f"{cmd}: {reply.get('error')}")
        return reply

    async def connect(
        self,
        url: str,
        room: str,
        *,
        params: dict[str, str] | None = None,
        text_name: str = "text",
        reconnect: bool = True,
    ) -> int:
        """Create the provider (connecting to `url` + "/" + room + "?" + params)."""
        fields = {"url": url, "room": room, "params": params or {}, "textName": text_name}
        reply = await self.request("connect", {**fields, "reconnect": reconnect})
        self.client_id = int(reply["clientID"])
        return self.client_id

    async def wait_synced(self, seconds: float = 10.0) -> None:
        await self.request("waitSynced", {"timeout": int(seconds * 1000)}, within=seconds + 1)

    async def insert(self, text: str, index: int | None = None) -> int:
        """Insert at `index` (default: the end); return the new length."""
        fields: dict[str, Any] = {"text": text} | ({} if index is None else {"index": index})
        return int((await self.request("insert", fields))["length"])

    async def delete(self, index: int, length: int) -> int:
        return int((await self.request("delete", {"index": index, "length": length}))["length"])

    async def text(self) -> str:
        return str((await self.request("getText"))["text"])

    async def state_vector(self) -> bytes:
        return base64.b64decode((await self.request("getStateVector"))["stateVector"])

    async def last_message_ago(self) -> float:
        """Seconds since the provider last received a message (past 30 it reconnects)."""
        return float((await self.request("lastMessageAgo"))["ms"]) / 1000

    async def set_awareness(self, state: dict[str, Any] | None) -> None:
        await self.request("setAwareness", {"state": state})

    async def awareness(self) -> dict[int, Any]:
        """Every awareness state this client knows, its own included, by client id."""
        states = (await self.request("getAwareness"))["states"]
        return {int(client): state for client, state in states.items()}

    async def close(self) -> None:
        """Destroy the provider (the process keeps running until the context exits)."""
        await self.request("close")

    async def _shutdown(self) -> None:
        process = self._process
        if process.returncode is None and process.stdin is not None:
            with contextlib.suppress(ConnectionError, YjsClientError, TimeoutError):
                await self.request("exit", within=2)
            process.stdin.close()
        try:
            async with asyncio.timeout(5):
                await process.wait()
        except TimeoutError:
            process.kill()
            await process.wait()
        for reader in self._readers:
            reader.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)
