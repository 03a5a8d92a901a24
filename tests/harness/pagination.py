"""Keyset pagination checks shared by every list endpoint (the kernel's opaque cursors)."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import httpx


def encode(value: Any) -> str:
    """A cursor as the kernel would encode ``value`` (which may be anything, for abuse)."""
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


async def follow_pages(
    client: httpx.AsyncClient, path: str, headers: dict[str, str], id_key: str, *, limit: int = 2
) -> list[list[str]]:
    """Every page of ``path``, following ``next_cursor`` until it runs out, as lists of ids."""
    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        response = await client.get(path, params=params, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append([str(item[id_key]) for item in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 100, f"pagination of {path} does not terminate"


def malformed_cursors(id_key: str) -> list[str]:
    """Cursors that a client could send but the kernel never made: each must be a 400."""
    some_id, when = str(uuid.uuid4()), "2024-01-01T00:00:00+00:00"
    values: list[Any] = [
        [1, 2],
        "a string",
        {"created_at": when},
        {"created_at": when, id_key: some_id, "extra": 1},
        {"created_at": "yesterday", id_key: some_id},
        {"created_at": 7, id_key: some_id},
        {"created_at": None, id_key: some_id},
        {"created_at": when, id_key: "nope"},
        {"created_at": when, id_key: 7},
        {"created_at": when, id_key: [some_id]},
        {"created_at": "0001-01-01T00:00:00+01:00", id_key: some_id},  # before year 1 in UTC
        {"created_at": "9999-12-31T23:59:59-14:00", id_key: some_id},  # after year 9999 in UTC
    ]
    raw = ["!!!not-base64!!!", base64.urlsafe_b64encode(b"\xff\xfe\xfd").decode()]
    return raw + [encode(v) for v in values]
