"""Request and response bodies of the dojo API."""

from __future__ import annotations

import unicodedata
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from platform_api.kernel.i18n import N_, Invalid
from platform_api.kernel.text import Tags, clean_line, clean_text

Format = Literal["randori", "prepared", "free"]
Status = Literal["scheduled", "active", "ended", "archived"]
Role = Literal["facilitator", "driver", "navigator", "observer"]
Title = clean_line(100)
Language = clean_line(50)
Markdown = clean_text(20_000)
Code = clean_text(100_000)
PRIVATE = "Private: only its facilitator, participants and tenant admins see it"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DojoIn(Strict):
    name: Title = Field(description="The dojo's title")  # type: ignore[valid-type]
    description: Markdown = Field(default="", description="The kata, in Markdown")  # type: ignore[valid-type]
    language: Language  # type: ignore[valid-type]
    initial_code: Code = Field(default="", description="Starting code, put in the room at start")  # type: ignore[valid-type]
    format: Format = "randori"
    planned_minutes: int = Field(default=60, ge=5, le=1440)
    rotation_seconds: int = Field(default=300, ge=5, le=3600, description="Randori turn length")
    max_participants: int = Field(default=20, ge=2, le=200)
    scheduled_start_time: AwareDatetime | None = None
    is_private: bool = Field(default=False, description=PRIVATE)
    tags: Tags = []


class DojoPatch(Strict):
    name: Title | None = None  # type: ignore[valid-type]
    description: Markdown | None = None  # type: ignore[valid-type]
    language: Language | None = None  # type: ignore[valid-type]
    initial_code: Code | None = Field(default=None, description="Only before the start")  # type: ignore[valid-type]
    format: Format | None = Field(default=None, description="Only before the start")
    planned_minutes: int | None = Field(default=None, ge=5, le=1440)
    rotation_seconds: int | None = Field(default=None, ge=5, le=3600)
    max_participants: int | None = Field(default=None, ge=2, le=200)
    scheduled_start_time: AwareDatetime | None = None
    is_private: bool | None = Field(default=None, description=PRIVATE)
    tags: Tags | None = None


class DojoOut(BaseModel):
    dojo_id: uuid.UUID
    room: str = Field(description="The collab room: <tenant>:dojo-<dojo_id>")
    creator_id: uuid.UUID
    name: str
    description: str
    language: str
    format: Format
    initial_code: str
    planned_minutes: int
    rotation_seconds: int
    max_participants: int
    scheduled_start_time: datetime | None
    status: Status
    is_private: bool
    tags: list[str]
    driver_id: uuid.UUID | None
    participant_count: int
    version: int
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    archived_at: datetime | None


class DojoPage(BaseModel):
    items: list[DojoOut]
    next_cursor: str | None


class DojoSnapshotOut(BaseModel):
    """A dojo as its events carry it (``contracts/asyncapi-dojos.yaml``)."""

    dojo_id: uuid.UUID
    tenant_id: uuid.UUID
    creator_id: uuid.UUID
    name: str
    description: str
    language: str
    format: Format
    status: Status
    is_private: bool
    tags: list[str]
    participant_count: int
    participant_ids: list[uuid.UUID]
    version: int
    scheduled_start_time: datetime | None
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None


class DojoSnapshotPage(BaseModel):
    items: list[DojoSnapshotOut]
    next_cursor: str | None


class ParticipantOut(BaseModel):
    dojo_id: uuid.UUID
    user_id: uuid.UUID
    display_name: str
    role: Role = Field(description="facilitator, driver (the current one), navigator, observer")
    status: Literal["active", "left", "removed"]
    can_write: bool = Field(description="Whether the room accepts this person's edits now")
    join_time: datetime
    leave_time: datetime | None


class ParticipantList(BaseModel):
    items: list[ParticipantOut]


class RoleIn(Strict):
    role: Literal["driver", "navigator", "observer"]


class InviteIn(Strict):
    role: Literal["navigator", "observer"] = "navigator"
    expires_in_minutes: int | None = Field(default=None, ge=1, le=43_200)


class InviteOut(BaseModel):
    invite_id: uuid.UUID
    role: Literal["navigator", "observer"]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class InviteCreatedOut(InviteOut):
    code: str = Field(description="Shown once; share it or the link")
    url: str


class InviteList(BaseModel):
    items: list[InviteOut]


class JoinIn(Strict):
    code: Annotated[str, Field(min_length=1, max_length=200)]


class TicketOut(BaseModel):
    ticket: str = Field(description="Pass as ?ticket= or as the first text frame")
    room: str
    url: str = Field(description="The room's WebSocket URL (without the ticket)")
    role: Literal["write", "read"]
    expires_at: datetime
    expires_in: int


class TimerOut(BaseModel):
    state: Literal["stopped", "running", "paused"]
    rotation_seconds: int
    remaining_ms: int | None
    due_at: datetime | None
    server_time: datetime
    driver_id: uuid.UUID | None
    next_driver_id: uuid.UUID | None
    order: list[uuid.UUID]
    turn: int


class OrderIn(Strict):
    order: list[uuid.UUID] = Field(min_length=1, max_length=200)


# Characters that show as nothing, or as a blank, though they are not whitespace: the
# Braille blank, the Hangul fillers, the combining grapheme joiner and variation selectors.
# (Format characters, such as U+200B and U+FEFF, are told by their category.)
_BLANK_GLYPHS = frozenset(
    "\u2800\u3164\u115f\u1160\uffa0\u034f"
    + "".join(map(chr, range(0xFE00, 0xFE10)))
    + "".join(map(chr, range(0xE0100, 0xE01F0)))
)


def _blank(ch: str) -> bool:
    return ch.isspace() or ch in _BLANK_GLYPHS or unicodedata.category(ch) == "Cf"


def _said(text: str) -> str:
    if all(_blank(ch) for ch in text):
        raise Invalid(N_("a message cannot be blank"))
    return text


class MessageIn(Strict):
    text: Annotated[clean_text(2000), Field(min_length=1), AfterValidator(_said)]  # type: ignore[valid-type]


class MessageOut(BaseModel):
    message_id: uuid.UUID
    user_id: uuid.UUID
    display_name: str
    text: str = Field(description="As written")
    html: str = Field(description="Escaped HTML with basic Markdown (code, bold, italics)")
    timestamp: datetime


class MessagePage(BaseModel):
    items: list[MessageOut]
    next_cursor: str | None


class SnapshotOut(BaseModel):
    snapshot_id: uuid.UUID
    timestamp: datetime
    reason: Literal["start", "rotation", "manual", "periodic", "restore", "end"]
    user_id: uuid.UUID | None = Field(description="Who asked for it; null for the scheduler")
    driver_id: uuid.UUID | None = Field(description="Who drove since the previous snapshot")
    turn: int
    size: int = Field(description="Characters of code")


class SnapshotPage(BaseModel):
    items: list[SnapshotOut]
    next_cursor: str | None


class SnapshotCodeOut(SnapshotOut):
    code: str


class DiffOut(BaseModel):
    from_snapshot: uuid.UUID
    to_snapshot: uuid.UUID
    diff: str = Field(description="Unified diff")


class AttributedLine(BaseModel):
    number: int
    text: str
    user_id: uuid.UUID | None = Field(description="null: written before the start or co-edited")
    display_name: str | None


class AuthorShare(BaseModel):
    user_id: uuid.UUID | None
    display_name: str | None
    lines: int


class AttributionOut(BaseModel):
    snapshot_id: uuid.UUID
    lines: list[AttributedLine]
    authors: list[AuthorShare]


class JwksOut(BaseModel):
    keys: list[dict[str, Any]]
