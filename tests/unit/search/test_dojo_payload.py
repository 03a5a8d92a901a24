"""The dojo service's event payload is what the search index reads (no I/O)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from platform_api.dojos.events import dojo_payload
from platform_api.search.index_dojos import DojoDocument


def _row(**overrides: Any) -> dict[str, Any]:
    now = datetime(2025, 6, 1, 9, 0, tzinfo=UTC)
    return {
        "dojo_id": uuid.uuid4(), "tenant_id": uuid.uuid4(), "creator_id": uuid.uuid4(),
        "name": "Kata", "description": "The *kata*", "language": "Go", "format": "free",
        "status": "active", "is_private": True, "tags": ["tdd"], "version": 4,
        "scheduled_start_time": None, "created_at": now, "started_at": now, "ended_at": None,
        **overrides,
    }  # fmt: skip


def test_every_field_the_index_needs_comes_from_the_payload() -> None:
    row = _row()
    people = [row["creator_id"], uuid.uuid4()]
    doc = DojoDocument.from_payload(dojo_payload(row, people))
    assert (doc.tenant_id, doc.dojo_id, doc.creator_id) == (
        row["tenant_id"],
        row["dojo_id"],
        row["creator_id"],
    )
    assert (doc.name, doc.description, doc.language, doc.format, doc.status) == (
        "Kata", "The *kata*", "Go", "free", "active",
    )  # fmt: skip
    assert (doc.is_private, doc.tags, doc.participant_ids) == (True, ("tdd",), tuple(people))
    assert (doc.participant_count, doc.version, doc.started_at) == (2, 4, row["started_at"])
    assert doc.scheduled_start_time is None


def test_payloads_from_before_privacy_read_as_public() -> None:
    payload = dojo_payload(_row(), [uuid.uuid4()])
    for key in ("is_private", "tags", "participant_ids"):
        del payload[key]
    doc = DojoDocument.from_payload(payload)
    assert (doc.is_private, doc.tags, doc.participant_ids, doc.participant_count) == (
        False, (), (), 1,
    )  # fmt: skip


@pytest.mark.parametrize(
    "change",
    [
        {"version": "4"},
        {"version": -1},
        {"participant_count": True},
        {"is_private": "yes"},
        {"name": None},
        {"language": 7},
        {"created_at": "yesterday"},
        {"created_at": "2025-06-01T09:00:00"},  # no time zone
        {"started_at": 12},
        {"participant_ids": ["not-a-uuid"]},
        {"dojo_id": "x"},
    ],
)
def test_unusable_payloads_are_value_errors(change: dict[str, Any]) -> None:
    payload = {**dojo_payload(_row(), []), **change}
    with pytest.raises(ValueError, match="not a dojo snapshot"):
        DojoDocument.from_payload(payload)


def test_a_missing_field_is_a_value_error() -> None:
    payload = dojo_payload(_row(), [])
    del payload["status"]
    with pytest.raises(ValueError, match="not a dojo snapshot"):
        DojoDocument.from_payload(payload)
