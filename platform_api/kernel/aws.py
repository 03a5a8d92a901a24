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


def shared_s3_client(
    session: Any, *, owner: str, region: str | None, endpoint_url: str | None, **config: Any
) -> SharedClient:
    """The S3 client of an adapter (``session``: aioboto3's default when ``None``), with a
    pool of ``S3_CONNECTIONS`` and any other botocore ``config``."""
    import aioboto3  # imported late: only production and its tests need the AWS SDK
    from botocore.config import Config

    return SharedClient(
        session or aioboto3.Session(),
        "s3",
        owner=owner,
        region_name=region,
        endpoint_url=endpoint_url,
        config=Config(max_pool_connections=S3_CONNECTIONS, **config),
    )


def sse_kms(kms_key_id: str | None) -> dict[str, str]:
    """The arguments that encrypt an object with SSE-KMS, under ``kms_key_id`` or, without
    one, the bucket's default KMS key."""
    if not kms_key_id:
        return {"ServerSideEncryption": "aws:kms"}
    return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key_id}


async def read_object(s3: Any, bucket: str, key: str) -> bytes | None:
    """The bytes of an S3 object, read to the end (no stream outlives the call); ``None``
    if there is no such key."""
    try:
        response = await s3.get_object(Bucket=bucket, Key=key)
    except s3.exceptions.NoSuchKey:
        return None
    async with response["Body"] as body:
        return bytes(await body.read())
