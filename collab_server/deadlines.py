"""Ticket deadlines of all the node's connections, on one timer.

A timer per connection (``loop.call_later``) costs about half a kilobyte: the handle, the
event loop's timer behind it, a copy of the context and the bound callback. Connections
stay open for hours and renew their tickets every few minutes, so the node keeps every
deadline in one heap and one timer set for the earliest; a deadline costs a small object.
"""

from __future__ import annotations

import asyncio
import heapq
import time
from typing import Protocol

import structlog

_log = structlog.get_logger("collab")
_EARLY = 0.001  # a loop timer may fire this much before its time (millisecond clocks)


class Expiring(Protocol):
    def expire(self) -> None:
        """The deadline passed."""
        ...


class Deadline:
    """One entry of the heap; cancelling it only drops the owner, the heap forgets it later."""

    __slots__ = ("owner", "when")

    def __init__(self, when: float, owner: Expiring) -> None:
        self.when = when  # loop time
        self.owner: Expiring | None = owner

    def __lt__(self, other: Deadline) -> bool:
        return self.when < other.when


class Deadlines:
    def __init__(self) -> None:
        self._heap: list[Deadline] = []
        self._cancelled = 0  # entries in the heap whose owner is gone
        self._timer: asyncio.TimerHandle | None = None

    def add(self, when: float, owner: Expiring) -> Deadline:
        """Call ``owner.expire()`` at ``when`` (epoch seconds), or on the event loop's next
        turn if it has passed (callers that must not let anything happen meanwhile check
        the time themselves)."""
        loop = asyncio.get_running_loop()
        deadline = Deadline(loop.time() + max(0.0, when - time.time()), owner)
        heapq.heappush(self._heap, deadline)
        if self._heap[0] is deadline:
            self._arm(loop)
        return deadline

    def __len__(self) -> int:
        """Entries held, cancelled ones that still wait for their time included."""
        return len(self._heap)

    def cancel(self, deadline: Deadline) -> None:
        if deadline.owner is None:
            return
        deadline.owner = None
        self._cancelled += 1
        # Cancelled entries wait for their time in the heap; when they outnumber the live
        # ones, drop them all, so the heap stays within twice the number of connections.
        if self._cancelled * 2 > len(self._heap):
            self._heap = [d for d in self._heap if d.owner is not None]
            heapq.heapify(self._heap)
            self._cancelled = 0

    def close(self) -> None:
        """Forget every deadline (the node is stopping)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._heap.clear()
        self._cancelled = 0

    def _arm(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = loop.call_at(self._heap[0].when, self._fire) if self._heap else None

    def _fire(self) -> None:
        self._timer = None
        loop = asyncio.get_running_loop()
        now = loop.time() + _EARLY
        while self._heap and self._heap[0].when <= now:
            deadline = heapq.heappop(self._heap)
            owner, deadline.owner = deadline.owner, None
            if owner is None:
                self._cancelled -= 1
                continue
            try:
                owner.expire()
            except Exception as exc:  # the other deadlines still fire, and the timer is re-armed
                _log.error("deadline_failed", error=repr(exc))
        if self._heap and self._timer is None:
            self._arm(loop)
