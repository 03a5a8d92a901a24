"""Erasure (LGPD) on a collab node: identity's deletions, consumed from the event bus
(``platform_api.kernel.erasure``), one node of the consumer group ``collab`` each."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from rooms import PostgresUpdateLog, RoomManager
from rooms.ports import ORGANIZATION_GONE, ORGANIZATION_GONE_REASON


@dataclass(frozen=True)
class CollabEraser:
    """An organization deleted: every update, snapshot and snapshot blob of its rooms goes,
    and no node may load or write its rooms again (``PostgresUpdateLog.erase_tenant``).
    This node drops its rooms of it at once; another node holding one drops it at its next
    write or maintenance pass (``TenantErased``). Their peers are closed with 4410.

    A member deleted: nothing here. A room's document is the organization's record of a
    session (its code, its chat); the member's account, name and e-mail are erased by
    identity, and the dojo service renames them in its records and, through this engine's
    internal API, in each room's document (the log keeps the updates as they came until
    the room is compacted).
    """

    log: PostgresUpdateLog
    rooms: RoomManager

    async def erase_tenant(self, tenant_id: uuid.UUID) -> None:
        await self.log.erase_tenant(tenant_id)
        for room in [r for r in self.rooms.rooms.values() if r.id.tenant == tenant_id]:
            await self.rooms.discard(room, ORGANIZATION_GONE, ORGANIZATION_GONE_REASON)

    async def erase_user(self, tenant_id: uuid.UUID, user_id: uuid.UUID) -> None:
        return None
