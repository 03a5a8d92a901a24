"""Text field types shared by every service's schemas."""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator, StringConstraints


def _no_control_characters(value: str) -> str:
    # NUL cannot be stored by PostgreSQL; other control characters break logs and layouts.
    if any(unicodedata.category(ch) in ("Cc", "Cs") and ch not in "\t\n\r" for ch in value):
        raise ValueError("must not contain control characters")
    return value


def _single_line(value: str) -> str:
    if any(ch in value for ch in "\t\n\r"):
        raise ValueError("must be a single line")
    return value


def clean_line(max_length: int, min_length: int = 1) -> object:
    """A single line of printable text, trimmed, of bounded length."""
    return Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length),
        AfterValidator(_no_control_characters),
        AfterValidator(_single_line),
    ]


def clean_text(max_length: int) -> object:
    """Multi-line text (e.g. Markdown) without control characters, of bounded length."""
    return Annotated[
        str, StringConstraints(max_length=max_length), AfterValidator(_no_control_characters)
    ]
