"""Room tickets: short-lived JWTs (tenant, room, role, exp) minted by the dojo service.

Verified locally with the issuer's public key (configured PEM or JWKS). The ``typ`` header
is ``room+jwt`` so an access token can never be replayed as a ticket, nor the reverse.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

import jwt

from platform_api.kernel.jwks import ALLOWED_ALGORITHMS, KeySet
from platform_api.kernel.keys import public_jwk_from_pem
from rooms.ports import CLOCK_SKEW_SECONDS

from .codes import TICKET_INVALID, TICKET_WRONG_ROOM
from .errors import Reject

TICKET_TYP = "room+jwt"
Role = Literal["write", "read", "service"]


@dataclass(frozen=True)
class Ticket:
    user_id: str
    tenant: uuid.UUID
    room: str
    role: Role
    expires_at: float
    issued_at: float = 0.0
    name: str | None = None


def key_set(*, public_key_pem: str = "", jwks_url: str = "") -> KeySet:
    """Keys that verify tickets: the issuer's JWKS URL, or its Ed25519 public key in PEM."""
    if jwks_url:
        return KeySet(jwks_url=jwks_url)
    return KeySet(static_keys=[public_jwk_from_pem(public_key_pem)] if public_key_pem else [])


class TicketVerifier:
    def __init__(
        self,
        keys: KeySet,
        *,
        issuer: str,
        audience: str,
        clock_skew: float = CLOCK_SKEW_SECONDS,
    ) -> None:
        self._keys = keys
        self._issuer = issuer
        self._audience = audience
        self._leeway = clock_skew  # the margin access changes are judged with, too

    async def verify(self, token: str, room_key: str) -> Ticket:
        """Check signature, claims and that the ticket is for ``room_key``; raise Reject."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Reject(TICKET_INVALID, "malformed ticket") from exc
        if header.get("alg") not in ALLOWED_ALGORITHMS or header.get("typ") != TICKET_TYP:
            raise Reject(TICKET_INVALID, "not a room ticket")
        kid = header.get("kid")
        key = await self._keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise Reject(TICKET_INVALID, "unknown ticket signing key")
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=[key.algorithm_name],
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iat", "iss", "aud", "sub", "tenant", "room", "role"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Reject(TICKET_INVALID, "ticket expired") from exc
        except jwt.PyJWTError as exc:
            raise Reject(TICKET_INVALID, "invalid ticket") from exc
        role = claims["role"]
        if role not in ("write", "read", "service"):
            raise Reject(TICKET_INVALID, "invalid ticket role")
        try:
            tenant = uuid.UUID(str(claims["tenant"]))
        except ValueError as exc:
            raise Reject(TICKET_INVALID, "invalid ticket tenant") from exc
        if claims["room"] != room_key or not room_key.startswith(f"{tenant}:"):
            raise Reject(TICKET_WRONG_ROOM, "ticket is not valid for this room")
        return Ticket(
            user_id=str(claims["sub"]),
            tenant=tenant,
            room=room_key,
            role=role,
            expires_at=float(claims["exp"]),
            issued_at=float(claims["iat"]),
            name=claims.get("name"),
        )
