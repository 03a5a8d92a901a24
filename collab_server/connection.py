"""One WebSocket connection: ticket check, then the message loop of a room peer."""

from __future__ import annotations

import asyncio
import time
from urllib.parse import parse_qsl

import structlog
from aiohttp import WebSocketError, WSMsgType, web

from crdt import ProtocolError
from rooms import (
    AwarenessLimit,
    DocumentTooLarge,
    Room,
    RoomClosed,
    RoomId,
    RoomManager,
    RoomMetrics,
    TenantErased,
    change_since,
)
from rooms.ports import ORGANIZATION_GONE_REASON

from .codes import (
    DOCUMENT_TOO_LARGE,
    INTERNAL_ERROR,
    ORGANIZATION_GONE,
    POLICY_VIOLATION,
    SERVICE_RESTART,
    TICKET_INVALID,
    TICKET_WRONG_ROOM,
)
from .errors import STORAGE_ERRORS, Reject, problem
from .peer import WsPeer
from .settings import CollabSettings
from .state import (
    DEADLINES,
    DRAINING,
    METRICS,
    OUTBOX,
    PEERS,
    PEERS_GONE,
    ROOMS,
    SETTINGS,
    TICKETS,
    USER_CONNECTIONS,
)
from .tickets import Ticket, TicketVerifier

_log = structlog.get_logger("collab")


class TokenBucket:
    __slots__ = ("_at", "_burst", "_rate", "_tokens")

    def __init__(self, rate: float, burst: float) -> None:
        self._rate = rate
        self._burst = burst
        self._tokens = burst
        self._at = time.monotonic()

    def _refill(self) -> None:
        now = time.monotonic()
        self._tokens = min(self._burst, self._tokens + (now - self._at) * self._rate)
        self._at = now

    def take(self) -> bool:
        """Take a token if there is one."""
        self._refill()
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True

    def owe(self, cost: float) -> float:
        """Take ``cost`` tokens, into debt if need be; return the seconds until it is paid."""
        self._refill()
        self._tokens -= cost
        return max(0.0, -self._tokens / self._rate)


async def effective_role(manager: RoomManager, room_id: RoomId, ticket: Ticket) -> str:
    """The ticket's role, unless an access change made after it was issued (or, the clocks
    differing, up to the margin before) says otherwise."""
    change = await manager.access.latest(room_id, ticket.user_id)
    state = change_since(change, ticket.issued_at, skew=manager.limits.clock_skew)
    if state is None:
        return ticket.role
    if state == "revoked":
        raise Reject(TICKET_WRONG_ROOM, "access revoked")
    return state


async def settled_role(manager: RoomManager, room_id: RoomId, ticket: Ticket, peer: WsPeer) -> str:
    """:func:`effective_role` for a peer in the room, read again while access changes reach
    the peer during the read: its answer may predate a change already applied to the peer,
    and would undo it."""
    while True:
        seen = peer.access_changes
        role = await effective_role(manager, room_id, ticket)
        if peer.access_changes == seen:
            return role


def _query_ticket(request: web.Request) -> str:
    """``?ticket=``, parsed from the raw query string as ``request.query`` would parse it,
    but not cached: the request lives as long as the socket, and so would its parsed query,
    the ticket included."""
    for name, value in parse_qsl(request.rel_url.raw_query_string, keep_blank_values=True):
        if name == "ticket":
            return value
    return ""


async def _read_ticket(ws: web.WebSocketResponse, request: web.Request, wait_seconds: float) -> str:
    """The ticket from ``?ticket=`` or, failing that, the first (text) message."""
    if ticket := _query_ticket(request):
        return ticket
    try:
        message = await ws.receive(timeout=wait_seconds)
    except TimeoutError as exc:
        raise Reject(TICKET_INVALID, "no ticket: pass ?ticket= or send it first") from exc
    if message.type != WSMsgType.TEXT:
        raise Reject(TICKET_INVALID, "no ticket: pass ?ticket= or send it first")
    return str(message.data).strip()


