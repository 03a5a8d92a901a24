import pickle
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from loadtests.tickets import (
    TICKET_AUDIENCE,
    TICKET_ISSUER,
    RoomAddressing,
    TicketMinter,
    key_id,
)


@pytest.fixture
def minter() -> TicketMinter:
    return TicketMinter(Ed25519PrivateKey.generate(), tenant=uuid.uuid4(), ttl_seconds=60)


def test_ticket_is_an_eddsa_room_jwt_for_the_full_room(minter: TicketMinter) -> None:
    user = uuid.uuid4()
    token = minter.ticket("dojo-1", user=user)

    header = jwt.get_unverified_header(token)
    assert header["typ"] == "room+jwt"
    assert header["alg"] == "EdDSA"
    assert header["kid"]
    claims = jwt.decode(
        token,
        minter.key.public_key(),
        algorithms=["EdDSA"],
        audience=TICKET_AUDIENCE,
        issuer=TICKET_ISSUER,
    )
    assert claims["sub"] == str(user)
    assert claims["tenant"] == str(minter.tenant)
    assert claims["room"] == f"{minter.tenant}:dojo-1"
    assert claims["role"] == "write"
    assert claims["exp"] - claims["iat"] == 60


def test_addressing_prefixes_rooms_and_adds_a_ticket_per_connection(minter: TicketMinter) -> None:
    plain = RoomAddressing({"a": "1"})
    assert plain.room("r") == "r"
    assert plain.query("r") == {"a": "1"}

    minted = RoomAddressing({"a": "1"}, minter)
    assert minted.room("r") == f"{minter.tenant}:r"
    query = minted.query("r")
    assert query["a"] == "1"
    assert jwt.decode(query["ticket"], options={"verify_signature": False})["room"] == minted.room(
        "r"
    )


def test_minter_survives_pickling_for_worker_processes(minter: TicketMinter) -> None:
    copy = pickle.loads(pickle.dumps(minter))  # noqa: S301 - our own object
    token = copy.ticket("r")
    claims = jwt.decode(
        token, minter.key.public_key(), algorithms=["EdDSA"], audience=TICKET_AUDIENCE
    )
    assert claims["tenant"] == str(minter.tenant)


def test_key_id_is_the_same_thumbprint_identity_publishes(minter: TicketMinter) -> None:
    from platform_api.identity.security import public_jwk

    assert key_id(minter.key.public_key()) == public_jwk(minter.key.public_key())["kid"]
