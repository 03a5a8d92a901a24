"""In-process job queue with the same semantics as the real ones (tests, single process only)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from . import Delivery


class MemoryQueue:
    """Messages wait in a list until visible; in-flight ones return after the timeout."""

    def __init__(self, *, visibility_timeout: float = 30.0) -> None:
        self.visibility_timeout = visibility_timeout
        self._ids = itertools.count(1)
        # handle -> [visible_at, attempts so far, body]
        self._messages: dict[str, list[Any]] = {}
        self._dead: list[dict[str, Any]] = []
        self._wakeup = asyncio.Event()

    async def send(self, body: dict[str, Any]) -> None:
        self._messages[str(next(self._ids))] = [0.0, 0, dict(body)]
        self._wakeup.set()

    async def receive(self, *, wait_seconds: float = 1.0) -> Delivery | None:
        from . import Delivery

        deadline = time.monotonic() + wait_seconds
        while True:
            now = time.monotonic()
            for handle, entry in sorted(self._messages.items(), key=lambda kv: int(kv[0])):
                if entry[0] <= now:
                    entry[0] = now + self.visibility_timeout
                    entry[1] += 1
                    return Delivery(handle=handle, body=dict(entry[2]), attempt=entry[1])
            if now >= deadline:
                return None
            self._wakeup.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(0.05, deadline - now)):
                    await self._wakeup.wait()

    async def ack(self, delivery: Delivery) -> None:
        self._messages.pop(delivery.handle, None)

    async def retry(self, delivery: Delivery, *, delay_seconds: float) -> None:
        if delivery.handle in self._messages:
            self._messages[delivery.handle][0] = time.monotonic() + delay_seconds

    async def dead_letter(self, delivery: Delivery, *, reason: str) -> None:
        if self._messages.pop(delivery.handle, None) is not None:
            self._dead.append({**delivery.body, "reason": reason, "attempts": delivery.attempt})

    async def extend(self, delivery: Delivery) -> None:
        if delivery.handle in self._messages:
            self._messages[delivery.handle][0] = time.monotonic() + self.visibility_timeout

    async def dead_letters(self, *, limit: int = 100) -> list[dict[str, Any]]:
        return self._dead[:limit]

    async def aclose(self) -> None:
        return None
