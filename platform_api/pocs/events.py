"""The events the POC service publishes (topic ``poc``), each carrying the POC's version.

``poc.created``, ``poc.updated`` and ``poc.restored`` carry the whole POC as it now is
(event-carried state transfer: consumers never call back); ``poc.deleted`` (moved to the
trash) and ``poc.purged`` (gone for good) carry its id and owner.
"""

from __future__ import annotations

from typing import Any, Literal

from platform_api.kernel.events import Event, new_event

TOPIC = "poc"
EventType = Literal["poc.created", "poc.updated", "poc.restored", "poc.deleted", "poc.purged"]
REMOVALS = ("poc.deleted", "poc.purged")


def snapshot(row: Any) -> dict[str, Any]:
    """The public state of a POC (a store row) as JSON-ready values."""
    data = {
        "poc_id": str(row["poc_id"]),
        "tenant_id": str(row["tenant_id"]),
        "owner_id": str(row["owner_id"]),
        "name": row["name"],
        "description": row["description"],
        "language": row["language"],
        "frameworks": list(row["frameworks"]),
        "tags": list(row["tags"]),
        "repository_url": row["repository_url"],
        "status": row["status"],
        "visibility": row["visibility"],
        "version": row["version"],
    }
    for key in ("started_on", "finished_on", "created_at", "updated_at"):
        data[key] = row[key].isoformat() if row[key] is not None else None
    return data


def poc_event(kind: EventType, row: Any) -> Event:
    """The event for a change whose result is ``row`` (a snapshot or a purged row)."""
    if kind in REMOVALS:
        payload = {"poc_id": str(row["poc_id"]), "owner_id": str(row["owner_id"])}
    else:
        payload = snapshot(row)
    return new_event(
        kind,
        tenant_id=row["tenant_id"],
        aggregate_id=row["poc_id"],
        version=row["version"] + (1 if kind == "poc.purged" else 0),
        payload=payload,
    )
