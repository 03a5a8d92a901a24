"""Fixed-budget rate limits (moving window) on Redis, or in memory for a single process."""

from __future__ import annotations

import math
import time
from typing import Any

import redis.asyncio
from limits import RateLimitItem, parse
from limits.aio.storage import Storage as AsyncStorage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from .errors import Problem
from .redis_client import retry_options


def storage_uri(redis_url: str) -> str:
    """``limits`` storage URI for a Redis URL; empty means in-process memory."""
    return f"async+{redis_url}" if redis_url else "async+memory://"


class RateLimiter:
    """Counts attempts per key; over budget raises 429 with ``Retry-After``."""

    def __init__(self, redis_url: str, *, prefix: str) -> None:
        # Our own connection pool, so that shutdown can close it (limits has no close()).
        self._pool = (
            redis.asyncio.ConnectionPool.from_url(redis_url, **retry_options())
            if redis_url
            else None
        )
        options: dict[str, Any] = (
            {"connection_pool": self._pool, "implementation": "redispy"} if self._pool else {}
        )
        storage = storage_from_string(storage_uri(redis_url), key_prefix=prefix, **options)
        if not isinstance(storage, AsyncStorage):  # storage_uri() always names an async+ one
            raise TypeError(f"not an asyncio storage: {storage!r}")
        self._storage = storage
        self._limiter = MovingWindowRateLimiter(self._storage)

    async def aclose(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()

    async def hit(
        self, rule: str, *identifiers: str, detail: str, params: dict[str, Any] | None = None
    ) -> None:
        item: RateLimitItem = parse(rule)
        if await self._limiter.hit(item, *identifiers):
            return
        stats = await self._limiter.get_window_stats(item, *identifiers)
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        raise Problem(429, detail, headers={"Retry-After": str(retry_after)}, params=params)

    async def reset(self) -> None:
        await self._storage.reset()

    async def ping(self) -> bool:
        return bool(await self._storage.check())
