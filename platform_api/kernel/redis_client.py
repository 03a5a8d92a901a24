"""Redis clients of the services (rate limits, job queues, event streams).

When Redis restarts or fails over (ElastiCache Multi-AZ), every pooled connection is dead,
and without retries each one fails the next command sent on it: a log-in answered 500, a
job not queued. These clients reconnect and try the command again, a few times with a
short backoff. A retried command may have run once already (its reply was lost): every
caller here tolerates that (a rate-limit hit counted twice, an event or a job delivered
twice, which consumers already expect: delivery is at least once).
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError, TimeoutError

RETRIES = 3


def retry_options() -> dict[str, Any]:
    """Client (or connection pool) options: reconnect and retry on a lost connection."""
    return {
        "retry": Retry(ExponentialWithJitterBackoff(base=0.05, cap=1.0), RETRIES),
        "retry_on_error": [ConnectionError, TimeoutError],
    }


def redis_from_url(url: str, **options: Any) -> aioredis.Redis:
    """A client for ``url`` that survives a Redis restart or failover (see above)."""
    return aioredis.Redis.from_url(url, **retry_options(), **options)
