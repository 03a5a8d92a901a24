"""The production index: Amazon OpenSearch Service (opensearch-py, async client).

Mapping: the design brief's POC index (``poc_id``, ``user_id``, ``tenant_id``, ``name`` text +
keyword, ``description``, ``language``/``tags``/``frameworks`` keywords, ``is_public``,
``repository_url``, dates, ``code_snippets`` with the code analyzer) plus what our API needs:
``status``, ``visibility``, ``version``, lower-cased sort/filter keys and text sub-fields so
that tags and languages are typo-tolerant too.

High availability: ``number_of_replicas`` >= 1 with the domain's zone awareness on (set in
Terraform: ``zone_awareness_enabled``, 3 AZs) puts a primary and its replica in different
AZs. Writes, paging, facets and suggestions are shared with the dojo index
(``opensearch_base``).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from .index import PocDocument, Removal, SearchQuery, Suggestions
from .opensearch_base import LOWER, TEXT_SUB, OpenSearchAdapter

FACETS = {"language": 20, "tags": 30, "status": 10}
TEXT_FIELDS = ["name^3", "tags.text^2", "language.text^2", "frameworks.text^1.5", "description"]


def index_body(shards: int = 3, replicas: int = 1) -> dict[str, Any]:
    """Settings and mappings of the POC index (the brief's, extended)."""
    return {
        "settings": {
            "index": {"number_of_shards": shards, "number_of_replicas": replicas},
            "analysis": {
                "analyzer": {
                    "code_analyzer": {
                        "type": "custom",
                        "tokenizer": "standard",
                        "filter": ["lowercase", "asciifolding", "code_filter"],
                    }
                },
                "filter": {
                    "code_filter": {
                        "type": "stop",
                        "stopwords": [
                            "function",
                            "class",
                            "var",
                            "const",
                            "let",
                            "return",
                            "if",
                            "else",
                            "for",
                            "while",
                        ],
                    }
                },
                "normalizer": LOWER,
            },
        },
        "mappings": {
            "dynamic": "strict",
            "properties": {
                "poc_id": {"type": "keyword"},
                "user_id": {"type": "keyword"},
                "tenant_id": {"type": "keyword"},
                "name": {
                    "type": "text",
                    "analyzer": "standard",
                    "fields": {
                        "keyword": {"type": "keyword"},
                        "sort": {"type": "keyword", "normalizer": "lower"},
                    },
                },
                "description": {"type": "text", "analyzer": "standard"},
                "language": {
                    "type": "keyword",
                    "fields": {**TEXT_SUB, "key": {"type": "keyword", "normalizer": "lower"}},
                },
                "tags": {"type": "keyword", "fields": TEXT_SUB},
                "frameworks": {"type": "keyword", "fields": TEXT_SUB},
                "is_public": {"type": "boolean"},
                "visibility": {"type": "keyword"},
                "status": {"type": "keyword"},
                "repository_url": {"type": "keyword"},
                "created_at": {"type": "date"},
                "updated_at": {"type": "date"},
                "version": {"type": "long"},
                "code_snippets": {"type": "text", "analyzer": "code_analyzer"},
            },
        },
    }


def _source(doc: PocDocument) -> dict[str, Any]:
    return {
        "poc_id": str(doc.poc_id),
        "user_id": str(doc.owner_id),
        "tenant_id": str(doc.tenant_id),
        "name": doc.name,
        "description": doc.description,
        "language": doc.language,
        "tags": list(doc.tags),
        "frameworks": list(doc.frameworks),
        "is_public": doc.visibility == "tenant",
        "visibility": doc.visibility,
        "status": doc.status,
        "repository_url": doc.repository_url,
        "created_at": doc.created_at.isoformat(),
        "updated_at": doc.updated_at.isoformat(),
        "version": doc.version,
    }


def _document(source: dict[str, Any]) -> PocDocument:
    return PocDocument(
        tenant_id=uuid.UUID(source["tenant_id"]),
        poc_id=uuid.UUID(source["poc_id"]),
        owner_id=uuid.UUID(source["user_id"]),
        name=source["name"],
        description=source.get("description") or "",
        language=source.get("language"),
        tags=tuple(source.get("tags") or ()),
        frameworks=tuple(source.get("frameworks") or ()),
        status=source["status"],
        visibility=source["visibility"],
        repository_url=source.get("repository_url"),
        created_at=datetime.fromisoformat(source["created_at"]),
        updated_at=datetime.fromisoformat(source["updated_at"]),
        version=int(source["version"]),
    )


class OpenSearchIndex(OpenSearchAdapter[PocDocument, Removal, SearchQuery]):
    """The :class:`~platform_api.search.index.SearchIndex` on OpenSearch."""

    id_field = "poc_id"
    facets = FACETS
    default_index = "mrbill-pocs-v1"

    def index_body(self) -> dict[str, Any]:
        return index_body(replicas=self.replicas)

    to_source = staticmethod(_source)
    from_source = staticmethod(_document)

    def _filters(self, tenant_id: uuid.UUID, viewer_id: uuid.UUID) -> list[dict[str, Any]]:
        return [
            {"term": {"tenant_id": str(tenant_id)}},
            {
                "bool": {
                    "should": [
                        {"term": {"user_id": str(viewer_id)}},
                        {"term": {"is_public": True}},
                    ],
                    "minimum_should_match": 1,
                }
            },
        ]

    def build_body(self, q: SearchQuery, text: str) -> dict[str, Any]:
        filters = self._filters(q.tenant_id, q.viewer_id)
        if q.languages:
            filters.append({"terms": {"language.key": [lang.lower() for lang in q.languages]}})
        if q.statuses:
            filters.append({"terms": {"status": list(q.statuses)}})
        if q.owner_id:
            filters.append({"term": {"user_id": str(q.owner_id)}})
        if q.tags and q.tag_mode == "any":
            filters.append({"terms": {"tags": list(q.tags)}})
        else:
            filters += [{"term": {"tags": tag}} for tag in q.tags]
        return self.search_body(q, text, {"filter": filters}, TEXT_FIELDS)

    async def suggest(
        self, tenant_id: uuid.UUID, viewer_id: uuid.UUID, prefix: str, limit: int
    ) -> Suggestions:
        visible = {"filter": self._filters(tenant_id, viewer_id)}
        return await self.suggestions(tenant_id, visible, prefix, limit)
