"""KeySet: a JWKS with one bad entry, or not shaped like a JWKS at all, costs no good key."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from platform_api.kernel.jwks import KeySet
from platform_api.kernel.keys import generate_private_key_pem, public_jwk_from_pem

GOOD = public_jwk_from_pem(generate_private_key_pem())
NEXT = public_jwk_from_pem(generate_private_key_pem())

BAD_ENTRIES = [
    pytest.param(
        {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA", "kid": "bad", "alg": "EdDSA"},
        id="ec-labelled-eddsa",
    ),
    pytest.param(
        {"kty": "EC", "crv": "P-256", "x": "AA", "kid": "bad", "alg": "ES256"}, id="es256-without-y"
    ),
    pytest.param({**NEXT, "kid": "bad", "alg": "ES256"}, id="okp-labelled-es256"),
    pytest.param(
        {"kty": "OKP", "crv": "Ed25519", "x": 5, "kid": "bad", "alg": "EdDSA"}, id="x-not-a-string"
    ),
    pytest.param({"crv": "Ed25519", "x": NEXT["x"], "kid": "bad", "alg": "EdDSA"}, id="no-kty"),
    pytest.param("bad", id="a-string"),
    pytest.param(["bad"], id="a-list"),
]
BAD_KEY = {"kty": "EC", "crv": "P-256", "x": "AA", "kid": "bad", "alg": "ES256"}


def served(*documents: Any) -> tuple[httpx.AsyncClient, list[httpx.Request]]:
    """A client whose JWKS answers are ``documents`` in turn (the last one repeated)."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        document = documents[min(len(seen), len(documents)) - 1]
        return httpx.Response(200, content=json.dumps(document).encode())

    return httpx.AsyncClient(transport=httpx.MockTransport(handler)), seen


def fetching(client: httpx.AsyncClient) -> KeySet:
    """A KeySet that refetches on every lookup (no cache, no rate limit)."""
    return KeySet(
        jwks_url="http://issuer/jwks", http_client=client, cache_seconds=0, min_refetch_seconds=0
    )


@pytest.mark.parametrize("bad", BAD_ENTRIES)
async def test_a_bad_entry_beside_a_good_key_costs_only_itself(bad: Any) -> None:
    client, _ = served({"keys": [bad, GOOD]})
    keys = fetching(client)
    found = await keys.get(GOOD["kid"])
    assert found is not None
    assert found.algorithm_name == "EdDSA"
    assert await keys.get("bad") is None


@pytest.mark.parametrize(
    "document",
    [
        pytest.param([GOOD], id="a-list"),
        pytest.param({"keys": "x"}, id="keys-a-string"),
        pytest.param({"keys": {"0": GOOD}}, id="keys-an-object"),
        pytest.param({"nokeys": []}, id="no-keys"),
        pytest.param(None, id="null"),
        pytest.param({"keys": [BAD_KEY, "bad"]}, id="only-bad-keys"),
    ],
)
async def test_a_document_without_a_usable_key_keeps_the_keys_we_have(document: Any) -> None:
    client, seen = served({"keys": [GOOD]}, document)
    keys = fetching(client)
    assert await keys.get(GOOD["kid"]) is not None
    assert await keys.get(NEXT["kid"]) is None  # refetched: the bad document
    assert len(seen) == 2
    assert await keys.get(GOOD["kid"]) is not None


async def test_a_rotation_after_a_bad_document_is_picked_up() -> None:
    client, _ = served({"keys": [GOOD]}, [GOOD], {"keys": [BAD_KEY, NEXT, GOOD]})
    keys = fetching(client)
    assert await keys.get(GOOD["kid"]) is not None
    assert await keys.get(NEXT["kid"]) is None
    assert await keys.get(NEXT["kid"]) is not None
    assert await keys.get(GOOD["kid"]) is not None


async def test_a_bad_static_key_is_skipped() -> None:
    keys = KeySet(static_keys=[BAD_KEY, GOOD])
    assert await keys.get(GOOD["kid"]) is not None
    assert await keys.get("bad") is None
