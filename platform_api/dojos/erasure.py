"""What the dojo service erases when identity deletes an organization or an account
(``platform_api.kernel.erasure``); the worker runs it (``worker.run``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from platform_api.kernel import tenant_transaction

from . import store, store_content
from .participants import remove_departed_member
from .service import Dojos

FORMER_MEMBER = "Former member"


@dataclass(frozen=True)
class DojosEraser:
    """The dojo service's :class:`~platform_api.kernel.erasure.Eraser`. Both calls run on
    the application role, in tenant transactions (row-level security applies), and are
    idempotent.

    An organization: every dojo with its invites, participants, chat and code snapshots (the
    foreign keys cascade), its outbox rows, sent or not, and the snapshot files those rows
    name. Only those: the collab engine keeps its own files beside them in the same store
    (``dojos/{tenant}/dojo-{id}/...``) and erases them itself, so nothing goes by prefix.
    Its rooms are not closed from here: the collab nodes consume the same event, erase them
    and close their peers (4410); their internal API has no command that closes a room.

    A member: their dojos and the sessions' history stay, as the organization's work; their
    name goes. In participants and chat messages it becomes "Former member"; the user id
    stays (it no longer names anyone) so that attribution and chat still tell one author
    from another. In a dojo that has not ended they are removed as a manager would remove
    them (the keyboard passes on if they drive, they leave the rotation, the room
    disconnects them), so that no turn is handed to someone who cannot come back. An ended
    or archived dojo is left as it ended: its timer no longer runs, and its driver and order
    are history. Invites they made that still let someone in are deleted (whoever joined
    with one stays); revoked and expired ones stay as history.

    Left as they are: the Yjs state in the snapshot files (its ``chat`` feed carries the
    authors' names as they were when it was taken) and the collab engine's own copy.
    """

    ctx: Dojos

    async def erase_tenant(self, tenant_id: uuid.UUID) -> None:
        async with tenant_transaction(self.ctx.pool, tenant_id) as conn:
            # Locked first: a rotation, end or restore under way commits its snapshot row
            # before the keys are read, and none starts meanwhile (the worker skips locked
            # dojos; requests wait, then find no dojo).
            await store.lock_dojos(conn, tenant_id)
            # Files before the rows commit: if a delete fails, the rows stay and the erasure,
            # run again, finds every key still named (a missing file is no error).
            for key in await store_content.snapshot_keys(conn, tenant_id):
                await self.ctx.blobs.delete(key)
            await store.delete_tenant(conn, tenant_id)

    async def erase_user(self, tenant_id: uuid.UUID, user_id: uuid.UUID) -> None:
        async with tenant_transaction(self.ctx.pool, tenant_id) as conn:
            joined = await store.dojos_taken_part_in(conn, tenant_id, user_id)
        for dojo_id in joined:
            await remove_departed_member(self.ctx, tenant_id, dojo_id, user_id)
        async with tenant_transaction(self.ctx.pool, tenant_id) as conn:
            await store.rename_member(conn, tenant_id, user_id, FORMER_MEMBER)
            await store.delete_pending_invites(conn, tenant_id, user_id)
