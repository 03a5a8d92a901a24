"""The events this service publishes (topic ``dojo``), in the platform's event envelope.

``dojo.created``, ``dojo.updated``, ``dojo.started``, ``dojo.ended``, ``dojo.archived`` and
``dojo.participant.joined`` carry the dojo as it now is (event-carried state transfer, so the
search index never calls back) with its ``version``; consumers keep the newest version.
The envelope is the one of ``platform_api.kernel.events.Event`` (branch ``pocs``): id, type,
tenant_id, aggregate_id, version, occurred_at, payload, trace.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from opentelemetry import propagate

TOPIC = "dojo"
EventType = Literal[
    "dojo.created",
    "dojo.updated",
    "dojo.started",
    "dojo.ended",
    "dojo.archived",
    "dojo.participant.joined",
]


@dataclass(frozen=True, slots=True)
class Event:
    type: str
    tenant_id: uuid.UUID
    aggregate_id: uuid.UUID
    version: int
    payload: dict[str, Any]
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    occurred_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    trace: dict[str, str] = field(default_factory=dict)

    @property
    def topic(self) -> str:
        return self.type.split(".", 1)[0]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "type": self.type,
            "tenant_id": str(self.tenant_id),
            "aggregate_id": str(self.aggregate_id),
            "version": self.version,
            "occurred_at": self.occurred_at.isoformat(),
            "payload": self.payload,
            "trace": self.trace,
        }


def dojo_payload(row: Any, participant_count: int) -> dict[str, Any]:
    """The public state of a dojo (a store row), as the search index wants it."""
    data = {
        "dojo_id": str(row["dojo_id"]),
        "tenant_id": str(row["tenant_id"]),
        "creator_id": str(row["creator_id"]),
        "name": row["name"],
        "description": row["description"],
        "language": row["language"],
        "format": row["format"],
        "status": row["status"],
        "participant_count": participant_count,
        "version": row["version"],
    }
    for key in ("scheduled_start_time", "created_at", "started_at", "ended_at"):
        data[key] = row[key].isoformat() if row[key] is not None else None
    return data


def dojo_event(kind: EventType, row: Any, participant_count: int, **extra: Any) -> Event:
    """The event for a change whose result is ``row``, stamped with the trace context."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return Event(
        type=kind,
        tenant_id=row["tenant_id"],
        aggregate_id=row["dojo_id"],
        version=row["version"],
        payload={**dojo_payload(row, participant_count), **extra},
        trace=carrier,
    )
