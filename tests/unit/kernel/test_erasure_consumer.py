"""The erasure consumer: an erasure is acknowledged once done, one that fails comes back
until it works, and other identity events are acknowledged and left alone."""

from __future__ import annotations

import uuid

from platform_api.kernel.erasure import ErasureConsumer, tenant_deleted, user_deleted
from platform_api.kernel.events import InMemoryBus, new_event


class FlakyEraser:
    """Fails each erasure ``failures`` times before it works; records what it erased."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.erased: list[tuple[str, uuid.UUID]] = []

    def _attempt(self) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("the database is away")

    async def erase_tenant(self, tenant_id: uuid.UUID) -> None:
        self._attempt()
        self.erased.append(("tenant", tenant_id))

    async def erase_user(self, tenant_id: uuid.UUID, user_id: uuid.UUID) -> None:
        self._attempt()
        self.erased.append(("user", user_id))


async def test_a_failed_erasure_comes_back_until_it_is_done() -> None:
    bus = InMemoryBus(topics=["identity"], redeliver_after=0.05)
    tenant, user = uuid.uuid4(), uuid.uuid4()
    other = new_event(
        "identity.tenant.renamed", tenant_id=tenant, aggregate_id=tenant, version=3, payload={}
    )
    await bus.publish([user_deleted(tenant, user), other, tenant_deleted(tenant)])
    eraser = FlakyEraser(failures=1)
    consumer = ErasureConsumer(eraser, bus, service="test", wait_seconds=0.05)
    # The first erasure fails: the two others are acknowledged (the unknown one ignored).
    assert await consumer.run_once() == 2
    assert eraser.erased == [("tenant", tenant)]
    assert await bus.lag() == 1
    # It comes back, and is done.
    done = 0
    for _ in range(20):
        done += await consumer.run_once()
        if done:
            break
    assert done == 1
    assert eraser.erased == [("tenant", tenant), ("user", user)]
    assert await bus.lag() == 0
