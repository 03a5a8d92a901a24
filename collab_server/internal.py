"""Server-side document access for other services (the dojo service): read and write rooms.

Called with a ``service`` room ticket as a bearer token; routed only inside the network.

A room's state is JSON (its text, state vector and update, base64), or, when the caller's
``Accept`` names ``application/octet-stream``, the update's raw bytes alone: what the dojo
service asks for. The JSON of a large document costs the node's loop, which all its rooms
share, about six times the encoding of the update (the text, base64, then ``json.dumps``
of the base64: ~180 ms of CPU for 9 MiB); none of it releases the GIL, so a thread of this
process would stall the loop just the same. The update is encoded once per version of the
document (``Room.whole_update``).
"""

from __future__ import annotations

import base64
import re

import structlog
from aiohttp import web
from pycrdt import Doc, Text

from crdt import (
    ProtocolError,
    apply_update_to_doc,
    encode_state_as_update,
    state_vector,
    validate_update,
)
from rooms import DocumentTooLarge, Room, RoomId, RoomManager
from rooms.ports import UpdateLog

from .errors import STORAGE_ERRORS, Reject, problem
from .settings import CollabSettings
from .state import ROOMS, SETTINGS, TICKETS, UPDATE_LOG
from .tickets import TicketVerifier

_log = structlog.get_logger("collab")
_MAX_SEQ = 2**63 - 1  # seqs are PostgreSQL bigints, from 1
_BYTES = "application/octet-stream"
_QVALUE = re.compile(r"q\s*=\s*(0(?:\.\d{0,3})?|1(?:\.0{0,3})?)")  # RFC 9110's weight


async def _authorize(request: web.Request) -> RoomId:
    room_key = request.match_info["room"]
    try:
        room_id = RoomId.parse(room_key)
    except ValueError:
        raise web.HTTPNotFound() from None
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    verifier: TicketVerifier = request.app[TICKETS]
    try:
        ticket = await verifier.verify(token, room_key) if scheme.lower() == "bearer" else None
    except Reject:
        ticket = None
    if ticket is None or ticket.role != "service":
        raise web.HTTPUnauthorized()
    return room_id


def _doc_view(doc: Doc, text_name: str, update: bytes) -> dict[str, object]:
    return {
        "text": str(doc.get(text_name, type=Text)),
        "state_vector": base64.b64encode(state_vector(doc)).decode(),
        "update": base64.b64encode(update).decode(),
    }


def _wants_bytes(request: web.Request) -> bool:
    """Whether ``Accept`` names ``application/octet-stream`` with a weight above 0 and no
    lower than JSON's (a tie goes to the bytes, the cheaper answer). JSON's weight is that
    of the most specific range that matches it (RFC 9110): ``application/json``, else
    ``application/*``, else ``*/*``. A caller that names neither gets JSON."""
    weights: dict[str, float] = {}
    for media_range in ",".join(request.headers.getall("Accept", [])).split(","):
        media_type, *params = (part.strip().lower() for part in media_range.split(";"))
        weight = 1.0
        for param in params:
            if (match := _QVALUE.fullmatch(param)) is not None:
                weight = float(match.group(1))
        weights.setdefault(media_type, weight)
    raw = weights.get(_BYTES, 0.0)
    as_json = next(
        (weights[t] for t in ("application/json", "application/*", "*/*") if t in weights), 0.0
    )
    return raw > 0 and raw >= as_json


async def get_state(request: web.Request) -> web.Response:
    """GET /internal/rooms/{room}/state?text=code[&snapshot=<seq>]: JSON, or the raw update
    (``Accept: application/octet-stream``)."""
    room_id = await _authorize(request)
    text_name = request.query.get("text", "code")
    raw = _wants_bytes(request)
    if "snapshot" in request.query:
        log: UpdateLog = request.app[UPDATE_LOG]
        seq = _seq(request.query["snapshot"])
        if seq is None:
            return problem(400, f"snapshot must be a sequence number, from 1 to {_MAX_SEQ}")
        data = await log.snapshot_at(room_id, seq)
        if data is None:
            return problem(404, "no such snapshot")
        if raw:  # (a stored state is a v1 update already)
            return web.Response(body=data, content_type=_BYTES)
        doc: Doc = Doc()
        apply_update_to_doc(doc, data, max_bytes=None)
        update = encode_state_as_update(doc)
        return web.json_response({"snapshot": seq, **_doc_view(doc, text_name, update)})
    manager: RoomManager = request.app[ROOMS]
    room = await manager.open(room_id)
    update = room.whole_update()
    view = None if raw else _doc_view(room.doc, text_name, update)
    await room.settled()  # the document may hold updates whose commit is under way
    if room.broken:
        return _reloading()
    if view is None:
        return web.Response(body=update, content_type=_BYTES)
    return web.json_response(view)


