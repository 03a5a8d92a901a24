"""The events this service publishes (topic ``dojo``), in the platform's event envelope.

``dojo.created``, ``dojo.updated``, ``dojo.started``, ``dojo.ended``, ``dojo.archived`` and
``dojo.participant.joined`` carry the dojo as it now is (event-carried state transfer, so the
search index never calls back) with its ``version``; consumers keep the newest version.
The envelope is ``platform_api.kernel.events.Event``: id, type, tenant_id, aggregate_id,
version, occurred_at, payload, trace.
"""

from __future__ import annotations

from typing import Any, Literal

from platform_api.kernel.events import Event, new_event

TOPIC = "dojo"
EventType = Literal[
    "dojo.created",
    "dojo.updated",
    "dojo.started",
    "dojo.ended",
    "dojo.archived",
    "dojo.participant.joined",
]


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
    return new_event(
        kind,
        tenant_id=row["tenant_id"],
        aggregate_id=row["dojo_id"],
        version=row["version"],
        payload={**dojo_payload(row, participant_count), **extra},
    )
