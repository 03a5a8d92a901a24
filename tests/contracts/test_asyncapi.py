"""contracts/asyncapi.yaml documents every close code the collab server and protocol use."""

from __future__ import annotations

from pathlib import Path

import yaml

import collab_server.codes as codes
from crdt import CloseCode

SPEC = yaml.safe_load((Path(__file__).parents[2] / "contracts" / "asyncapi.yaml").read_text())


def test_every_close_code_is_documented() -> None:
    used = {value for name, value in vars(codes).items() if name.isupper()} | {
        int(c) for c in CloseCode
    }
    documented = {int(code) for code in SPEC["x-close-codes"]}
    assert used == documented


def test_ticket_schema_matches_what_the_server_requires() -> None:
    required = set(SPEC["components"]["schemas"]["RoomTicket"]["required"])
    assert required == {"iss", "aud", "sub", "tenant", "room", "role", "iat", "exp"}
    assert SPEC["channels"]["room"]["address"] == "/collab/{room}"
