"""Response bodies of the search API."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field


class HighlightsOut(BaseModel):
    """HTML-escaped excerpts with the matching words in ``<mark>``."""

    name: str | None = None
    description: str | None = None


class SearchHitOut(BaseModel):
    poc_id: uuid.UUID
    owner_id: uuid.UUID
    name: str
    description: str = Field(description="The first 300 characters (Markdown)")
    language: str | None
    tags: list[str]
    frameworks: list[str]
    status: str
    visibility: str
    repository_url: str | None
    created_at: datetime
    updated_at: datetime
    score: float | None = Field(description="Relevance (only when sorted by relevance)")
    highlights: HighlightsOut


class FacetOut(BaseModel):
    value: str
    count: int


class FacetsOut(BaseModel):
    language: list[FacetOut]
    tags: list[FacetOut]
    status: list[FacetOut]


class SearchOut(BaseModel):
    items: list[SearchHitOut]
    total: int = Field(description="Matches visible to you, over every page")
    facets: FacetsOut = Field(description="Counts per value over every match")
    next_cursor: str | None


class SuggestOut(BaseModel):
    names: list[str]
    tags: list[str]


class DojoHitOut(BaseModel):
    dojo_id: uuid.UUID
    creator_id: uuid.UUID
    name: str
    description: str = Field(description="The first 300 characters (Markdown)")
    language: str
    format: str
    status: str
    is_private: bool
    tags: list[str]
    participant_count: int
    scheduled_start_time: datetime | None
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    score: float | None = Field(description="Relevance (only when sorted by relevance)")
    highlights: HighlightsOut


class DojoFacetsOut(BaseModel):
    status: list[FacetOut]
    language: list[FacetOut]
    tags: list[FacetOut]


class DojoSearchOut(BaseModel):
    items: list[DojoHitOut]
    total: int = Field(description="Matches visible to you, over every page")
    facets: DojoFacetsOut = Field(description="Counts per value over every match")
    next_cursor: str | None


class RebuildOut(BaseModel):
    indexed: int
    removed: int
    kept_newer: int = Field(description="Documents the index already held in a newer version")


class ReindexOut(RebuildOut):
    """The POCs' counts, and the dojos'."""

    dojos: RebuildOut
