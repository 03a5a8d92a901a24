"""Messages for people in their language: English (the source) and Brazilian Portuguese.

Every problem a service answers is written in English where it is raised and translated
when it is rendered, for the language the request asks for (``Accept-Language``; the web
and mobile apps send the one their user chose). The translations live in one gettext
catalog, ``locale/pt_BR.po``, read with Babel; a message's English text is its key, so a
message without a translation is said in English, never lost. ``./mrbill messages`` adds
new messages to the catalog, and a test fails while one has no translation.

Validation errors are translated by their pydantic error type (context ``validation``),
their details filled in from the error's context; our own validators raise messages
marked with :func:`N_` (translated as a whole) or ``PydanticCustomError`` with a type of
their own.
"""

from __future__ import annotations

import contextlib
import string
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from babel.messages.pofile import read_po

DEFAULT = "en"
LOCALES = ("en", "pt-BR")
CATALOG = Path(__file__).parent / "locale" / "pt_BR.po"
VALIDATION = "validation"  # the catalog context of validation error types
_FORMATTER = string.Formatter()


def N_(message: str) -> str:
    """Mark ``message`` for the catalog; it is translated when it is rendered."""
    return message


def negotiate(accept_language: str | None) -> str:
    """The supported locale an ``Accept-Language`` header prefers (RFC 9110 §12.5.4):
    any Portuguese is Brazilian Portuguese here, anything else English."""
    best, best_q = DEFAULT, 0.0
    for part in (accept_language or "").split(","):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        language = tag.strip().lower().split("-")[0]
        locale = "pt-BR" if language == "pt" else "en" if language in ("en", "*") else None
        if locale is not None and q > best_q:
            best, best_q = locale, q
    return best


@cache
def _catalog() -> dict[tuple[str | None, str], str]:
    with CATALOG.open("rb") as handle:
        catalog = read_po(handle, locale="pt_BR")
    return {
        (message.context, str(message.id)): str(message.string)
        for message in catalog
        if message.id and message.string and not message.fuzzy
    }


def translate(
    message: str,
    locale: str,
    params: Mapping[str, Any] | None = None,
    *,
    context: str | None = None,
) -> str:
    """``message`` (English, maybe with ``{name}`` fields) in ``locale``, fields filled from
    ``params``. A field ``params`` lacks is left as it is (``{name}``); a template that cannot
    be filled falls back to English, then to the unfilled text: never an error."""
    text = message
    if locale != DEFAULT:
        text = _catalog().get((context, message), message)
    if not params:
        return text
    for template in (text, message):
        # (a malformed template, or a field its value cannot be formatted for, is passed over)
        with contextlib.suppress(Exception):
            return template.format_map(_Missing(params))
    return text


def fields(message: str) -> set[str]:
    """The ``{name}`` fields of a message."""
    return {name for _, name, _, _ in _FORMATTER.parse(message) if name}


class _Missing(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


class Invalid(ValueError):
    """A validator's refusal: English where raised (``str``), translated where rendered.

    ``Invalid(N_("at most {limit} tags"), limit=20)``."""

    def __init__(self, message: str, /, **params: Any) -> None:
        self.template = message
        self.params = params
        super().__init__(translate(message, DEFAULT, params))
