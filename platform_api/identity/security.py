"""Passwords (argon2id), access tokens (EdDSA JWT), opaque tokens (refresh, invitation) and the
encryption of authenticator keys."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import structlog
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from platform_api.kernel.auth import ACCESS_TOKEN_TYP
from platform_api.kernel.keys import public_jwk

from .settings import IdentitySettings


class Passwords:
    """argon2id hashing off the event loop; ``verify`` also says when to re-hash."""

    def __init__(self, settings: IdentitySettings) -> None:
        self._hasher = PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
            type=Type.ID,
        )
        # Verified against when an account does not exist, so timing does not reveal it.
        self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> tuple[bool, bool]:
        """Return ``(matches, needs_rehash)``."""

        def check() -> tuple[bool, bool]:
            try:
                self._hasher.verify(password_hash or self._dummy_hash, password)
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                return False, False
            if password_hash is None:
                return False, False
            return True, self._hasher.check_needs_rehash(password_hash)

        return await asyncio.to_thread(check)


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_in: int


class TokenSigner:
    """Signs access tokens with the current key; publishes current and previous public keys."""

    def __init__(self, settings: IdentitySettings) -> None:
        self._settings = settings
        self._private_key = _load_private_key(settings)
        self._jwk = public_jwk(self._private_key.public_key())
        previous = [
            public_jwk(key)
            for key in _load_public_keys(settings.jwt_previous_public_keys)
            if public_jwk(key)["kid"] != self._jwk["kid"]
        ]
        self.jwks: dict[str, list[dict[str, Any]]] = {"keys": [self._jwk, *previous]}

    def access_token(self, *, user_id: uuid.UUID, tenant_id: uuid.UUID, role: str) -> IssuedToken:
        now = int(time.time())
        ttl = self._settings.access_token_ttl_seconds
        claims = {
            "iss": self._settings.jwt_issuer,
            "aud": self._settings.jwt_audience,
            "sub": str(user_id),
            "tenant": str(tenant_id),
            "roles": [role],
            "iat": now,
            "nbf": now,
            "exp": now + ttl,
            "jti": uuid.uuid4().hex,
        }
        token = jwt.encode(
            claims,
            self._private_key,
            algorithm="EdDSA",
            headers={"kid": self._jwk["kid"], "typ": ACCESS_TOKEN_TYP},
        )
        return IssuedToken(token=token, expires_in=ttl)


def _load_private_key(settings: IdentitySettings) -> Ed25519PrivateKey:
    pem = settings.jwt_private_key.get_secret_value()
    if not pem and settings.jwt_private_key_file:
        pem = Path(settings.jwt_private_key_file).read_text()
    if not pem:
        structlog.get_logger("identity").warning(
            "jwt_key_ephemeral", detail="no signing key configured; tokens die with this process"
        )
        return Ed25519PrivateKey.generate()
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("the JWT signing key must be an Ed25519 private key")
    return key


def _load_public_keys(pems: str) -> list[Ed25519PublicKey]:
    keys = []
    marker = "-----END PUBLIC KEY-----"
    for chunk in pems.split(marker):
        if "BEGIN PUBLIC KEY" in chunk:
            key = serialization.load_pem_public_key((chunk.strip() + "\n" + marker).encode())
            if isinstance(key, Ed25519PublicKey):
                keys.append(key)
    return keys


# Opaque tokens carry their tenant in clear (it is not a secret) so that the row can be found
# under row-level security; only the SHA-256 of the secret part is stored.
def new_opaque_token(tenant_id: uuid.UUID) -> tuple[str, bytes]:
    secret = secrets.token_urlsafe(32)
    return f"{tenant_id.hex}.{secret}", hashlib.sha256(secret.encode()).digest()


def parse_opaque_token(token: str) -> tuple[uuid.UUID, bytes] | None:
    tenant_hex, _, secret = token.partition(".")
    if not secret or len(token) > 200:
        return None
    try:
        tenant_id = uuid.UUID(hex=tenant_hex)
    except ValueError:
        return None
    return tenant_id, hashlib.sha256(secret.encode()).digest()


def email_digest(key: bytes, email: str) -> bytes:
    return hmac.new(key, email.encode(), hashlib.sha256).digest()


class SecretBox:
    """Encrypts authenticator keys at rest: the first key encrypts, every key decrypts."""

    DEVELOPMENT_KEY = base64.urlsafe_b64encode(
        hashlib.sha256(b"development-only-two-factor-key").digest()
    )

    def __init__(self, settings: IdentitySettings) -> None:
        keys = [k.strip() for k in settings.two_factor_keys.get_secret_value().split(",")]
        keys = [k for k in keys if k] or [self.DEVELOPMENT_KEY.decode()]
        self._fernet = MultiFernet([Fernet(k.encode()) for k in keys])

    def seal(self, secret: str) -> bytes:
        return self._fernet.encrypt(secret.encode())

    def rotate(self, sealed: bytes) -> bytes:
        """``sealed`` encrypted again with the first key (keys only added: nothing to do
        for a secret sealed with the first one already, but it costs little)."""
        return self._fernet.rotate(bytes(sealed))

    def open(self, sealed: bytes) -> str:
        try:
            return self._fernet.decrypt(bytes(sealed)).decode()
        except InvalidToken:  # a key removed from IDENTITY_TWO_FACTOR_KEYS too soon
            raise RuntimeError("an authenticator key cannot be decrypted with any key") from None
