"""Opaque cursors for keyset pagination (newest first by default)."""

from __future__ import annotations

import base64
import json
from typing import Any

from .errors import Problem


def encode_cursor(values: dict[str, Any]) -> str:
    raw = json.dumps(values, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str | None, keys: tuple[str, ...]) -> dict[str, Any] | None:
    """Decode a cursor made by :func:`encode_cursor`; a malformed one is a 400."""
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError) as exc:
        raise Problem(400, "The cursor is malformed") from exc
    if not isinstance(values, dict) or set(values) != set(keys):
        raise Problem(400, "The cursor is malformed")
    return values
