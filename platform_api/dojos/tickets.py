"""Room tickets for the collab nodes: short-lived EdDSA JWTs signed with this service's key.

Header ``typ: room+jwt`` and ``kid`` (the key's RFC 7638 thumbprint); claims ``iss``,
``aud``, ``sub`` (user id), ``tenant``, ``room``, ``role`` (write | read | service), ``name``,
``iat``, ``exp``. The public key is published as a JWKS for the nodes.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import jwt
import structlog
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from platform_api.kernel.keys import public_jwk

from .settings import DojosSettings

TICKET_TYP = "room+jwt"
SERVICE_SUBJECT = "mrbill-dojos"
RoomRole = Literal["write", "read", "service"]


def room_key(tenant_id: uuid.UUID, dojo_id: uuid.UUID) -> str:
    """The collab room of a dojo: ``<tenant-uuid>:dojo-<dojo-uuid>``."""
    return f"{tenant_id}:dojo-{dojo_id}"


@dataclass(frozen=True)
class IssuedTicket:
    token: str
    room: str
    role: RoomRole
    expires_at: int


class TicketSigner:
    """Mints room tickets with the current key; ``jwks`` is what the collab nodes trust."""

    def __init__(self, settings: DojosSettings) -> None:
        self._settings = settings
        self._key = _load_private_key(settings)
        self._jwk = public_jwk(self._key.public_key())
        self.jwks: dict[str, list[dict[str, Any]]] = {"keys": [self._jwk]}

    @property
    def public_pem(self) -> str:
        return (
            self._key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )

    def mint(
        self,
        *,
        tenant_id: uuid.UUID,
        room: str,
        subject: str,
        role: RoomRole,
        name: str | None = None,
        ttl: int | None = None,
    ) -> IssuedTicket:
        now = int(time.time())
        exp = now + (ttl or self._settings.ticket_ttl_seconds)
        claims: dict[str, Any] = {
            "iss": self._settings.ticket_issuer,
            "aud": self._settings.ticket_audience,
            "sub": subject,
            "tenant": str(tenant_id),
            "room": room,
            "role": role,
            "iat": now,
            "exp": exp,
            "jti": uuid.uuid4().hex,
        }
        if name:
            claims["name"] = name
        token = jwt.encode(
            claims,
            self._key,
            algorithm="EdDSA",
            headers={"kid": self._jwk["kid"], "typ": TICKET_TYP},
        )
        return IssuedTicket(token=token, room=room, role=role, expires_at=exp)

    def service_ticket(self, room: str) -> str:
        """A ``service`` ticket for the collab internal API on ``room`` (one minute)."""
        tenant = uuid.UUID(room.split(":", 1)[0])
        return self.mint(
            tenant_id=tenant, room=room, subject=SERVICE_SUBJECT, role="service", ttl=60
        ).token


def _load_private_key(settings: DojosSettings) -> Ed25519PrivateKey:
    pem = settings.ticket_private_key.get_secret_value()
    if not pem and settings.ticket_private_key_file:
        pem = Path(settings.ticket_private_key_file).read_text()
    if not pem:
        structlog.get_logger("dojos").warning(
            "ticket_key_ephemeral", detail="no ticket key configured; collab nodes won't trust it"
        )
        return Ed25519PrivateKey.generate()
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("the ticket signing key must be an Ed25519 private key")
    return key
