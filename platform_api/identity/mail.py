"""Sending e-mail: a folder of ``.eml`` files locally and in tests, Amazon SES in production.

Identity sends one kind of message so far, the password reset link. A message is built once
(:class:`Mail`) and handed to a :class:`Mailer`; the folder keeps each message as an RFC 5322
file a mail client opens (``IDENTITY_MAIL=folder``, ``IDENTITY_MAIL_FOLDER``), SES sends it
(``IDENTITY_MAIL=ses``, from ``IDENTITY_MAIL_FROM``, a verified identity).
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Protocol

import aioboto3


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    text: str
    language: str = "en"


class Mailer(Protocol):
    async def send(self, mail: Mail) -> None: ...


def message_of(mail: Mail, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(datetime.now(UTC))
    # Not email.utils.make_msgid: it draws from the process-wide ``random``, whose state
    # belongs to whatever else runs (property-based tests drawing beside the server).
    message["Message-ID"] = f"<{datetime.now(UTC):%Y%m%d%H%M%S}.{secrets.token_hex(12)}@mrbill.dev>"
    message.set_content(mail.text)
    message["Content-Language"] = mail.language  # (after the content: it resets Content-*)
    return message


class FolderMailer:
    """Each message as a file ``<time>-<id>.eml`` in ``folder`` (made when missing)."""

    def __init__(self, folder: Path, sender: str) -> None:
        self.folder = folder
        self.sender = sender

    async def send(self, mail: Mail) -> None:
        data = bytes(message_of(mail, self.sender))
        name = f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}.eml"
        await asyncio.to_thread(self._write, self.folder / name, data)

    def _write(self, path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".part")
        partial.write_bytes(data)
        partial.rename(path)  # a reader never sees half a message


class SesMailer:
    """Amazon SES (API v2), sending the message as built (raw)."""

    def __init__(self, sender: str, *, region: str, endpoint_url: str | None = None) -> None:
        self.sender = sender
        self._region = region
        self._endpoint_url = endpoint_url
        self._session = aioboto3.Session()

    async def send(self, mail: Mail) -> None:
        data = bytes(message_of(mail, self.sender))
        async with self._session.client(
            "sesv2", region_name=self._region, endpoint_url=self._endpoint_url
        ) as ses:
            await ses.send_email(
                FromEmailAddress=self.sender,
                Destination={"ToAddresses": [mail.to]},
                Content={"Raw": {"Data": data}},
            )
