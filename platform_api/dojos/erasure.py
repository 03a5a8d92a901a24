"""What the dojo service erases when identity deletes an organization or an account
(``platform_api.kernel.erasure``); the worker runs it (``worker.run``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import structlog

from platform_api.kernel import tenant_transaction

from . import store, store_content, ydoc
from .participants import remove_departed_member
from .room import change_room
from .service import Dojos
from .snapshots import rewrite_state
from .tickets import room_key

FORMER_MEMBER = "Former member"
_log = structlog.get_logger("dojos.erasure")


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

    The Yjs state of every dojo they joined, whatever its status, gets the same name: in
    the live room (through the collab engine, as the chat feed is written), the ``chat``
    feed's entries they wrote (each keeps its id, text, time and place) and the ``dojo``
    map's ``driver_name`` / ``next_driver_name`` while ``driver`` / ``next_driver`` is
    them; in this service's snapshot files, the same change, each file rewritten at its key.
    The replaced entries are deleted items, which Yrs collects when its transaction
    commits: neither the room's document nor a rewritten file holds the old name's bytes.
    A large feed is renamed in several updates (each under the engine's message size). Run
    again, it finds nothing to change (no update, no file written), and mends what a race
    left: a second copy of an entry, or an entry whose message was deleted as it was
    renamed. A dojo that fails (a collab engine out of reach) leaves the others renamed and
    fails the erasure, which comes back. Some writes race it and may show the old name
    again: a message the member was posting as their account went, a snapshot read from a
    collab node that had not yet received the change; identity sends the deletion a second
    time, once the member's last access token has expired, and that run renames what they
    left.

    The collab engine's own copies go next: its update log (database ``collab``) keeps
    each update as it came, the one that added their message among them, and its earlier
    compaction snapshots keep the room as it was. The engine is asked to forget the room's
    history: it compacts the room at once (re-encoding the document, or merging the
    updates with what they deleted dropped) and deletes every snapshot before that one.

    Left as they are: their name where someone typed it (in a message, in the code), what
    peers' clients already received, a snapshot file whose row never committed (its
    transaction rolled back after the file was written: no row names it), and inside the
    engine, a character outside the BMP (an emoji) that a deletion cut in half, which Yrs
    cannot hold half of.
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
            named = await store.dojos_ever_joined(conn, tenant_id, user_id)
        for dojo_id in joined:
            await remove_departed_member(self.ctx, tenant_id, dojo_id, user_id)
        async with tenant_transaction(self.ctx.pool, tenant_id) as conn:
            await store.rename_member(conn, tenant_id, user_id, FORMER_MEMBER)
            await store.delete_pending_invites(conn, tenant_id, user_id)
        # After the rename: what the service writes into a room from now on reads the new
        # name. One dojo that fails leaves the others renamed; the erasure comes back.
        failed: list[Exception] = []
        for dojo_id in named:
            try:
                await self._rename_in_yjs(tenant_id, dojo_id, user_id)
            except Exception as exc:
                _log.error("member_rename_failed", dojo=str(dojo_id), error=repr(exc))
                failed.append(exc)
        if failed:
            raise failed[0]

    async def _rename_in_yjs(
        self, tenant_id: uuid.UUID, dojo_id: uuid.UUID, user_id: uuid.UUID
    ) -> None:
        """The room, under the dojo's lock (two erasures of one member, redelivered, take
        turns: each would copy the entries it renames), then the files, each on its own."""
        author = str(user_id)
        async with tenant_transaction(self.ctx.pool, tenant_id) as conn:
            # Locked: every snapshot reads the room under this lock, so one that read it
            # before the change has committed its row, and the keys include it; one after
            # it reads the new name.
            if await store.get_dojo(conn, tenant_id, dojo_id, lock=True) is None:
                return
            kept = await store_content.message_ids(conn, tenant_id, dojo_id, user_id)
            room = room_key(tenant_id, dojo_id)
            for _ in range(ydoc.CHAT_FEED_LENGTH + 2):  # (an update renames one entry at least)
                renamed = await change_room(
                    self.ctx,
                    room,
                    lambda state: ydoc.rename_author(state, author, FORMER_MEMBER, kept=kept),
                )
                if not renamed:
                    break
            else:
                raise RuntimeError(f"the room of dojo {dojo_id} keeps naming the member")
            keys = await store_content.snapshot_keys(conn, tenant_id, dojo_id)
        for key in keys:
            await self._rename_in_file(tenant_id, dojo_id, key, author)
        # Last (a large room takes a while): the engine's log still holds the updates that
        # carried the old name. Failing, it fails the erasure, which runs it again.
        await self.ctx.collab.forget_history(room)

    async def _rename_in_file(
        self, tenant_id: uuid.UUID, dojo_id: uuid.UUID, key: str, author: str
    ) -> None:
        """Rewrite one snapshot file, holding the dojo against an organization's erasure
        meanwhile (which would delete the file, and this write bring it back). Only a
        file whose state holds their id is decoded; one that cannot be read is left and
        logged: no retry mends it."""

        def rename(state: bytes) -> bytes | None:
            if author.encode() not in state:
                return None
            return ydoc.renamed_state(state, author, FORMER_MEMBER)

        async with tenant_transaction(self.ctx.pool, tenant_id) as conn:
            if not await store.share_dojo(conn, tenant_id, dojo_id):
                return
            try:
                await rewrite_state(self.ctx, key, rename)
            except (ValueError, KeyError, TypeError) as exc:  # not a snapshot file of ours
                _log.error("snapshot_file_unreadable", key=key, error=repr(exc))
