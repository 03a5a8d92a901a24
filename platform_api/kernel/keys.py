"""Ed25519 signing keys: PEM helpers and public JWKs with RFC 7638 thumbprints as ``kid``."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from jwt.algorithms import OKPAlgorithm


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def public_jwk(public_key: Ed25519PublicKey) -> dict[str, Any]:
    """The public JWK with its RFC 7638 thumbprint as ``kid``."""
    jwk = json.loads(OKPAlgorithm.to_jwk(public_key))
    canonical = json.dumps(
        {"crv": jwk["crv"], "kty": jwk["kty"], "x": jwk["x"]}, separators=(",", ":"), sort_keys=True
    )
    kid = _b64url(hashlib.sha256(canonical.encode()).digest())
    return {
        "kty": jwk["kty"],
        "crv": jwk["crv"],
        "x": jwk["x"],
        "kid": kid,
        "alg": "EdDSA",
        "use": "sig",
    }


def public_jwk_from_pem(pem: str) -> dict[str, Any]:
    """The JWK of an Ed25519 public key, or of the public half of a private key, in PEM."""
    data = pem.encode()
    if b"PRIVATE KEY" in data:
        private = serialization.load_pem_private_key(data, password=None)
        if not isinstance(private, Ed25519PrivateKey):
            raise ValueError("expected an Ed25519 key")
        return public_jwk(private.public_key())
    public = serialization.load_pem_public_key(data)
    if not isinstance(public, Ed25519PublicKey):
        raise ValueError("expected an Ed25519 key")
    return public_jwk(public)


def generate_private_key_pem() -> str:
    """A new Ed25519 private key in PKCS#8 PEM."""
    return (
        Ed25519PrivateKey.generate()
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
