"""How the node says no: WebSocket close codes, and problem+json (RFC 9457) for HTTP."""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus

import asyncpg
from aiohttp import web
from botocore.exceptions import BotoCoreError, ClientError

# What the update log raises when storage fails (the database or the snapshot store away):
# the update was not stored, and the sender may send it again. The S3 snapshot store
# (aioboto3) raises botocore's errors: ClientError for an error answer (access denied, no
# such bucket), BotoCoreError for the rest (no connection, timeouts, a broken stream). A
# missing key is no error answer (the store reads it as None); a snapshot blob the log
# records and the store lacks is rooms.SnapshotMissing, which trying again does not mend.
STORAGE_ERRORS: tuple[type[Exception], ...] = (
    OSError,
    RuntimeError,
    asyncpg.PostgresError,
    BotoCoreError,
    ClientError,
)


class Reject(Exception):
    """Close the connection with ``code`` and ``reason`` (at most 123 bytes)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason[:123]


def problem(status: int, detail: str, *, headers: Mapping[str, str] | None = None) -> web.Response:
    """An RFC 9457 problem+json response."""
    return web.json_response(
        {
            "type": "about:blank",
            "title": HTTPStatus(status).phrase,
            "status": status,
            "detail": detail,
        },
        status=status,
        content_type="application/problem+json",
        headers=headers,
    )