async def handle(request: web.Request) -> web.StreamResponse:
    """GET /collab/{room}: the y-websocket protocol for one room.

    An open connection waits in this coroutine, whose frame lasts as long as the socket:
    joining and each message are handled by calls that return, so no other coroutine of
    ours stays suspended beside it."""
    app = request.app
    settings: CollabSettings = app[SETTINGS]
    metrics: RoomMetrics = app[METRICS]
    if request.headers.get("Upgrade", "").lower() != "websocket":  # the URL asked as a page
        return problem(
            426,
            "this endpoint speaks the y-websocket protocol: open a WebSocket (ws:// or wss://) "
            "with ?ticket=<room ticket>",
            headers={"Upgrade": "websocket", "Connection": "Upgrade"},
        )
    ws = web.WebSocketResponse(
        heartbeat=settings.ping_interval,
        max_msg_size=settings.max_message_bytes,
        compress=False,
    )
    await ws.prepare(request)
    if app[DRAINING][0]:
        metrics.evicted(SERVICE_RESTART)
        await ws.close(code=SERVICE_RESTART, message=b"server restarting")
        return ws
    metrics.connections.inc()
    peer: WsPeer | None = None
    try:
        room_id, ticket, peer = await _admit(ws, request, settings, metrics)
        user = (room_id.tenant, ticket.user_id)
        if app[USER_CONNECTIONS][user] >= settings.max_connections_per_user:
            raise Reject(
                POLICY_VIOLATION,
                f"too many connections for this user (at most {settings.max_connections_per_user} "
                "per node): close some",
            )
        app[USER_CONNECTIONS][user] += 1
        app[PEERS].add(peer)
        try:
            manager = app[ROOMS]
            async with manager.joined(room_id, peer) as room:
                # Read once access changes reach the peer, so none can fall between the read
                # and the peer; a revoked user is refused before it hears anything of the room.
                peer.can_write = await settled_role(manager, room_id, ticket, peer) == "write"
                if ticket.expires_at <= time.time():  # while the room loaded: not one byte
                    raise Reject(TICKET_INVALID, "ticket expired: reconnect with a new ticket")
                peer.expire_at(ticket.expires_at)
                try:
                    room.greet(peer)
                except RoomClosed as exc:  # unloaded or discarded while the role was read
                    raise Reject(INTERNAL_ERROR, "room reloading: reconnect to resync") from exc
                # Let go of what only joining needed (the ticket, the parsed room id), so
                # that idle connections do not keep them.
                del room_id, ticket
                verifier = app[TICKETS]
                bucket = TokenBucket(settings.rate_per_second, settings.rate_burst)
                # Every byte of an update is walked in Python before Yrs sees it, on the
                # loop every room of the node shares: a peer past its byte budget is read
                # from only once the budget has refilled (its socket backs up meanwhile).
                budget = TokenBucket(settings.read_bytes_per_second, settings.read_bytes_burst)
                while not ws.closed and peer.close_request is None:  # a kick ends the loop
                    message = await ws.receive()
                    if message.type == WSMsgType.BINARY:
                        if wait := budget.owe(len(message.data)):
                            metrics.throttled_seconds.inc(wait)
                            await asyncio.sleep(wait)
                        await _on_update(peer, manager, room, bucket, metrics, message.data)
                    elif message.type == WSMsgType.TEXT:
                        # Each costs a signature check and a ledger read: rate-limited too.
                        if not bucket.take():
                            peer.kick(POLICY_VIOLATION, "rate limit exceeded")
                        else:
                            await _on_ticket(peer, manager, room, verifier, str(message.data))
                    elif message.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED):
                        break
                    elif message.type == WSMsgType.ERROR:
                        _log.info("websocket_error", error=repr(ws.exception()))
                        if isinstance(message.data, WebSocketError):
                            # aiohttp closed it for a bad frame (1002, 1007, 1009); a lost
                            # connection or a missed pong is no close of ours.
                            metrics.evicted(message.data.code)
                        break
        finally:
            app[USER_CONNECTIONS][user] -= 1
            if not app[USER_CONNECTIONS][user]:
                del app[USER_CONNECTIONS][user]
            app[PEERS].discard(peer)
            if not app[PEERS]:
                app[PEERS_GONE].set()
            peer.flush()  # what was queued goes before any close frame (ours, below)
            # A close we requested sends the frame with our code; give it a moment.
            await peer.wait_closed(within=2.0)
    except Reject as reject:
        await _refuse(ws, peer, metrics, reject.code, reject.reason)
    except TenantErased:
        await _refuse(ws, peer, metrics, ORGANIZATION_GONE, ORGANIZATION_GONE_REASON)
    except Exception as exc:  # Redis or the database failing while the peer joins
        _log.error("join_failed", room=request.match_info["room"], error=repr(exc))
        await _refuse(ws, peer, metrics, INTERNAL_ERROR, "server unavailable: reconnect later")
    finally:
        metrics.connections.dec()
    return ws


