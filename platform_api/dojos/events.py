"""The events this service publishes (topic ``dojo``), in the platform's event envelope.

Every event carries the dojo as it now is (event-carried state transfer, so the search index
never calls back) with its ``version``; consumers keep the newest version. Besides the
lifecycle (``dojo.created``, ``dojo.updated``, ``dojo.started``, ``dojo.ended``,
``dojo.archived``), ``dojo.participant.joined`` and ``dojo.participant.left`` (left, removed,
or their invite revoked: ``reason``) add ``user_id``. ``participant_ids`` are the active
participants, so that a consumer can show a private dojo to them and to nobody else.
The envelope is ``platform_api.kernel.events.Event``: id, type, tenant_id, aggregate_id,
version, occurred_at, payload, trace.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
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
    "dojo.participant.left",
]


def dojo_payload(row: Any, participant_ids: Sequence[uuid.UUID]) -> dict[str, Any]:
    """The public state of a dojo (a store row) and its active participants."""
    data = {
        "dojo_id": str(row["dojo_id"]),
        "tenant_id": str(row["tenant_id"]),
        "creator_id": str(row["creator_id"]),
        "name": row["name"],
        "description": row["description"],
        "language": row["language"],
        "format": row["format"],
        "status": row["status"],
        "is_private": row["is_private"],
        "tags": list(row["tags"]),
        "participant_count": len(participant_ids),
        "participant_ids": [str(u) for u in participant_ids],
        "version": row["version"],
    }
    for key in ("scheduled_start_time", "created_at", "started_at", "ended_at"):
        data[key] = row[key].isoformat() if row[key] is not None else None
    return data


def dojo_event(
    kind: EventType, row: Any, participant_ids: Sequence[uuid.UUID], **extra: Any
) -> Event:
    """The event for a change whose result is ``row``, stamped with the trace context."""
    return new_event(
        kind,
        tenant_id=row["tenant_id"],
        aggregate_id=row["dojo_id"],
        version=row["version"],
        payload={**dojo_payload(row, participant_ids), **extra},
    )
