"""Access-token verification for every service: JWKS-backed, cached, key rotation aware.

Services never call the identity service per request: they fetch its public keys (JWKS)
once, cache them, and verify each token locally. An unknown ``kid`` triggers one refetch
(rate-limited), which is how a key rotation reaches every service.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import structlog
from fastapi import Request
from jwt import PyJWK

from .errors import forbidden, unauthorized

ALLOWED_ALGORITHMS = ("EdDSA", "ES256")
ACCESS_TOKEN_TYP = "at+jwt"  # noqa: S105 (RFC 9068 media type, not a secret)
_REQUIRED_CLAIMS = ["exp", "iat", "nbf", "iss", "aud", "sub", "jti", "tenant"]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: taken from a verified access token, never from the request body."""

    user_id: uuid.UUID
    tenant_id: uuid.UUID
    roles: tuple[str, ...]
    token_id: str

    def has_any_role(self, *roles: str) -> bool:
        return any(role in self.roles for role in roles)


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


class TokenVerifier:
    """Verifies access tokens: algorithm allowlist, ``typ``, signature, iss/aud/exp/nbf."""

    def __init__(self, keys: KeySet, *, issuer: str, audience: str, leeway: int = 5) -> None:
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway

    async def verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise unauthorized("Malformed access token") from exc
        if header.get("alg") not in ALLOWED_ALGORITHMS:
            raise unauthorized("Token algorithm not allowed")
        if header.get("typ") != ACCESS_TOKEN_TYP:
            raise unauthorized("Not an access token")
        kid = header.get("kid")
        key = await self.keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise unauthorized("Unknown signing key")
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=[key.algorithm_name],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": _REQUIRED_CLAIMS},
            )
            roles = claims.get("roles", [])
            if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
                raise unauthorized("Malformed roles claim")
            return Principal(
                user_id=uuid.UUID(str(claims["sub"])),
                tenant_id=uuid.UUID(str(claims["tenant"])),
                roles=tuple(roles),
                token_id=str(claims["jti"]),
            )
        except (jwt.PyJWTError, ValueError) as exc:
            raise unauthorized("Invalid or expired access token") from exc


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized()
    return token.strip()


async def current_principal(request: Request) -> Principal:
    """FastAPI dependency: the verified caller (401 otherwise). Binds tenant to the logs."""
    verifier: TokenVerifier = request.app.state.verifier
    principal = await verifier.verify(bearer_token(request))
    structlog.contextvars.bind_contextvars(
        tenant_id=str(principal.tenant_id), user_id=str(principal.user_id)
    )
    request.state.principal = principal
    return principal


def require_roles(*roles: str) -> Callable[[Request], Any]:
    """FastAPI dependency factory: the caller must hold one of ``roles`` (403 otherwise)."""

    async def dependency(request: Request) -> Principal:
        principal = await current_principal(request)
        if not principal.has_any_role(*roles):
            raise forbidden()
        return principal

    return dependency
