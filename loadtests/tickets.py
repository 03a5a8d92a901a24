"""Room tickets for load tests: the short-lived Ed25519 JWTs the dojo service hands out.

A ticket is presented as the `ticket` query parameter; its room claim is
"<tenant uuid>:<room name>", and that full string is also the room in the URL.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

TICKET_TYP = "room+jwt"
TICKET_ISSUER = "mrbill-dojos"
TICKET_AUDIENCE = "mrbill-collab"


def key_id(public_key: Ed25519PublicKey) -> str:
    """RFC 7638 thumbprint of the key's JWK, as our issuers use for `kid`.

    Computed here rather than imported from platform_api, which would add seconds of imports
    to every load-generator process (Locust's timers start before its locustfile is loaded).
    """
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    x = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    canonical = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": x}, separators=(",", ":"))
    return (
        base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()
    )


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """Read an Ed25519 private key from a PEM file."""
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} does not hold an Ed25519 private key")
    return key


@dataclass
class TicketMinter:
    """Mints one ticket per (room, user); the tenant is fixed for a whole run."""

    key: Ed25519PrivateKey
    tenant: uuid.UUID = field(default_factory=uuid.uuid4)
    role: str = "write"
    ttl_seconds: int = 900

    def room(self, name: str) -> str:
        """The full room id for `name`: "<tenant>:<name>"."""
        return f"{self.tenant}:{name}"

    def ticket(self, name: str, *, user: uuid.UUID | None = None, role: str | None = None) -> str:
        """A signed ticket for room `name` (see `room`), for `user` (a fresh id by default)."""
        now = int(time.time())
        claims = {
            "iss": TICKET_ISSUER,
            "aud": TICKET_AUDIENCE,
            "sub": str(user or uuid.uuid4()),
            "tenant": str(self.tenant),
            "room": self.room(name),
            "role": role or self.role,
            "iat": now,
            "exp": now + self.ttl_seconds,
        }
        headers = {"typ": TICKET_TYP, "kid": key_id(self.key.public_key())}
        return jwt.encode(claims, self.key, algorithm="EdDSA", headers=headers)

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        # Key objects do not pickle; worker processes get the raw key instead.
        raw = self.key.private_bytes_raw()
        return (_minter_from_raw, (raw, self.tenant, self.role, self.ttl_seconds))


def _minter_from_raw(raw: bytes, tenant: uuid.UUID, role: str, ttl: int) -> TicketMinter:
    return TicketMinter(Ed25519PrivateKey.from_private_bytes(raw), tenant, role, ttl)


@dataclass(frozen=True)
class RoomAddressing:
    """How a benchmark names rooms and what it adds to each URL.

    Without a minter, rooms keep their names and `params` are sent as they are; with one,
    every room becomes "<tenant>:<name>" and each connection gets its own `ticket`.
    """

    params: dict[str, str] = field(default_factory=dict)
    minter: TicketMinter | None = None

    def room(self, name: str) -> str:
        return name if self.minter is None else self.minter.room(name)

    def query(self, name: str, *, user: uuid.UUID | None = None) -> dict[str, str]:
        if self.minter is None:
            return dict(self.params)
        return {**self.params, "ticket": self.minter.ticket(name, user=user)}
