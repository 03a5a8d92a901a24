"""HTTP handlers of dojo search: parse, call the use case, map the result.

The tenant, the viewer and whether they see private dojos (tenant owners and admins, as in
the dojo service) come from the verified token, never from the query string.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from platform_api.kernel import Principal

from . import service
from .index_dojos import DojoHit, DojoPage, DojoQuery, DojoSort, DojoStatus
from .routes import (
    Caller,
    Cursor,
    PageLimit,
    Prefix,
    SuggestLimit,
    Svc,
    Values,
    Words,
    digest,
    facets_out,
    language_keys,
    next_cursor,
    resume,
    tag_keys,
)
from .schemas import DojoFacetsOut, DojoHitOut, DojoSearchOut, HighlightsOut, SuggestOut

router = APIRouter()
ADMIN_ROLES = ("owner", "admin")


def _sees_private(who: Principal) -> bool:
    return who.has_any_role(*ADMIN_ROLES)


def _fingerprint(query: DojoQuery) -> str:
    key: list[Any] = [query.text, query.languages, query.statuses, query.tags]
    return digest(["dojo", *key, query.sort, query.limit])


def _hit(hit: DojoHit) -> DojoHitOut:
    doc = hit.document
    return DojoHitOut(
        dojo_id=doc.dojo_id,
        creator_id=doc.creator_id,
        name=doc.name,
        description=doc.description[:300],
        language=doc.language,
        format=doc.format,
        status=doc.status,
        is_private=doc.is_private,
        tags=list(doc.tags),
        participant_count=doc.participant_count,
        scheduled_start_time=doc.scheduled_start_time,
        created_at=doc.created_at,
        started_at=doc.started_at,
        ended_at=doc.ended_at,
        score=hit.score,
        highlights=HighlightsOut(**hit.highlights),
    )


def _out(page: DojoPage, query: DojoQuery) -> DojoSearchOut:
    return DojoSearchOut(
        items=[_hit(h) for h in page.hits],
        total=page.total,
        facets=DojoFacetsOut(**facets_out(page)),
        next_cursor=next_cursor(page, _fingerprint(query)),
    )


@router.get("/search/dojos", response_model=DojoSearchOut, tags=["dojos"])
async def search_dojos(
    who: Caller,
    svc: Svc,
    q: Words = "",
    status: Annotated[
        list[DojoStatus], Query(max_length=4, description="Any of them; default: all but archived")
    ] = [],  # noqa: B006
    language: Values = [],  # noqa: B006
    tags: Values = [],  # noqa: B006
    sort: Annotated[
        DojoSort,
        Query(
            description="start: by start (started, else scheduled, else created), earliest first"
        ),
    ] = "relevance",
    limit: PageLimit = 20,
    cursor: Cursor = None,
) -> DojoSearchOut:
    """Your organization's coding dojos by name, description, language and tags; private
    ones only if you take part in them, facilitate them or are a tenant admin."""
    query = DojoQuery(
        tenant_id=who.tenant_id,
        viewer_id=who.user_id,
        sees_private=_sees_private(who),
        text=q,
        languages=language_keys(language),
        statuses=tuple(status),
        tags=tag_keys(tags),
        sort=sort,
        limit=limit,
    )
    query = resume(query, cursor, _fingerprint(query))
    return _out(await service.run_dojo_search(svc, query), query)


@router.get("/suggest/dojos", response_model=SuggestOut, tags=["dojos"])
async def suggest_dojos(
    who: Caller,
    svc: Svc,
    q: Prefix,
    limit: SuggestLimit = 8,
) -> SuggestOut:
    """As-you-type suggestions: names and tags of dojos you may see that start like ``q``."""
    found = await svc.dojo_index.suggest(who.tenant_id, who.user_id, _sees_private(who), q, limit)
    return SuggestOut(names=found.names, tags=found.tags)
