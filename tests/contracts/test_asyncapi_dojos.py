"""contracts/asyncapi-dojos.yaml matches what the dojo service writes and publishes."""

from __future__ import annotations

import typing
import uuid
from datetime import UTC, datetime
from pathlib import Path

import yaml

from platform_api.dojos.events import EventType, dojo_payload
from platform_api.dojos.room import room_meta

SPEC = yaml.safe_load((Path(__file__).parents[2] / "contracts" / "asyncapi-dojos.yaml").read_text())
SCHEMAS = SPEC["components"]["schemas"]


def _dojo() -> dict[str, typing.Any]:
    now = datetime.now(UTC)
    return {
        "dojo_id": uuid.uuid4(), "tenant_id": uuid.uuid4(), "creator_id": uuid.uuid4(),
        "name": "Kata", "description": "", "language": "Python", "format": "randori",
        "status": "active", "version": 3, "scheduled_start_time": None, "created_at": now,
        "started_at": now, "ended_at": None, "driver_id": None, "rotation_order": [],
        "turn": 0, "timer_state": "stopped", "rotation_seconds": 300, "turn_due_at": None,
        "turn_remaining_ms": None, "is_private": False, "tags": ["tdd"],
    }  # fmt: skip


def test_event_types_and_payload_are_documented() -> None:
    documented = set(SCHEMAS["DojoEvent"]["properties"]["type"]["enum"])
    assert documented == set(typing.get_args(EventType))
    payload = SCHEMAS["DojoEvent"]["properties"]["payload"]
    extra = {"user_id", "reason"}  # the participant events'
    assert set(dojo_payload(_dojo(), [uuid.uuid4()])) | extra == set(payload["properties"])
    assert set(payload["required"]) <= set(payload["properties"])


def test_room_meta_keys_are_documented() -> None:
    keys = set(room_meta(_dojo(), [], datetime.now(UTC)))  # type: ignore[arg-type]
    assert keys == set(SCHEMAS["DojoRoomMeta"]["properties"])
