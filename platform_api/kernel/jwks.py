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
import jwt
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

    def _load(self, jwks: Sequence[Any]) -> None:
        """Take the usable keys of ``jwks``. An entry that is not a key we can use (another
        algorithm, no ``kid``, parameters that do not make a key) is skipped, so one bad entry
        published during a rotation does not cost the good ones; the skipped are logged once.
        With a JWKS URL, a document without one usable key keeps the keys we have."""
        keys: dict[str, PyJWK] = {}
        skipped: list[dict[str, Any]] = []
        for jwk in jwks:
            if not isinstance(jwk, dict):
                skipped.append({"entry": type(jwk).__name__})
                continue
            kid, alg = jwk.get("kid"), jwk.get("alg")
            if not kid or not isinstance(kid, str) or alg not in ALLOWED_ALGORITHMS:
                continue  # not one of ours (another algorithm or use): nothing to report
            try:
                keys[kid] = PyJWK.from_dict(jwk)
            except (jwt.PyJWTError, TypeError, ValueError, AttributeError) as exc:
                # Only public metadata: an error's text may quote the whole entry.
                fields = {name: jwk.get(name) for name in ("kid", "alg", "kty", "crv")}
                skipped.append({**fields, "error": type(exc).__name__})
        if skipped:
            structlog.get_logger("auth").warning("jwks_keys_skipped", keys=skipped)
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
                self._load(_keys_of(response.json()))
            except (httpx.HTTPError, ValueError, jwt.PyJWTError, TypeError, AttributeError) as exc:
                # Keep serving with the keys we have; the next miss retries.
                structlog.get_logger("auth").warning("jwks_refresh_failed", error=str(exc))


def _keys_of(document: Any) -> list[Any]:
    """The ``keys`` list of a JWKS document; ValueError when it is not shaped like one."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWKS: expected an object with a 'keys' list")
    return document["keys"]
