"""SharedClient: one client per adapter, made once however many callers ask at the same time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from platform_api.kernel.aws import ClientClosed, SharedClient


class SlowSession:
    """Stands in for an aioboto3 session: making a client takes a few turns of the loop, as
    botocore's does (it awaits credentials and the endpoint), so first uses overlap."""

    def __init__(self) -> None:
        self.made: list[tuple[str, dict[str, Any]]] = []
        self.closed = 0

    @asynccontextmanager
    async def client(self, service: str, **kwargs: Any) -> AsyncIterator[object]:
        self.made.append((service, kwargs))
        for _ in range(5):
            await asyncio.sleep(0)
        try:
            yield object()
        finally:
            self.closed += 1


async def test_concurrent_first_uses_share_one_client() -> None:
    session = SlowSession()
    shared = SharedClient(session, "s3", owner="TestStore", region_name="sa-east-1")
    clients = await asyncio.gather(*(shared.get() for _ in range(20)))
    assert len({id(client) for client in clients}) == 1
    assert await shared.get() is clients[0]
    assert session.made == [("s3", {"region_name": "sa-east-1"})]
    await shared.aclose()
    assert session.closed == 1


async def test_a_closed_client_is_not_made_again() -> None:
    session = SlowSession()
    shared = SharedClient(session, "sqs", owner="TestQueue")
    await shared.get()
    await shared.aclose()
    with pytest.raises(ClientClosed, match="TestQueue is closed"):
        await shared.get()
    await shared.aclose()  # twice is harmless
    assert (len(session.made), session.closed) == (1, 1)


async def test_closing_while_the_client_is_being_made_closes_it() -> None:
    session = SlowSession()
    shared = SharedClient(session, "s3", owner="TestStore")
    opening = asyncio.create_task(shared.get())
    await asyncio.sleep(0)  # the opening holds the lock now
    await shared.aclose()
    await opening  # the caller that came first gets its client, closed since by the owner
    assert (len(session.made), session.closed) == (1, 1)
    with pytest.raises(ClientClosed):
        await shared.get()


async def test_closing_an_unused_client_makes_none() -> None:
    session = SlowSession()
    shared = SharedClient(session, "s3", owner="TestStore")
    await shared.aclose()
    assert session.made == []
