"""Request and response bodies of the content API."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal, cast

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from platform_api.kernel.i18n import N_, Invalid, translate
from platform_api.kernel.text import normalize_tags

RequestType = Literal["report", "video"]
Status = Literal["queued", "running", "succeeded", "failed", "cancelled"]
OutputLanguage = Literal["pt-BR", "en"]
PocStatus = Literal["idea", "in_progress", "done", "abandoned"]  # as the POC service has them
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
TERMINAL: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})
FailureCode = Literal["generation_failed", "failed_repeatedly"]
# Why a request failed, as people read it: stored in English, translated when it is shown.
# What went wrong inside (an exception) is for the logs only.
FAILURES: dict[str, str] = {
    "generation_failed": N_("The file could not be generated; please try again later"),
    "failed_repeatedly": N_("Generation failed repeatedly; please try again later"),
}
# What workers stored before the reasons above: "The file could not be generated (OSError)".
_OLD_GENERATION_FAILED = re.compile(r"The file could not be generated \(\w+\)")


def failure(stored: str | None, locale: str) -> tuple[FailureCode | None, str | None]:
    """A stored failure reason as (its code, its text in ``locale``). A reason this version
    does not know is shown as it was stored, without a code."""
    if stored is None:
        return None, None
    if _OLD_GENERATION_FAILED.fullmatch(stored):
        stored = FAILURES["generation_failed"]
    for code, message in FAILURES.items():
        if stored == message:
            return cast(FailureCode, code), translate(message, locale)
    return None, stored


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PocFilter(Strict):
    """Only POCs with at least one of ``tags``, this language and this status."""

    # As POCs keep them ("Machine Learning" is "machine-learning"): matched exactly.
    tags: Annotated[list[Tag], Field(max_length=20), AfterValidator(normalize_tags)] = Field(
        default_factory=list
    )
    language: Annotated[str, StringConstraints(strip_whitespace=True, max_length=50)] | None = None
    status: PocStatus | None = None

    @classmethod
    def stored(cls, data: dict[str, Any]) -> PocFilter:
        """The filter a request was made with, as stored. One saved before statuses were
        checked may hold any text (it matched no POC): it is shown as it was given."""
        try:
            return cls.model_validate(data)
        except ValidationError:
            return cls.model_construct(**data)


class ContentRequestIn(Strict):
    type: RequestType
    year: int | None = Field(default=None, ge=2000, le=2100, description="Or give from/to")
    from_date: date | None = Field(default=None, alias="from")
    to_date: date | None = Field(default=None, alias="to")
    filter: PocFilter = Field(default_factory=PocFilter)
    language: OutputLanguage = Field(default="en", description="Language of the document")
    title: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @model_validator(mode="after")
    def _one_period(self) -> ContentRequestIn:
        if self.year is not None:
            if self.from_date or self.to_date:
                raise Invalid(N_("give either year or from/to, not both"))
            self.from_date, self.to_date = date(self.year, 1, 1), date(self.year, 12, 31)
        elif not (self.from_date and self.to_date):
            raise Invalid(N_("give year, or both from and to"))
        elif self.to_date < self.from_date:
            raise Invalid(N_("to must not be before from"))
        elif (self.to_date - self.from_date).days > 3 * 366:
            raise Invalid(N_("the period may span at most three years"))
        return self


class ContentRequestOut(BaseModel):
    request_id: uuid.UUID
    type: RequestType
    status: Status
    progress: int = Field(ge=0, le=100)
    title: str
    from_date: date = Field(serialization_alias="from")
    to_date: date = Field(serialization_alias="to")
    language: OutputLanguage
    filter: PocFilter
    poc_count: int
    error: str | None = Field(
        default=None,
        description="Why it failed (status failed), in the language of Accept-Language",
    )
    error_code: FailureCode | None = Field(
        default=None, description="Why it failed, for programs (status failed)"
    )
    size_bytes: int | None = Field(default=None, description="Size of the finished file")
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    completed_at: datetime | None


class ContentRequestPage(BaseModel):
    items: list[ContentRequestOut]
    next_cursor: str | None


class DownloadOut(BaseModel):
    url: str = Field(description="Short-lived link to the file (S3 presigned URL in production)")
    expires_at: datetime
    filename: str
    content_type: str
    thumbnail_url: str | None = Field(
        default=None,
        description="Videos: short-lived link to a JPEG thumbnail (the title card), to show"
        " before playing",
    )
