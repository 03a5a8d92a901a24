"""Job queue port: at-least-once delivery with a visibility timeout, retries and dead letters.

A consumer ``receive``\\s a :class:`Delivery`, works, then ``ack``\\s it. A consumer that dies
without acking loses nothing: once the visibility timeout passes, another consumer receives
the same job again (with ``attempt`` one higher). Long jobs call ``extend`` as a heartbeat.
``retry`` puts a job back after a delay (backoff); ``dead_letter`` parks it for a human.
Adapters: :class:`MemoryQueue` (tests, single process), Redis Streams (local stack), SQS (AWS).
Jobs must therefore be idempotent: the same job may run twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from .memory import MemoryQueue


@dataclass(frozen=True)
class Delivery:
    """One delivery of a job. ``attempt`` is 1 the first time, then counts redeliveries."""

    handle: str
    body: dict[str, Any]
    attempt: int


class JobQueue(Protocol):
    async def send(self, body: dict[str, Any]) -> None: ...

    async def receive(self, *, wait_seconds: float = 1.0) -> Delivery | None:
        """The next visible job, waiting up to ``wait_seconds``; ``None`` if there is none."""
        ...

    async def ack(self, delivery: Delivery) -> None:
        """Done: the job is removed for good."""
        ...

    async def retry(self, delivery: Delivery, *, delay_seconds: float) -> None:
        """Failed this time: deliver it again after ``delay_seconds``."""
        ...

    async def dead_letter(self, delivery: Delivery, *, reason: str) -> None:
        """Give up: move the job to the dead-letter queue with ``reason``."""
        ...

    async def extend(self, delivery: Delivery) -> None:
        """Heartbeat: still working; restart this delivery's visibility timeout."""
        ...

    async def dead_letters(self, *, limit: int = 100) -> list[dict[str, Any]]:
        """Jobs parked in the dead-letter queue (with their ``reason``), oldest first."""
        ...

    async def aclose(self) -> None: ...


def backoff_seconds(attempt: int, *, base: float, cap: float) -> float:
    """Exponential backoff for the retry after ``attempt`` (1 → base, 2 → 2·base, …)."""
    return float(min(cap, base * 2 ** max(0, attempt - 1)))


async def fail(
    queue: JobQueue, delivery: Delivery, reason: str, *, max_attempts: int, backoff: float
) -> bool:
    """Retry with backoff, or dead-letter after ``max_attempts``; True if dead-lettered."""
    if delivery.attempt >= max_attempts:
        await queue.dead_letter(delivery, reason=reason)
        return True
    delay = backoff_seconds(delivery.attempt, base=backoff, cap=300.0)
    await queue.retry(delivery, delay_seconds=delay)
    return False


__all__ = ["Delivery", "JobQueue", "MemoryQueue", "backoff_seconds", "fail"]
