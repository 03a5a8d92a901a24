"""Room keys: ``<tenant-uuid>:<name>``, parsed strictly, so that a room's key is the one its
storage uses (snapshot keys refuse anything else, and such a room could never compact)."""

from __future__ import annotations

import uuid

import pytest

from rooms import RoomId

TENANT = uuid.UUID("3f0c5d2e-8a41-4c1b-9f6e-2d7a9b0c1e3f")


def test_a_key_parses_to_itself() -> None:
    room = RoomId.parse(f"{TENANT}:dojo-42")
    assert room == RoomId(TENANT, "dojo-42")
    assert room.key == f"{TENANT}:dojo-42"
    assert RoomId.parse(f"{TENANT}:{'a' * 128}").name == "a" * 128


@pytest.mark.parametrize(
    "key",
    [
        f"{TENANT}:dojo\n",  # `$` alone also matches before a final newline
        f"{TENANT}:dojo\r\n",
        f"{TENANT}:\ndojo",
        f"{TENANT}:",
        f"{TENANT}:-dojo",
        f"{TENANT}:dojo/1",
        f"{TENANT}:{'a' * 129}",
        f"{TENANT}",
        f"{str(TENANT).upper()}:dojo",  # the same tenant, spelled otherwise
        f"{{{TENANT}}}:dojo",
        f"{TENANT.hex}:dojo",
        "not-a-uuid:dojo",
    ],
)
def test_malformed_keys_are_refused(key: str) -> None:
    with pytest.raises(ValueError, match="room must look like"):
        RoomId.parse(key)
