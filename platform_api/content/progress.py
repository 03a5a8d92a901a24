"""Live progress: PostgreSQL ``NOTIFY`` wakes Server-Sent Event streams of this process.

Workers change a request and ``NOTIFY content_progress, '<request id>'`` in the same
transaction, so the notice arrives exactly when the change is committed, on every node of the
content service. The notice carries only the id: each stream re-reads the row under its own
tenant (row-level security still applies). If the listening connection is lost (the
database restarted or failed over), streams fall back to re-reading every few seconds, so they
stay correct, only less immediate, while the hub listens again on a new connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import asyncpg
import structlog

from platform_api.kernel.db import usable
from platform_api.kernel.tasks import stop

from . import store

_log = structlog.get_logger("content.progress")
FALLBACK_POLL_SECONDS = 5.0


class ProgressHub:
    """One LISTEN connection per process, fanning notices out to in-process waiters. A lost
    connection is replaced within ``check_seconds``; every waiter is then woken, since a
    change may have been missed meanwhile."""

    def __init__(self, pool: asyncpg.Pool, *, check_seconds: float = 1.0) -> None:
        self._pool = pool
        self._check_seconds = check_seconds
        self._conn: Any = None
        self._keeper: asyncio.Task[None] | None = None
        self._waiters: dict[str, set[asyncio.Event]] = {}

    async def start(self) -> None:
        await self._listen()
        self._keeper = asyncio.create_task(self._keep_listening(), name="progress-listener")

    async def stop(self) -> None:
        if self._keeper is not None:
            await stop(self._keeper)
            self._keeper = None
        await self._unlisten()

    async def _listen(self) -> None:
        conn = await self._pool.acquire()
        try:
            await conn.add_listener(store.CHANNEL, self._on_notice)
        except BaseException:
            await self._pool.release(conn)
            raise
        self._conn = conn

    async def _unlisten(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:  # a lost connection's proxy raises: the pool has it back already
            with contextlib.suppress(Exception):
                await conn.remove_listener(store.CHANNEL, self._on_notice)
            with contextlib.suppress(Exception):
                await self._pool.release(conn)

    async def _keep_listening(self) -> None:
        while True:
            await asyncio.sleep(self._check_seconds)
            if usable(self._conn):
                continue
            await self._unlisten()
            try:
                await self._listen()
            except Exception as exc:  # the database is still away: try at the next check
                _log.warning("progress_listen_failed", error=type(exc).__name__)
                continue
            _log.info("progress_listening_again")
            for waiters in self._waiters.values():
                for event in waiters:
                    event.set()

    def _on_notice(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        for event in self._waiters.get(payload, ()):
            event.set()

    @contextmanager
    def watch(self, request_id: uuid.UUID) -> Iterator[asyncio.Event]:
        """An event set on every change of ``request_id`` while the block runs."""
        key = str(request_id)
        event = asyncio.Event()
        self._waiters.setdefault(key, set()).add(event)
        try:
            yield event
        finally:
            waiters = self._waiters.get(key, set())
            waiters.discard(event)
            if not waiters:
                self._waiters.pop(key, None)


def sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, default=str)}\n\n".encode()


async def event_stream(
    hub: ProgressHub,
    request_id: uuid.UUID,
    read: Callable[[], Any],
    render: Callable[[Any], dict[str, Any]],
    *,
    max_seconds: float,
    terminal: frozenset[str],
) -> AsyncIterator[bytes]:
    """Yield ``progress`` events until the request ends (or is deleted, or time runs out)."""
    deadline = time.monotonic() + max_seconds
    last: tuple[str, int] | None = None
    yield b"retry: 2000\n\n"
    while True:
        with hub.watch(request_id) as changed:
            row = await read()  # read after subscribing: no change can slip in between
            if row is None:
                yield sse("deleted", {"request_id": str(request_id)})
                return
            state = (row["status"], row["progress"])
            if state != last:
                last = state
                yield sse("progress", render(row))
            if row["status"] in terminal:
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            try:
                async with asyncio.timeout(min(FALLBACK_POLL_SECONDS, remaining)):
                    await changed.wait()
            except TimeoutError:
                yield b": keep-alive\n\n"
