"""Erasure (LGPD): the content service erases what identity deletes, in the API process.

See ``platform_api.kernel.erasure`` for the events and the consumer that hands them here.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

import asyncpg
import structlog

from platform_api.kernel import tenant_transaction
from platform_api.kernel.blobs import BlobStore
from platform_api.kernel.erasure import run_erasure

from . import store
from .service import tenant_folders, user_folders
from .settings import ContentSettings

_log = structlog.get_logger("content.erasure")


@dataclass(frozen=True)
class ContentEraser:
    """What the content service erases when identity deletes an organization or an account.

    An organization: every request (with its POC snapshot) and every file. A member: their
    requests and files, all of them. Unlike shared POCs, reports and videos are personal
    deliverables of the member who asked for them (nobody else can list or download them),
    so nothing of theirs stays with the organization.

    Rows go first, then files, by folder: once the rows are committed no job can finish
    them (it finds its request gone, drops what it produced and stops; ``media_jobs.jobs``),
    and the folders take every file, including those whose row was already gone. Running it
    again finds nothing left and does nothing.
    """

    pool: asyncpg.Pool
    blobs: BlobStore

    async def erase_tenant(self, tenant_id: uuid.UUID) -> None:
        await self._erase(tenant_id, None, tenant_folders(tenant_id))

    async def erase_user(self, tenant_id: uuid.UUID, user_id: uuid.UUID) -> None:
        await self._erase(tenant_id, user_id, user_folders(tenant_id, user_id))

    async def _erase(
        self, tenant_id: uuid.UUID, user_id: uuid.UUID | None, folders: Iterable[str]
    ) -> None:
        async with tenant_transaction(self.pool, tenant_id) as conn:
            requests = await store.erase_requests(conn, tenant_id, user_id)
        files = [await self.blobs.delete_prefix(folder) for folder in folders]
        _log.info(
            "content_erased",
            tenant_id=str(tenant_id),
            user_id=str(user_id) if user_id else None,
            requests=requests,
            files=sum(files),
        )


def start_erasure(settings: ContentSettings, eraser: ContentEraser) -> asyncio.Task[None]:
    """Consume identity's deletions in this process until the task is stopped
    (:func:`~platform_api.kernel.tasks.stop`)."""
    return asyncio.create_task(
        run_erasure(eraser, settings, group=settings.service_name), name="content-erasure"
    )
