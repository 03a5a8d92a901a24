"""Text field types shared by every service's schemas."""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints

from .i18n import N_, Invalid

MAX_TAGS = 20
MAX_TAG_LENGTH = 50
_TAG = re.compile(r"^[\w+#.-]+$")


# One spelling per well-known language, so that facets do not split "python" and "Python"
# and a filter on "golang" finds what was saved as "Go".
_LANGUAGES = {
    name.lower(): name
    for name in (
        "Python", "TypeScript", "JavaScript", "Go", "Rust", "Java", "Kotlin", "Swift", "C",
        "C++", "C#", "Ruby", "PHP", "Elixir", "Erlang", "Scala", "Haskell", "Clojure", "Dart",
        "Lua", "Zig", "OCaml", "F#", "R", "Julia", "SQL", "Shell", "HTML", "CSS", "Terraform",
    )
} | {"golang": "Go", "ts": "TypeScript", "js": "JavaScript", "py": "Python", "bash": "Shell"}  # fmt: skip


def nfc(value: str) -> str:
    """Text in Unicode's composed form: "ç" typed on one keyboard and pasted from a PDF on
    another ("c" and a combining cedilla) are then the same text, found by the same search."""
    return unicodedata.normalize("NFC", value)


def _composed(value: object) -> object:
    return nfc(value) if isinstance(value, str) else value


# Before the length checks: the composed form of a text can be longer than what was typed.
Composed = BeforeValidator(_composed)


def language_name(value: str) -> str:
    """The spelling a language is kept under (``"golang"`` → ``"Go"``); others as given,
    trimmed, in composed form."""
    name = nfc(" ".join(value.split()))
    return _LANGUAGES.get(name.lower(), name)


def tag_key(value: str) -> str:
    """A tag as it is kept and filtered on: composed form, lower case, words joined by
    ``-``."""
    return "-".join(nfc(value).lower().split())


def _no_control_characters(value: str) -> str:
    # NUL cannot be stored by PostgreSQL; other control characters break logs and layouts.
    if any(unicodedata.category(ch) in ("Cc", "Cs") and ch not in "\t\n\r" for ch in value):
        raise Invalid(N_("must not contain control characters"))
    return value


def _single_line(value: str) -> str:
    if any(ch in value for ch in "\t\n\r"):
        raise Invalid(N_("must be a single line"))
    return value


def clean_line(max_length: int, min_length: int = 1) -> object:
    """A single line of printable text, trimmed, of bounded length."""
    return Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length),
        Composed,
        AfterValidator(_no_control_characters),
        AfterValidator(_single_line),
    ]


def clean_text(max_length: int) -> object:
    """Multi-line text (e.g. Markdown) without control characters, of bounded length."""
    return Annotated[
        str,
        StringConstraints(max_length=max_length),
        Composed,
        AfterValidator(_no_control_characters),
    ]


def normalize_tags(values: list[str]) -> list[str]:
    """Tags as POCs and dojos keep them (``tag_key``), without empties and duplicates (in
    order)."""
    tags: list[str] = []
    for raw in values:
        tag = tag_key(raw)
        if not tag:
            continue
        if len(tag) > MAX_TAG_LENGTH:
            raise Invalid(N_("a tag has at most {limit} characters"), limit=MAX_TAG_LENGTH)
        if not _TAG.match(tag) or not any(ch.isalnum() for ch in tag):
            raise Invalid(N_("tags hold letters, digits and + # . _ - only"))
        if tag not in tags:
            tags.append(tag)
    if len(tags) > MAX_TAGS:
        raise Invalid(N_("at most {limit} tags"), limit=MAX_TAGS)
    return tags


Tags = Annotated[
    list[Annotated[str, Field(max_length=200)]],
    Field(max_length=100, description=f"Normalised: lower-case, unique, at most {MAX_TAGS}"),
    AfterValidator(normalize_tags),
]
