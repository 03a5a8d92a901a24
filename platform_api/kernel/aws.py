"""One aioboto3 client per adapter: opened on first use, shared, closed with the adapter.

Creating a client costs milliseconds of CPU on the event loop (botocore loads the service
model and builds its endpoint resolver), and every task of the process waits meanwhile: an
adapter that made one per call would stall a whole node under load. A client is safe to share
between the tasks of one event loop, so each adapter keeps one for its lifetime.
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from typing import Any

S3_CONNECTIONS = 50
"""The S3 adapters' connection pool (botocore's default is 10): a client made per call had a
pool of its own, so one shared client must not turn a load storm into a queue for ten."""


class ClientClosed(RuntimeError):
    """The adapter was closed: its owner has shut it down, and it does not open a new client
    (one opened now would never be closed)."""


class SharedClient:
    """The ``service`` client of ``session``, made with ``client_args`` when first needed."""

    def __init__(self, session: Any, service: str, *, owner: str, **client_args: Any) -> None:
        self._session = session
        self._service = service
        self._owner = owner
        self._client_args = client_args
        self._stack = AsyncExitStack()
        self._client: Any = None
        self._lock = asyncio.Lock()  # concurrent first uses wait for one client
        self._closed = False

    async def get(self) -> Any:
        """The client, opened by the first call; :class:`ClientClosed` after :meth:`aclose`."""
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._closed:
                raise ClientClosed(f"{self._owner} is closed")
            if self._client is None:
                self._client = await self._stack.enter_async_context(
                    self._session.client(self._service, **self._client_args)
                )
            return self._client

    async def aclose(self) -> None:
        """Close the client if one was opened (an opening under way finishes first)."""
        async with self._lock:
            self._closed = True
            self._client = None
            await self._stack.aclose()


async def read_object(s3: Any, bucket: str, key: str) -> bytes | None:
    """The bytes of an S3 object, read to the end (no stream outlives the call); ``None``
    if there is no such key."""
    try:
        response = await s3.get_object(Bucket=bucket, Key=key)
    except s3.exceptions.NoSuchKey:
        return None
    async with response["Body"] as body:
        return bytes(await body.read())