async def _refuse(
    ws: web.WebSocketResponse, peer: WsPeer | None, metrics: RoomMetrics, code: int, reason: str
) -> None:
    """Close a connection refused while it joined. It counts as an eviction unless its peer
    was kicked meanwhile (a revoke or a drain: counted then, and that close goes first) or
    the client had left already."""
    if not ws.closed and (peer is None or peer.close_request is None):
        metrics.evicted(code)
    await ws.close(code=code, message=reason.encode())


async def _admit(
    ws: web.WebSocketResponse, request: web.Request, settings: CollabSettings, metrics: RoomMetrics
) -> tuple[RoomId, Ticket, WsPeer]:
    """The room, the verified ticket and the peer of a new connection (raises Reject)."""
    room_key = request.match_info["room"]
    try:
        room_id = RoomId.parse(room_key)
    except ValueError as exc:
        raise Reject(TICKET_WRONG_ROOM, "room must look like <tenant-uuid>:<name>") from exc
    ticket = await request.app[TICKETS].verify(
        await _read_ticket(ws, request, settings.first_message_timeout), room_key
    )
    if ticket.role == "service":
        raise Reject(TICKET_WRONG_ROOM, "service tickets are for the internal API")
    peer = WsPeer(
        ws,
        request.transport,
        user_id=ticket.user_id,
        issued_at=ticket.issued_at,
        can_write=False,  # until its role is read from inside the room
        max_queue_bytes=settings.send_queue_bytes,
        metrics=metrics,
        deadlines=request.app[DEADLINES],
        outbox=request.app[OUTBOX],
    )
    manager = request.app[ROOMS]
    if room_id not in manager.rooms:
        # Loading costs the database a read of the whole room: not for a revoked user.
        await effective_role(manager, room_id, ticket)
    # Draining may have begun while the ticket or the ledger was read; from here on the
    # peer is added to the node's peers with no wait between, so the drain reaches it.
    if request.app[DRAINING][0]:
        raise Reject(SERVICE_RESTART, "server restarting")
    return room_id, ticket, peer


async def _on_update(
    peer: WsPeer,
    manager: RoomManager,
    room: Room,
    bucket: TokenBucket,
    metrics: RoomMetrics,
    data: bytes,
) -> None:
    """A binary message: sync, update or awareness. A rule broken kicks the peer."""
    metrics.messages_in.inc()
    metrics.bytes_in.inc(len(data))
    if not bucket.take():
        peer.kick(POLICY_VIOLATION, "rate limit exceeded")
        return
    try:
        await room.receive(peer, data)
    except ProtocolError as exc:
        peer.kick(int(exc.code), exc.reason)
    except DocumentTooLarge as exc:
        peer.kick(DOCUMENT_TOO_LARGE, str(exc))
    except AwarenessLimit as exc:
        peer.kick(POLICY_VIOLATION, str(exc))
    except TenantErased:
        room.broken = True  # in memory only: nobody may read it any more
        peer.kick(ORGANIZATION_GONE, ORGANIZATION_GONE_REASON)
    except STORAGE_ERRORS as exc:
        _log.error("update_not_persisted", room=room.id.key, error=repr(exc))
        peer.kick(INTERNAL_ERROR, "storage unavailable: reconnect to resync")
    finally:
        if room.broken:
            await manager.discard_broken(room)


async def _on_ticket(
    peer: WsPeer, manager: RoomManager, room: Room, verifier: TicketVerifier, token: str
) -> None:
    """A text message: a fresh ticket for the same room and user extends the connection."""
    try:
        fresh = await verifier.verify(token.strip(), room.id.key)
    except Reject as reject:
        peer.kick(reject.code, reject.reason)
        return
    if fresh.user_id != peer.user_id:
        peer.kick(TICKET_WRONG_ROOM, "ticket is for another user")
        return
    if fresh.role == "service":
        peer.kick(TICKET_WRONG_ROOM, "service tickets are for the internal API")
        return
    try:
        role = await settled_role(manager, room.id, fresh, peer)
    except Reject as reject:
        peer.kick(reject.code, reject.reason)
        return
    peer.expire_at(fresh.expires_at)
    peer.issued_at = fresh.issued_at
    room.allow_writes(peer, role == "write")
