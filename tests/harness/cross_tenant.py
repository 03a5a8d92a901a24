"""The cross-tenant harness: tenant B calls every endpoint with tenant A's ids.

Each service lists its id-bearing endpoints as :class:`Probe` objects. The harness fills
the path with tenant A's ids and calls it with tenant B's token: the only acceptable answer
is 404 (never 200 with data, never 403 that would confirm the id exists).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass(frozen=True)
class Probe:
    method: str
    path: str  # str.format template over tenant A's ids, e.g. "/users/{user_id}"
    json: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


async def assert_all_not_found(
    client: httpx.AsyncClient, probes: list[Probe], ids_of_a: dict[str, str], token_of_b: str
) -> None:
    failures = []
    for probe in probes:
        url = probe.path.format(**ids_of_a)
        response = await client.request(
            probe.method,
            url,
            json=probe.json,
            headers={"Authorization": f"Bearer {token_of_b}", **probe.headers},
        )
        if response.status_code != 404:
            failures.append(f"{probe.method} {url} -> {response.status_code} {response.text[:200]}")
        elif not response.headers["content-type"].startswith("application/problem+json"):
            failures.append(f"{probe.method} {url} -> 404 without problem+json")
    assert not failures, "cross-tenant access not refused with 404:\n" + "\n".join(failures)
