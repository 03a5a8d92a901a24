"""Public keys by ``kid`` from a JWKS URL (cached, refetched on an unknown kid) or fixed.

Kept free of any web framework so that every process (services, collab nodes, workers) can
verify tokens without importing one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import httpx
import structlog
from jwt import PyJWK

ALLOWED_ALGORITHMS = ("EdDSA", "ES256")
ACCESS_TOKEN_TYP = "at+jwt"  # noqa: S105 (RFC 9068 media type, not a secret)


class KeySet:
    """Public keys by ``kid``; either fixed or refreshed from a JWKS URL."""

    def __init__(
        self,
        *,
        jwks_url: str | None = None,
        static_keys: Sequence[dict[str, Any]] = (),
        cache_seconds: int = 300,
        min_refetch_seconds: float = 10.0,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self._jwks_url = jwks_url
        self._keys: dict[str, PyJWK] = {}
        self._cache_seconds = cache_seconds
        self._min_refetch = min_refetch_seconds
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()
        self._client = http_client
        self._load(static_keys)

    def _load(self, jwks: Sequence[dict[str, Any]]) -> None:
        keys: dict[str, PyJWK] = {}
        for jwk in jwks:
            if jwk.get("kid") and jwk.get("alg") in ALLOWED_ALGORITHMS:
                keys[jwk["kid"]] = PyJWK.from_dict(jwk)
        if keys or not self._jwks_url:
            self._keys = keys

    async def get(self, kid: str) -> PyJWK | None:
        key = self._keys.get(kid)
        stale = time.monotonic() - self._fetched_at > self._cache_seconds
        if self._jwks_url and (stale or key is None):
            await self._refresh(force=key is None)
            key = self._keys.get(kid)
        return key

    async def _refresh(self, *, force: bool) -> None:
        async with self._lock:
            since = time.monotonic() - self._fetched_at
            if since < self._min_refetch or (not force and since < self._cache_seconds):
                return
            self._fetched_at = time.monotonic()
            try:
                client = self._client or httpx.AsyncClient(timeout=5)
                try:
                    response = await client.get(self._jwks_url or "")
                finally:
                    if self._client is None:
                        await client.aclose()
                response.raise_for_status()
                self._load(response.json().get("keys", []))
            except (httpx.HTTPError, ValueError) as exc:
                # Keep serving with the keys we have; the next miss retries.
                structlog.get_logger("auth").warning("jwks_refresh_failed", error=str(exc))
