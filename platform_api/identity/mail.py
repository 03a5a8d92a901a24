"""Sending e-mail: a folder of ``.eml`` files locally and in tests, Amazon SES in production.

Identity sends one kind of message so far, the password reset link. A message is built once
(:class:`Mail`) and handed to a :class:`Mailer`; the folder keeps each message as an RFC 5322
file a mail client opens (``IDENTITY_MAIL=folder``, ``IDENTITY_MAIL_FOLDER``), SES sends it
(``IDENTITY_MAIL=ses``, from ``IDENTITY_MAIL_FROM``, a verified identity). A message that
fails to go out for a passing reason (SES throttling or down, the network, a full disk) is
tried again (:class:`RetryingMailer`); one SES refuses is not.
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
import structlog
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_before_delay,
    wait_exponential_jitter,
)

_log = structlog.get_logger("identity.mail")

# SES answers that another try may get past: throttling and SES's own failures. Anything
# else it says (a rejected address, a paused account, bad credentials) stands.
_BUSY_CODES = frozenset(
    {"TooManyRequestsException", "Throttling", "ThrottlingException", "ServiceUnavailable"}
)


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


def passing(error: BaseException) -> bool:
    """Whether another try may send what failed with ``error``: SES busy or failing, the
    network, or the disk (the folder); never a refusal, bad credentials or a bug."""
    if isinstance(error, ClientError):
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        code = error.response.get("Error", {}).get("Code")
        return status == 429 or status >= 500 or code in _BUSY_CODES
    return isinstance(error, BotoConnectionError | HTTPClientError | OSError)


class RetryingMailer:
    """Sends through ``mailer``, trying again after passing failures (:func:`passing`): the
    waits double from ``first_wait`` up to ``longest_wait`` seconds, with up to
    ``first_wait`` of jitter so that messages failed together do not come back together.
    Nothing is sent after ``within`` seconds (a reset link is worth sending only while it
    works): no try starts later, and one under way is cut off then. The last failure is
    raised."""

    def __init__(
        self,
        mailer: Mailer,
        *,
        within: float,
        first_wait: float = 1.0,
        longest_wait: float = 60.0,
    ) -> None:
        self.mailer = mailer
        self._within = within
        self._first_wait = first_wait
        self._longest_wait = longest_wait

    async def send(self, mail: Mail) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._within
        retrying = AsyncRetrying(
            retry=retry_if_exception(passing),
            wait=wait_exponential_jitter(
                initial=self._first_wait, max=self._longest_wait, jitter=self._first_wait
            ),
            stop=stop_before_delay(self._within),
            before_sleep=_tried,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                async with asyncio.timeout_at(deadline):
                    await self.mailer.send(mail)


def _tried(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    wait = state.next_action.sleep if state.next_action else None
    _log.warning("mail_send_failed", attempt=state.attempt_number, error=repr(error), retry_in=wait)
