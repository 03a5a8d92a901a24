"""The production dojo index on Amazon OpenSearch Service (opensearch-py, async client).

Mapping: the design brief's "Dojo Search Index" (``dojo_id``, ``creator_id``, ``tenant_id``,
``name`` text + keyword, ``description``, ``language``/``status``/``tags`` keywords,
``is_private``, the four dates, ``participant_count``; 2 shards, 1 replica) plus what the API
needs: ``participant_ids`` (who may see a private dojo), ``format``, ``start_at`` (sorting),
``version``, a lower-cased sort key for names and language, and text sub-fields so that tags
and languages are typo-tolerant too. Documents are routed by tenant and written with
external versioning, as POCs are (``opensearch_base``).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from .index import Suggestions
from .index_dojos import DOJO_FACETS, DojoDocument, DojoQuery, DojoRemoval
from .opensearch_base import LOWER, TEXT_SUB, OpenSearchAdapter

TEXT_FIELDS = ["name^3", "tags.text^2", "language.text^2", "description"]
NOT_ARCHIVED = {"term": {"status": "archived"}}
DATES = ("scheduled_start_time", "created_at", "started_at", "ended_at")


def dojo_index_body(shards: int = 2, replicas: int = 1) -> dict[str, Any]:
    """Settings and mappings of the dojo index (the brief's, extended)."""
    return {
        "settings": {
            "index": {"number_of_shards": shards, "number_of_replicas": replicas},
            "analysis": {"normalizer": LOWER},
        },
        "mappings": {
            "dynamic": "strict",
            "properties": {
                "dojo_id": {"type": "keyword"},
                "creator_id": {"type": "keyword"},
                "tenant_id": {"type": "keyword"},
                "name": {
                    "type": "text",
                    "fields": {
                        "keyword": {"type": "keyword"},
                        "sort": {"type": "keyword", "normalizer": "lower"},
                    },
                },
                "description": {"type": "text"},
                "language": {
                    "type": "keyword",
                    "fields": {**TEXT_SUB, "key": {"type": "keyword", "normalizer": "lower"}},
                },
                "status": {"type": "keyword"},
                "is_private": {"type": "boolean"},
                "scheduled_start_time": {"type": "date"},
                "created_at": {"type": "date"},
                "started_at": {"type": "date"},
                "ended_at": {"type": "date"},
                "participant_count": {"type": "integer"},
                "tags": {"type": "keyword", "fields": TEXT_SUB},
                "participant_ids": {"type": "keyword"},
                "format": {"type": "keyword"},
                "start_at": {"type": "date"},
                "version": {"type": "long"},
            },
        },
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _source(doc: DojoDocument) -> dict[str, Any]:
    source: dict[str, Any] = {
        "dojo_id": str(doc.dojo_id),
        "creator_id": str(doc.creator_id),
        "tenant_id": str(doc.tenant_id),
        "name": doc.name,
        "description": doc.description,
        "language": doc.language,
        "status": doc.status,
        "is_private": doc.is_private,
        "participant_count": doc.participant_count,
        "tags": list(doc.tags),
        "participant_ids": [str(u) for u in doc.participant_ids],
        "format": doc.format,
        "start_at": _iso(doc.started_at or doc.scheduled_start_time or doc.created_at),
        "version": doc.version,
    }
    return source | {name: _iso(getattr(doc, name)) for name in DATES}


def _document(source: dict[str, Any]) -> DojoDocument:
    def when(name: str) -> datetime | None:
        value = source.get(name)
        return datetime.fromisoformat(value) if value else None

    return DojoDocument(
        tenant_id=uuid.UUID(source["tenant_id"]),
        dojo_id=uuid.UUID(source["dojo_id"]),
        creator_id=uuid.UUID(source["creator_id"]),
        name=source["name"],
        description=source.get("description") or "",
        language=source["language"],
        format=source.get("format") or "",
        status=source["status"],
        is_private=bool(source["is_private"]),
        tags=tuple(source.get("tags") or ()),
        participant_ids=tuple(uuid.UUID(u) for u in source.get("participant_ids") or ()),
        participant_count=int(source["participant_count"]),
        scheduled_start_time=when("scheduled_start_time"),
        created_at=datetime.fromisoformat(source["created_at"]),
        started_at=when("started_at"),
        ended_at=when("ended_at"),
        version=int(source["version"]),
    )


class OpenSearchDojoIndex(OpenSearchAdapter[DojoDocument, DojoRemoval, DojoQuery]):
    """The :class:`~platform_api.search.index_dojos.DojoIndex` on OpenSearch."""

    id_field = "dojo_id"
    facets = DOJO_FACETS
    default_index = "mrbill-dojos-v1"
    sorts = {**OpenSearchAdapter.sorts, "start": {"start_at": "asc"}}

    def index_body(self) -> dict[str, Any]:
        return dojo_index_body(replicas=self.replicas)

    to_source = staticmethod(_source)
    from_source = staticmethod(_document)

    def _filters(
        self, tenant_id: uuid.UUID, viewer_id: uuid.UUID, sees_private: bool
    ) -> list[dict[str, Any]]:
        """The tenant from the token; private dojos only for their people (or admins)."""
        filters: list[dict[str, Any]] = [{"term": {"tenant_id": str(tenant_id)}}]
        if not sees_private:
            filters.append(
                {
                    "bool": {
                        "should": [
                            {"term": {"is_private": False}},
                            {"term": {"creator_id": str(viewer_id)}},
                            {"term": {"participant_ids": str(viewer_id)}},
                        ],
                        "minimum_should_match": 1,
                    }
                }
            )
        return filters

    def build_body(self, q: DojoQuery, text: str) -> dict[str, Any]:
        filters = self._filters(q.tenant_id, q.viewer_id, q.sees_private)
        if q.languages:
            filters.append({"terms": {"language.key": [x.lower() for x in q.languages]}})
        if q.statuses:
            filters.append({"terms": {"status": list(q.statuses)}})
        filters += [{"term": {"tags": tag}} for tag in q.tags]
        must_not = [] if q.statuses else [NOT_ARCHIVED]
        return self.search_body(q, text, {"filter": filters, "must_not": must_not}, TEXT_FIELDS)

    async def suggest(
        self,
        tenant_id: uuid.UUID,
        viewer_id: uuid.UUID,
        sees_private: bool,
        prefix: str,
        limit: int,
    ) -> Suggestions:
        filters = self._filters(tenant_id, viewer_id, sees_private)
        visible = {"filter": filters, "must_not": [NOT_ARCHIVED]}
        return await self.suggestions(tenant_id, visible, prefix, limit)