def _reloading() -> web.Response:
    """A commit failed while the request waited for it: the room's memory is unlike its log
    and the room reloads; what it holds must not be served."""
    return problem(
        503, "the room is reloading after a failed commit: try again", headers={"Retry-After": "1"}
    )


def _seq(value: str) -> int | None:
    """``value`` as a seq, or None: decimal digits only (no sign, space or underscore), in
    the range of the database's seqs, so that an odd value is the caller's 400, not a
    database error taken for a storage outage."""
    if not (value.isascii() and value.isdigit()) or len(value) > len(str(_MAX_SEQ)):
        return None
    seq = int(value)
    return seq if 1 <= seq <= _MAX_SEQ else None


async def list_snapshots(request: web.Request) -> web.Response:
    room_id = await _authorize(request)
    log: UpdateLog = request.app[UPDATE_LOG]
    items = [
        {"seq": s.seq, "size": s.size, "created_at": s.created_at}
        for s in await log.snapshots(room_id)
    ]
    return web.json_response({"items": items})


async def post_update(request: web.Request) -> web.Response:
    """POST /internal/rooms/{room}/updates with a raw Yjs v1 update as the body.

    An update that fails inside Yrs, or that the log could not store, leaves the room's
    memory unlike its log: the room is discarded (its peers reconnect and it reloads), as
    when a peer's update fails, so that no one is served what was never stored. The state
    vector answered is the log's: it waits for the commits of the updates it counts, others'
    applied meanwhile included."""
    room_id = await _authorize(request)
    settings: CollabSettings = request.app[SETTINGS]
    body = await request.read()
    manager: RoomManager = request.app[ROOMS]
    room: Room = await manager.open(room_id)
    try:
        validate_update(body, max_bytes=settings.max_message_bytes)
        await room.apply_and_share(body, origin=None)
    except ProtocolError as exc:
        return problem(422, exc.reason)
    except DocumentTooLarge as exc:
        return problem(413, str(exc))
    except STORAGE_ERRORS as exc:
        _log.error("update_not_persisted", room=room_id.key, error=repr(exc))
        return problem(
            503,
            "storage unavailable: the update was not stored, send it again",
            headers={"Retry-After": "1"},
        )
    finally:
        if room.broken:
            await manager.discard_broken(room)
    answer = state_vector(room.doc)
    await room.settled()
    if room.broken:  # (the update is stored: sending it again does no harm)
        return _reloading()
    return web.json_response({"state_vector": base64.b64encode(answer).decode()})


async def post_control(request: web.Request) -> web.Response:
    """POST /internal/rooms/{room}/control {"type": "role"|"revoke", "user": ..., "role": ...}"""
    room_id = await _authorize(request)
    try:
        command = await request.json()
    except ValueError:
        return problem(400, "body must be JSON")
    if not isinstance(command, dict) or command.get("type") not in ("role", "revoke"):
        return problem(422, "type must be role or revoke")
    manager: RoomManager = request.app[ROOMS]
    room = await manager.open(room_id)
    await room.control({k: str(v) for k, v in command.items()})
    return web.json_response({"applied": True})


async def post_forget_history(request: web.Request) -> web.Response:
    """POST /internal/rooms/{room}/forget-history: compact the room now and delete its
    earlier snapshots, so that what its document deleted (a renamed member's old name) is
    gone from the log too. Waits for a compaction of the room under way on another node.
    Answers the snapshot the room keeps (``null``: it has none)."""
    room_id = await _authorize(request)
    manager: RoomManager = request.app[ROOMS]
    done = await manager.forget_history(room_id)
    kept = None if done is None else {"seq": done.seq, "size": done.size}
    return web.json_response({"snapshot": kept})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/internal/rooms/{room}/state", get_state)
    app.router.add_get("/internal/rooms/{room}/snapshots", list_snapshots)
    app.router.add_post("/internal/rooms/{room}/updates", post_update)
    app.router.add_post("/internal/rooms/{room}/control", post_control)
    app.router.add_post("/internal/rooms/{room}/forget-history", post_forget_history)
