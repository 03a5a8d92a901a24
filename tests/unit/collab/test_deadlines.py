"""The shared ticket deadlines: in order, on time, and cancelled ones forgotten."""

from __future__ import annotations

import asyncio
import time

from collab_server.deadlines import Deadlines


class Expired:
    """Records which owners expired, in order; ``wait(n)`` until ``n`` have."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self._changed = asyncio.Event()

    def owner(self, name: str) -> Owner:
        return Owner(name, self)

    def record(self, name: str) -> None:
        self.names.append(name)
        self._changed.set()

    async def wait(self, count: int) -> None:
        async with asyncio.timeout(2):
            while len(self.names) < count:
                self._changed.clear()
                await self._changed.wait()


class Owner:
    def __init__(self, name: str, expired: Expired) -> None:
        self.name = name
        self._expired = expired

    def expire(self) -> None:
        self._expired.record(self.name)


async def test_deadlines_fire_in_order_of_time_not_of_adding() -> None:
    deadlines, expired = Deadlines(), Expired()
    now = time.time()
    deadlines.add(now + 0.3, expired.owner("late"))
    deadlines.add(now + 0.1, expired.owner("early"))
    deadlines.add(now - 5, expired.owner("past"))
    await expired.wait(3)
    assert expired.names == ["past", "early", "late"]
    deadlines.close()


async def test_a_cancelled_deadline_never_fires_and_a_replaced_one_fires_later() -> None:
    deadlines, expired = Deadlines(), Expired()
    now = time.time()
    gone = deadlines.add(now + 0.05, expired.owner("gone"))
    renewed = expired.owner("renewed")
    first = deadlines.add(now + 0.05, renewed)
    deadlines.cancel(gone)
    deadlines.cancel(first)
    began = time.monotonic()
    deadlines.add(now + 0.3, renewed)
    await expired.wait(1)
    assert expired.names == ["renewed"]
    assert time.monotonic() - began >= 0.2
    deadlines.close()


async def test_cancelled_deadlines_do_not_pile_up() -> None:
    deadlines, expired = Deadlines(), Expired()
    later = time.time() + 600
    for index in range(1000):
        deadlines.cancel(deadlines.add(later, expired.owner(str(index))))
    assert len(deadlines) <= 1
    deadlines.close()
    assert expired.names == []


class FailingOwner:
    def expire(self) -> None:
        raise RuntimeError("closing this connection failed")


async def test_an_owner_that_fails_stops_no_other_deadline() -> None:
    deadlines, expired = Deadlines(), Expired()
    now = time.time()
    deadlines.add(now + 0.05, FailingOwner())
    deadlines.add(now + 0.05, expired.owner("same time"))
    await expired.wait(1)
    deadlines.add(time.time() + 0.05, expired.owner("added after"))  # the timer is still armed
    await expired.wait(2)
    assert expired.names == ["same time", "added after"]
    deadlines.close()
