"""HTTP handlers of the search service: parse, call the use case, map the result.

The tenant of every query comes from the verified token, never from the query string.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import uuid
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AfterValidator

from platform_api.kernel import (
    Principal,
    Problem,
    current_principal,
    decode_cursor,
    encode_cursor,
    require_roles,
)
from platform_api.kernel.i18n import N_, Invalid
from platform_api.kernel.text import language_name, nfc, tag_key

from . import service
from .index import Hit, PocDocument, SearchPage, SearchQuery, Sort, TagMode
from .index_dojos import DojoQuery
from .schemas import (
    FacetOut,
    FacetsOut,
    HighlightsOut,
    RebuildOut,
    ReindexOut,
    SearchHitOut,
    SearchOut,
    SuggestOut,
)
from .service import Search

router = APIRouter()
Caller = Annotated[Principal, Depends(current_principal)]
Admin = Annotated[Principal, Depends(require_roles("owner", "admin"))]
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
Q = TypeVar("Q", SearchQuery, DojoQuery)


def _text(value: str) -> str:
    if _CONTROL.search(value):
        raise Invalid(N_("control characters are not allowed"))
    return nfc(value.strip())


Text = Annotated[str, AfterValidator(_text)]
Values = Annotated[list[Annotated[Text, Query(max_length=50)]], Query(max_length=10)]
Status = Literal["idea", "in_progress", "done", "abandoned"]
Words = Annotated[Text, Query(max_length=200, description="Words; typos are forgiven")]
PageLimit = Annotated[int, Query(ge=1, le=50)]
Cursor = Annotated[str | None, Query(max_length=500)]
Prefix = Annotated[Text, Query(min_length=1, max_length=100)]
SuggestLimit = Annotated[int, Query(ge=1, le=20)]


def tag_keys(tags: list[str]) -> tuple[str, ...]:
    """Tags as the index keys them (``tag_key``), once each."""
    return tuple(dict.fromkeys(key for key in map(tag_key, tags) if key))


def language_keys(languages: list[str]) -> tuple[str, ...]:
    """Languages as given and under the spelling POCs keep them (``"golang"`` finds Go;
    a dojo keeps its language as typed, so ``"golang"`` stays too)."""
    return tuple(
        dict.fromkeys(key for name in languages if name for key in (name, language_name(name)))
    )


def _search(request: Request) -> Search:
    return request.app.state.search


Svc = Annotated[Search, Depends(_search)]


def _owner(owner: str | None, who: Principal) -> uuid.UUID | None:
    if owner is None:
        return None
    if owner == "me":
        return who.user_id
    try:
        return uuid.UUID(owner)
    except ValueError:
        raise Problem(422, "owner is 'me' or a user id") from None


def digest(key: list[Any]) -> str:
    """Ties a cursor to the query that made it (``key``: all it was asked but the cursor)."""
    return hashlib.sha256(json.dumps(key).encode()).hexdigest()[:16]


def _fingerprint(query: SearchQuery) -> str:
    key: list[Any] = [query.text, query.languages, query.tags, query.tag_mode, query.statuses]
    return digest([*key, str(query.owner_id), query.sort, query.limit])


def resume(query: Q, cursor: str | None, fingerprint: str) -> Q:
    """``query`` from the position in ``cursor``; 400 if the cursor is another query's."""
    values = decode_cursor(cursor, ("q", "after"))
    if values is None:
        return query
    if values["q"] != fingerprint or not isinstance(values["after"], list):
        raise Problem(400, "The cursor belongs to another query")
    return dataclasses.replace(query, after=values["after"])


def facets_out(page: SearchPage[Any]) -> dict[str, list[FacetOut]]:
    return {k: [FacetOut(value=v, count=c) for v, c in page.facets[k]] for k in page.facets}


def next_cursor(page: SearchPage[Any], fingerprint: str) -> str | None:
    """The cursor of the page after ``page``, if there is one."""
    if page.next_after is None:
        return None
    return encode_cursor({"q": fingerprint, "after": page.next_after})


def _hit(hit: Hit[PocDocument]) -> SearchHitOut:
    doc = hit.document
    return SearchHitOut(
        poc_id=doc.poc_id,
        owner_id=doc.owner_id,
        name=doc.name,
        description=doc.description[:300],
        language=doc.language,
        tags=list(doc.tags),
        frameworks=list(doc.frameworks),
        status=doc.status,
        visibility=doc.visibility,
        repository_url=doc.repository_url,
        created_at=doc.created_at,
        updated_at=doc.updated_at,
        score=hit.score,
        highlights=HighlightsOut(**hit.highlights),
    )


def _out(page: SearchPage[PocDocument], query: SearchQuery) -> SearchOut:
    return SearchOut(
        items=[_hit(h) for h in page.hits],
        total=page.total,
        facets=FacetsOut(**facets_out(page)),
        next_cursor=next_cursor(page, _fingerprint(query)),
    )


@router.get("/search", response_model=SearchOut, tags=["search"])
async def search(
    who: Caller,
    svc: Svc,
    q: Words = "",
    language: Values = [],  # noqa: B006
    tags: Values = [],  # noqa: B006
    tag_mode: Annotated[TagMode, Query(description="all: every tag; any: one of them")] = "all",
    status: Annotated[list[Status], Query(max_length=4)] = [],  # noqa: B006
    owner: Annotated[str | None, Query(max_length=36, description="'me' or a user id")] = None,
    sort: Sort = "relevance",
    limit: PageLimit = 20,
    cursor: Cursor = None,
) -> SearchOut:
    """Your team's POCs and your own by name, description, language, frameworks and tags."""
    query = SearchQuery(
        tenant_id=who.tenant_id,
        viewer_id=who.user_id,
        text=q,
        languages=language_keys(language),
        tags=tag_keys(tags),
        tag_mode=tag_mode,
        statuses=tuple(status),
        owner_id=_owner(owner, who),
        sort=sort,
        limit=limit,
    )
    query = resume(query, cursor, _fingerprint(query))
    return _out(await service.run_search(svc, query), query)


@router.get("/suggest", response_model=SuggestOut, tags=["search"])
async def suggest(
    who: Caller,
    svc: Svc,
    q: Prefix,
    limit: SuggestLimit = 8,
) -> SuggestOut:
    """As-you-type suggestions: POC names and tags that start like ``q``."""
    found = await svc.index.suggest(who.tenant_id, who.user_id, q, limit)
    return SuggestOut(names=found.names, tags=found.tags)


@router.post("/reindex", response_model=ReindexOut, tags=["index"])
async def reindex(who: Admin, svc: Svc) -> ReindexOut:
    """Owners/admins: rebuild your organization's index from the POC and dojo services."""
    report = await service.reindex_tenant(svc, who.tenant_id)
    return ReindexOut(
        indexed=report.indexed,
        removed=report.removed,
        kept_newer=report.kept_newer,
        dojos=RebuildOut(**report.dojos.__dict__),
    )
