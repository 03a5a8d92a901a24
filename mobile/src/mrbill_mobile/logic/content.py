"""Reports and yearly videos: ask for one, follow its progress, get the link to the file."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable

from ..api import ContentApi, ContentRequest, Download, Offline

POLL_SECONDS = 1.0


class ContentJob:
    """One request being followed. Polling (not SSE) survives flaky mobile networks best:
    each poll is one short request, and a lost one is simply retried on the next tick."""

    def __init__(
        self,
        api: ContentApi,
        on_change: Callable[[ContentRequest], None] = lambda r: None,
        *,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self.api = api
        self.on_change = on_change
        self.poll_seconds = poll_seconds
        self.request: ContentRequest | None = None
        self.asked: tuple[str, int, str] | None = None  # what start() was last asked for
        # One key per request: a retry after a lost answer returns the same request.
        self._key = uuid.uuid4().hex

    def retries(self, kind: str, year: int, language: str) -> bool:
        """Whether asking for this again is a retry of this job: it was asked for, and no
        answer came (offline, the gateway gave up): the API may have made it all the same."""
        return self.request is None and self.asked == (kind, year, language)

    async def start(self, kind: str, year: int, language: str) -> ContentRequest:
        self.asked = (kind, year, language)
        self.request = await self.api.request(kind, year, language, idempotency_key=self._key)
        self.on_change(self.request)
        return self.request

    async def follow(self, within: float = 600.0) -> ContentRequest:
        """Poll until the request succeeds, fails or is cancelled."""
        assert self.request is not None, "start() first"
        deadline = time.monotonic() + within
        while not self.request.done:
            if time.monotonic() > deadline:
                raise TimeoutError("the request is still running")
            await asyncio.sleep(self.poll_seconds)
            try:
                latest = await self.api.get(self.request.request_id)
            except Offline:
                continue  # the banner says offline; the next tick tries again
            if latest != self.request:
                self.request = latest
                self.on_change(latest)
        return self.request

    async def result(self) -> Download:
        assert self.request is not None
        assert self.request.status == "succeeded"
        return await self.api.download(self.request.request_id)
