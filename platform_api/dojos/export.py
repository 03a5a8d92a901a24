"""Export a whole session as a zip: final code, every snapshot, chat, attribution, metadata."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from typing import Any

from platform_api.kernel import tenant_transaction
from platform_api.kernel.auth import Principal

from . import store, store_content
from .chat import view as message_view
from .room import room_state
from .service import Dojos, load_viewed, now
from .snapshots import attribute, attribution_view
from .ydoc import text_of

EXTENSIONS = {
    "python": "py", "javascript": "js", "typescript": "ts", "java": "java", "kotlin": "kt",
    "go": "go", "rust": "rs", "ruby": "rb", "c": "c", "c++": "cpp", "cpp": "cpp", "c#": "cs",
    "csharp": "cs", "elixir": "ex", "haskell": "hs", "php": "php", "scala": "scala",
    "swift": "swift", "clojure": "clj",
}  # fmt: skip


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, default=str, ensure_ascii=False) + "\n"


async def export_zip(ctx: Dojos, who: Principal, dojo_id: uuid.UUID) -> tuple[str, bytes]:
    """(file name, zip bytes). The final code is the room's when reachable, else the last snapshot."""
    async with tenant_transaction(ctx.pool, who.tenant_id) as conn:
        dojo = await load_viewed(conn, who, dojo_id)
        people = await store.list_participants(conn, who.tenant_id, dojo_id, active_only=False)
        snaps = await store_content.all_snapshots(conn, who.tenant_id, dojo_id)
        messages = await store_content.list_messages(
            conn, who.tenant_id, dojo_id, limit=None, after=None
        )
    state = await room_state(ctx, dojo)
    final = text_of(state) if state is not None else (snaps[-1]["code"] if snaps else "")
    ext = EXTENSIONS.get(dojo["language"].lower(), "txt")
    names = {p["user_id"]: p["display_name"] for p in people}
    live = {"code": final, "driver_id": dojo["driver_id"]}
    credits = attribution_view(attribute([*snaps, live]), names)
    chat = [message_view(m) for m in reversed(messages)]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "dojo.json",
            _json(
                {
                    "dojo": {k: v for k, v in dict(dojo).items() if k != "room_sync_due"},
                    "participants": [dict(p) | {"invite_id": None} for p in people],
                    "exported_at": now(),
                }
            ),
        )
        archive.writestr(f"final.{ext}", final)
        archive.writestr("attribution.json", _json(credits))
        index = []
        for n, snap in enumerate(snaps, start=1):
            name = f"snapshots/{n:04d}-{snap['timestamp']:%Y%m%dT%H%M%S}-{snap['reason']}.{ext}"
            archive.writestr(name, snap["code"])
            index.append(
                {k: snap[k] for k in ("snapshot_id", "timestamp", "reason", "turn", "driver_id")}
                | {"file": name, "driver_name": names.get(snap["driver_id"])}
            )
        archive.writestr("snapshots.json", _json(index))
        archive.writestr("chat.json", _json(chat))
        archive.writestr(
            "chat.md",
            "".join(
                f"**{m['display_name']}** ({m['timestamp']:%H:%M}): {m['text']}\n\n" for m in chat
            ),
        )
    return f"dojo-{dojo_id}.zip", buffer.getvalue()
