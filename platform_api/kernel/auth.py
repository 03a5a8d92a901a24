"""Access-token verification for every service: JWKS-backed, cached, key rotation aware.

Services never call the identity service per request: they fetch its public keys (JWKS)
once, cache them, and verify each token locally. An unknown ``kid`` triggers one refetch
(rate-limited), which is how a key rotation reaches every service.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
import structlog
from fastapi import Request

from .errors import forbidden, unauthorized
from .jwks import ACCESS_TOKEN_TYP, ALLOWED_ALGORITHMS, KeySet

__all__ = [
    "ACCESS_TOKEN_TYP",
    "ALLOWED_ALGORITHMS",
    "KeySet",
    "Principal",
    "TokenVerifier",
    "bearer_token",
    "current_principal",
    "require_roles",
]

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
