"""Chat inside a dojo: persisted in ``dojo_chat_messages``, mirrored live into the room.

Messages are stored as written. Output carries ``html`` too: the text HTML-escaped first,
then a small Markdown subset (inline code, bold, italics, line breaks) turned into tags, so
nothing a participant types can become markup of its own. The room's ``chat`` array is a
live feed of the latest messages (best effort: the REST list is the record).
"""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Callable
from typing import Any

import structlog

from platform_api.kernel import Problem, forbidden, not_found, tenant_transaction
from platform_api.kernel.auth import Principal

from . import store, store_content, ydoc
from .room import change_room
from .service import Dojos, Row, can_manage, dojo_is, load
from .tickets import room_key

_log = structlog.get_logger("dojos.chat")
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
_ITALIC = re.compile(r"(?<![\w*])[*_](?=\S)(.+?)(?<=\S)[*_](?![\w*])")


def render(text: str) -> str:
    """Escaped HTML with basic Markdown; code spans are left literal."""
    parts = text.split("`")
    out = []
    for i, part in enumerate(parts):
        escaped = html.escape(part, quote=True)
        if i % 2 == 1 and i < len(parts) - 1:
            out.append(f"<code>{escaped}</code>")
            continue
        if i % 2 == 1:  # an unmatched backtick: keep it as typed
            escaped = "`" + escaped
        escaped = _BOLD.sub(r"<strong>\1</strong>", escaped)
        escaped = _ITALIC.sub(r"<em>\1</em>", escaped)
        out.append(escaped)
    return "".join(out).replace("\r\n", "\n").replace("\n", "<br>")


def view(row: Row) -> dict[str, Any]:
    return {
        "message_id": row["message_id"],
        "user_id": row["user_id"],
        "display_name": row["display_name"],
        "text": row["message"],
        "html": render(row["message"]),
        "timestamp": row["timestamp"],
    }


async def _feed(ctx: Dojos, room: str, change: Callable[[bytes], bytes | None]) -> None:
    try:
        await change_room(ctx, room, change)
    except Problem as exc:
        _log.warning("chat_feed_unavailable", room=room, error=exc.detail)


async def post(ctx: Dojos, who: Principal, dojo_id: uuid.UUID, text: str) -> dict[str, Any]:
    """Active participants post while the dojo is scheduled or running."""
    async with tenant_transaction(ctx.pool, who.tenant_id) as conn:
        dojo = await load(conn, who, dojo_id)
        me = await store.get_participant(conn, who.tenant_id, dojo_id, who.user_id)
        if me is None or me["status"] != "active":
            raise forbidden("Join this dojo to chat")
        if dojo["status"] not in ("scheduled", "active"):
            raise dojo_is(dojo["status"])
        row = await store_content.insert_message(
            conn,
            tenant_id=who.tenant_id,
            dojo_id=dojo_id,
            user_id=who.user_id,
            display_name=me["display_name"],
            message=text,
        )
    message = view(row)
    entry = {
        **{k: str(v) for k, v in message.items() if k in ("message_id", "user_id")},
        "id": str(row["message_id"]),
        "name": row["display_name"],
        "text": row["message"],
        "html": message["html"],
        "at": row["timestamp"].isoformat(),
    }
    await _feed(ctx, room_key(who.tenant_id, dojo_id), lambda s: ydoc.chat_append(s, entry))
    return message


async def delete(ctx: Dojos, who: Principal, dojo_id: uuid.UUID, message_id: uuid.UUID) -> None:
    """The author or the facilitator (or a tenant admin) deletes a message."""
    async with tenant_transaction(ctx.pool, who.tenant_id) as conn:
        dojo = await load(conn, who, dojo_id)
        row = await store_content.get_message(conn, who.tenant_id, dojo_id, message_id)
        if row is None:
            raise not_found("Message")
        if row["user_id"] != who.user_id and not can_manage(who, dojo):
            raise forbidden("Only the author or the facilitator deletes a message")
        await store_content.delete_message(conn, who.tenant_id, message_id)
    room = room_key(who.tenant_id, dojo_id)
    await _feed(ctx, room, lambda s: ydoc.chat_remove(s, str(message_id)))
