"""Tickets are verified with the configured clock skew as leeway, the margin access changes
are judged with: an issuer whose clock runs ahead by less has its fresh tickets taken."""

from __future__ import annotations

import time
import uuid

import jwt
import pytest

from collab_server.errors import Reject
from collab_server.tickets import TICKET_TYP, TicketVerifier, key_set
from platform_api.kernel.keys import generate_private_key_pem, public_jwk_from_pem


def _ticket(private_pem: str, room: str, *, issued_in: float) -> str:
    now = int(time.time() + issued_in)
    payload = {
        "iss": "mrbill-dojos",
        "aud": "mrbill-collab",
        "sub": "u",
        "tenant": room.split(":", 1)[0],
        "room": room,
        "role": "write",
        "iat": now,
        "exp": now + 300,
    }
    kid = public_jwk_from_pem(private_pem)["kid"]
    return jwt.encode(
        payload, private_pem, algorithm="EdDSA", headers={"kid": kid, "typ": TICKET_TYP}
    )


def _verifier(private_pem: str, **skew: float) -> TicketVerifier:
    return TicketVerifier(
        key_set(public_key_pem=private_pem), issuer="mrbill-dojos", audience="mrbill-collab", **skew
    )


async def test_a_ticket_issued_within_the_configured_skew_ahead_is_taken() -> None:
    private_pem = generate_private_key_pem()
    room = f"{uuid.uuid4()}:dojo"
    ticket = _ticket(private_pem, room, issued_in=20)  # the issuer's clock is 20 s ahead
    verified = await _verifier(private_pem, clock_skew=30).verify(ticket, room)
    assert verified.room == room
    with pytest.raises(Reject):  # past the default margin of 5 s
        await _verifier(private_pem).verify(ticket, room)


async def test_a_ticket_issued_further_ahead_than_the_skew_is_refused() -> None:
    private_pem = generate_private_key_pem()
    room = f"{uuid.uuid4()}:dojo"
    ticket = _ticket(private_pem, room, issued_in=60)
    with pytest.raises(Reject):
        await _verifier(private_pem, clock_skew=30).verify(ticket, room)
