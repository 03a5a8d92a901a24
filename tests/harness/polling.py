"""Wait for a condition by polling it until a deadline (never a bare sleep)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    probe: Callable[[], Awaitable[T]],
    accept: Callable[[T], bool] = bool,
    *,
    within: float = 10.0,
    every: float = 0.05,
    what: str = "condition",
) -> T:
    """Call `probe` until `accept(value)` holds and return that value; fail after `within` s."""
    deadline = time.monotonic() + within
    while True:
        value = await probe()
        if accept(value):
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} not met after {within} s; last value: {value!r}")
        await asyncio.sleep(every)
