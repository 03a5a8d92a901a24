"""Access-token verification: every forged, tampered or malformed token gets 401 problem+json.

The forgeries are signed with a key the test knows (an app built with that key), so that
each negative case differs from the accepted positive control by exactly one property.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import SecretStr

from platform_api.identity.app import create_app
from platform_api.identity.settings import IdentitySettings
from platform_api.kernel.keys import generate_private_key_pem
from tests.harness.asgi import serve

from .conftest import Account, SignUp


@dataclass
class KnownKeyApp:
    client: httpx.AsyncClient
    settings: IdentitySettings
    private_pem: str
    jwk: dict[str, Any]


@pytest.fixture(scope="module")
async def known(identity_settings: IdentitySettings) -> AsyncIterator[KnownKeyApp]:
    pem = generate_private_key_pem()
    settings = identity_settings.model_copy(update={"jwt_private_key": SecretStr(pem)})
    async with serve(create_app(settings)) as client:
        jwk = (await client.get("/.well-known/jwks.json")).json()["keys"][0]
        yield KnownKeyApp(client=client, settings=settings, private_pem=pem, jwk=jwk)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segment(value: dict[str, Any]) -> str:
    return _b64(json.dumps(value, separators=(",", ":")).encode())


@dataclass(frozen=True)
class FromNow:
    """A time claim as seconds from when the token is made.

    Parameters are built when the module is imported, which on a long run is many minutes before the
    test: a not-before of "import time + 600 s" is already past by then.
    """

    seconds: int


def claims_for(app: KnownKeyApp, account: Account, **changes: Any) -> dict[str, Any]:
    """Valid claims for ``account``; a change whose value is ``None`` drops that claim."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": app.settings.jwt_issuer,
        "aud": app.settings.jwt_audience,
        "sub": account.user_id,
        "tenant": account.tenant_id,
        "roles": ["owner"],
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "jti": uuid.uuid4().hex,
    }
    claims.update({k: now + v.seconds if isinstance(v, FromNow) else v for k, v in changes.items()})
    return {k: v for k, v in claims.items() if v is not None}


def forge(app: KnownKeyApp, claims: dict[str, Any], *, key: Any = None, typ: str = "at+jwt") -> str:
    return jwt.encode(
        claims,
        key or app.private_pem,
        algorithm="EdDSA",
        headers={"kid": app.jwk["kid"], "typ": typ},
    )


def hs256(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    """Sign by hand: PyJWT refuses key material that looks asymmetric, an attacker would not."""
    signing_input = f"{_segment(header)}.{_segment(claims)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(mac)}"


async def assert_rejected(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    response = await client.get("/me", headers=headers)
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_positive_control_forged_with_the_server_key_is_accepted(
    known: KnownKeyApp, sign_up: SignUp
) -> None:
    account = await sign_up()
    response = await known.client.get(
        "/me", headers=bearer(forge(known, claims_for(known, account)))
    )
    assert response.status_code == 200, response.text
    assert response.json()["user"]["user_id"] == account.user_id


async def test_unsigned_alg_none_is_rejected(known: KnownKeyApp, sign_up: SignUp) -> None:
    account = await sign_up()
    claims = claims_for(known, account)
    for alg in ("none", "None", "NONE"):
        header = {"alg": alg, "typ": "at+jwt", "kid": known.jwk["kid"]}
        for signature in ("", "c2lnbmF0dXJl"):
            token = f"{_segment(header)}.{_segment(claims)}.{signature}"
            await assert_rejected(known.client, bearer(token))


async def test_signed_by_another_key_with_the_same_kid_is_rejected(
    known: KnownKeyApp, sign_up: SignUp
) -> None:
    account = await sign_up()
    token = forge(known, claims_for(known, account), key=Ed25519PrivateKey.generate())
    assert jwt.get_unverified_header(token)["kid"] == known.jwk["kid"]
    await assert_rejected(known.client, bearer(token))


async def test_hs256_with_the_public_key_as_secret_is_rejected(
    known: KnownKeyApp, sign_up: SignUp
) -> None:
    account = await sign_up()
    claims = claims_for(known, account)
    public = base64.urlsafe_b64decode(known.jwk["x"] + "=" * (-len(known.jwk["x"]) % 4))
    assert len(public) == 32
    secrets = [public, known.jwk["x"].encode(), json.dumps(known.jwk).encode()]
    for secret in secrets:
        header = {"alg": "HS256", "typ": "at+jwt", "kid": known.jwk["kid"]}
        await assert_rejected(known.client, bearer(hs256(header, claims, secret)))


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"exp": FromNow(-120), "iat": FromNow(-1000)}, "expired"),
        ({"nbf": FromNow(600)}, "not yet valid"),
        ({"aud": "some-other-api"}, "wrong audience"),
        ({"iss": "https://evil.example/identity"}, "wrong issuer"),
        ({"tenant": None}, "no tenant"),
        ({"jti": None}, "no jti"),
        ({"sub": None}, "no subject"),
        ({"exp": None}, "no expiry"),
        ({"tenant": "not-a-uuid"}, "tenant is not a uuid"),
    ],
)
async def test_validly_signed_token_with_bad_claims_is_rejected(
    known: KnownKeyApp, sign_up: SignUp, changes: dict[str, Any], why: str
) -> None:
    account = await sign_up()
    await assert_rejected(known.client, bearer(forge(known, claims_for(known, account, **changes))))


@pytest.mark.parametrize("typ", ["JWT", "jwt", "", "at+JWT+x"])
async def test_wrong_typ_header_is_rejected(known: KnownKeyApp, sign_up: SignUp, typ: str) -> None:
    account = await sign_up()
    token = forge(known, claims_for(known, account), typ=typ)
    assert jwt.get_unverified_header(token).get("typ") != "at+jwt"
    await assert_rejected(known.client, bearer(token))


async def test_edited_tenant_claim_breaks_the_signature(
    identity: httpx.AsyncClient, sign_up: SignUp
) -> None:
    a, b = await sign_up(), await sign_up()
    header, payload, signature = a.access_token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["tenant"] = b.tenant_id
    tampered = f"{header}.{_segment(claims)}.{signature}"
    await assert_rejected(identity, bearer(tampered))
    # The untouched token still works: the rejection is due to the edit alone.
    assert (await identity.get("/me", headers=a.auth)).status_code == 200


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        "a.b.c",
        "a.b",
        "....",
        "eyJhbGciOiJFZERTQSJ9",
        f"{_segment({'alg': 'EdDSA', 'typ': 'at+jwt'})}.e30.",
        f"{_segment({'alg': 'EdDSA', 'typ': 'at+jwt', 'kid': 42})}.e30.AAAA",
        f"{_b64(b'[1, 2]')}.e30.AAAA",
        f"{_b64(b'not json')}.e30.AAAA",
        "x" * 5000,
    ],
)
async def test_garbage_tokens_are_rejected(identity: httpx.AsyncClient, token: str) -> None:
    await assert_rejected(identity, bearer(token))


async def test_missing_header_and_other_schemes_are_rejected(
    identity: httpx.AsyncClient, sign_up: SignUp
) -> None:
    account = await sign_up()
    await assert_rejected(identity, {})
    for value in (
        f"Basic {account.access_token}",
        f"Token {account.access_token}",
        account.access_token,
        "Bearer",
        "Bearer ",
        f"Bearer{account.access_token}",
    ):
        await assert_rejected(identity, {"Authorization": value})
    # Scheme names are case-insensitive (RFC 9110), so this control must pass.
    ok = await identity.get("/me", headers={"Authorization": f"bearer {account.access_token}"})
    assert ok.status_code == 200
