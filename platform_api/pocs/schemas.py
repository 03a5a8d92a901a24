"""Request and response bodies of the POC API, with the normalisation rules of each field."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    HttpUrl,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticKnownError

from platform_api.kernel.i18n import N_, Invalid
from platform_api.kernel.text import MAX_TAG_LENGTH, Composed, Tags, language_name, nfc

MAX_FRAMEWORKS = 20
MAX_DESCRIPTION = 20_000
Status = Literal["idea", "in_progress", "done", "abandoned"]
Visibility = Literal["private", "tenant"]

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _single_line(value: str) -> str:
    value = " ".join(value.split())
    if _CONTROL.search(value):
        raise Invalid(N_("control characters are not allowed"))
    return value


def _query_text(value: str) -> str:
    if _CONTROL.search(value):
        raise Invalid(N_("control characters are not allowed"))
    return nfc(value.strip())


QueryText = Annotated[str, AfterValidator(_query_text)]


def _multi_line(value: str) -> str:
    if _CONTROL.search(value):
        raise Invalid(N_("control characters are not allowed"))
    return value.strip()


def normalize_frameworks(values: list[str]) -> list[str]:
    """Trim and de-duplicate case-insensitively, keeping the first spelling."""
    seen: dict[str, str] = {}
    for raw in values:
        name = _single_line(raw)
        if not name:
            continue
        if len(name) > MAX_TAG_LENGTH or ";" in name:
            raise Invalid(
                N_("a framework name has at most {limit} characters, no ';'"), limit=MAX_TAG_LENGTH
            )
        seen.setdefault(name.lower(), name)
    if len(seen) > MAX_FRAMEWORKS:
        raise Invalid(N_("at most {limit} frameworks"), limit=MAX_FRAMEWORKS)
    return list(seen.values())


def canonical_language(value: str) -> str | None:
    name = _single_line(value)
    if len(name) > 50:
        raise Invalid(N_("a language name has at most 50 characters"))
    return language_name(name) or None


_URL: TypeAdapter[HttpUrl] = TypeAdapter(HttpUrl)


def _repository_url(raw: str) -> str:
    try:
        value = _URL.validate_python(raw.strip())
    except ValidationError as exc:
        # The URL's own error (its type and details), said in the reader's language.
        error = exc.errors()[0]
        raise PydanticKnownError(error["type"], error.get("ctx")) from None  # type: ignore[arg-type]
    if value.username or value.password:
        raise Invalid(N_("the URL must not contain credentials"))
    text = str(value)
    if len(text) > 255:
        raise Invalid(N_("the URL has at most 255 characters"))
    return text


def _empty_to_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


def _name(value: str) -> str:
    value = _single_line(value)
    if not value:
        raise Invalid(N_("the name cannot be blank"))
    return value


Name = Annotated[str, Field(min_length=1, max_length=100), Composed, AfterValidator(_name)]
Description = Annotated[
    str,
    Field(max_length=MAX_DESCRIPTION),
    Composed,
    AfterValidator(_multi_line),
    Field(description="Markdown"),
]
Language = Annotated[str, Field(max_length=100), Composed, AfterValidator(canonical_language)]
Frameworks = Annotated[
    list[Annotated[str, Field(max_length=200), Composed]],
    Field(max_length=100),
    AfterValidator(normalize_frameworks),
]
RepositoryUrl = Annotated[
    Annotated[
        str,
        Field(max_length=2000, json_schema_extra={"format": "uri"}),
        AfterValidator(_repository_url),
    ]
    | None,
    BeforeValidator(_empty_to_none),
]
Day = Annotated[
    Annotated[date, Field(ge=date(1970, 1, 1), le=date(2999, 12, 31))] | None,
    BeforeValidator(_empty_to_none),
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PocIn(Strict):
    name: Name
    description: Description | None = None
    language: Language | None = None
    frameworks: Frameworks = []
    tags: Tags = []
    repository_url: RepositoryUrl = None
    status: Status = "idea"
    visibility: Visibility = "private"
    started_on: Day = None
    finished_on: Day = None

    @model_validator(mode="after")
    def _dates_in_order(self) -> PocIn:
        check_dates(self.started_on, self.finished_on)
        return self


class PocPatch(Strict):
    """Only the fields present change; ``null`` clears an optional field."""

    name: Name | None = None
    description: Description | None = None
    language: Language | None = None
    frameworks: Frameworks | None = None
    tags: Tags | None = None
    repository_url: RepositoryUrl = None
    status: Status | None = None
    visibility: Visibility | None = None
    started_on: Day = None
    finished_on: Day = None

    @model_validator(mode="after")
    def _required_stay_set(self) -> PocPatch:
        for name in ("name", "frameworks", "tags", "status", "visibility"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise Invalid(N_("{field} cannot be null"), field=name)
        return self

    def changes(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.model_fields_set}


def check_dates(started: date | None, finished: date | None) -> None:
    if started and finished and finished < started:
        raise Invalid(N_("finished_on is before started_on"))


class PocOut(BaseModel):
    poc_id: uuid.UUID
    owner_id: uuid.UUID
    name: str
    description: str | None
    language: str | None
    frameworks: list[str]
    tags: list[str]
    repository_url: str | None
    status: Status
    visibility: Visibility
    started_on: date | None
    finished_on: date | None
    created_at: datetime
    updated_at: datetime
    version: int = Field(description="Increases on every change; the ETag is its quoted value")


class PocPage(BaseModel):
    items: list[PocOut]
    next_cursor: str | None


class TrashedPocOut(PocOut):
    deleted_at: datetime
    purge_after: datetime


class TrashPage(BaseModel):
    items: list[TrashedPocOut]
    next_cursor: str | None


class SnapshotOut(PocOut):
    tenant_id: uuid.UUID


class SnapshotPage(BaseModel):
    items: list[SnapshotOut]
    next_cursor: str | None


class RowError(BaseModel):
    row: int = Field(description="1-based data row (CSV: not counting the header line)")
    errors: list[dict[str, Any]]


class ImportedRow(BaseModel):
    row: int
    poc_id: uuid.UUID


class ImportReport(BaseModel):
    total: int
    accepted: list[int]
    rejected: list[RowError]
    imported: list[ImportedRow]
    dry_run: bool
