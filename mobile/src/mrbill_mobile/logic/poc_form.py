"""Create or edit a POC: form fields to an API body, tags, and the API's validation messages."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from ..api import ApiError, Poc, PocsApi

FIELDS = ("name", "description", "language", "tags", "repository_url", "status", "visibility")


def parse_tags(text: str) -> list[str]:
    """ "Python, fastapi  #async" -> ["python", "fastapi", "async"]: commas or spaces, no dupes."""
    seen: list[str] = []
    for raw in text.replace(",", " ").split():
        tag = raw.strip().lstrip("#").lower()
        if tag and tag not in seen:
            seen.append(tag)
    return seen


@dataclass
class PocForm:
    """The form's values (strings, as typed) and, after a failed save, messages per field."""

    name: str = ""
    description: str = ""
    language: str = ""
    tags: str = ""
    repository_url: str = ""
    status: str = "idea"
    visibility: str = "private"
    errors: dict[str, str] = field(default_factory=dict)
    message: str | None = None
    editing: Poc | None = None
    conflict: bool = False  # the last save found the POC changed by someone else
    # A new POC's body and the Idempotency-Key it was sent with: saving the same body again
    # (its answer was lost: offline, the gateway gave up) returns the POC made the first time.
    _sent: tuple[dict[str, Any], str] | None = field(default=None, repr=False)

    @classmethod
    def for_poc(cls, poc: Poc) -> PocForm:
        return cls(
            poc.name, poc.description, poc.language, ", ".join(poc.tags), poc.repository_url,
            poc.status, poc.visibility, editing=poc,
        )  # fmt: skip

    def body(self) -> dict[str, Any]:
        """The API body. Empty optional fields are sent as null, so that clearing one works."""
        return {
            "name": self.name.strip(),
            "description": self.description.strip() or None,
            "language": self.language.strip() or None,
            "tags": parse_tags(self.tags),
            "repository_url": self.repository_url.strip() or None,
            "status": self.status,
            "visibility": self.visibility,
        }

    def changes(self) -> dict[str, Any]:
        """What this form changes in the POC it edits (everything, for a new one)."""
        body = self.body()
        if self.editing is None:
            return body
        read = PocForm.for_poc(self.editing).body()
        return {k: v for k, v in body.items() if v != read[k]}

    async def save(self, api: PocsApi) -> Poc | None:
        """Create or update; on a 4xx keep the messages in ``errors`` / ``message``.

        An edit sends only the fields this form changed, so that it does not undo what
        someone else changed meanwhile in others. When someone did (412), the POC is read
        again and this form rebased on it (`rebase`): ``conflict`` is set, and saving again
        sends these changes on top of theirs.
        """
        self.errors, self.message, self.conflict = {}, None, False
        try:
            if self.editing is None:
                body = self.body()
                if self._sent is None or self._sent[0] != body:
                    self._sent = (body, uuid.uuid4().hex)
                saved = await api.create(body, idempotency_key=self._sent[1])
            else:
                changes = self.changes()
                saved = await api.update(self.editing, changes) if changes else self.editing
        except ApiError as exc:
            if exc.status >= 500 or exc.status == 401:
                raise
            if exc.status == 412 and self.editing is not None:
                self.rebase(await api.get(self.editing.poc_id))
                self.conflict = True
                return None
            self.errors = {k: v for k, v in exc.field_errors.items() if k in FIELDS}
            self.message = None if self.errors else exc.message
            return None
        self.editing = saved
        return saved

    def rebase(self, latest: Poc) -> None:
        """Take ``latest`` as the POC being edited, keeping what this form changed in it."""
        changed = self.changes()
        fresh = PocForm.for_poc(latest)
        for name in FIELDS:
            if name not in changed:
                setattr(self, name, getattr(fresh, name))
        self.editing = latest
