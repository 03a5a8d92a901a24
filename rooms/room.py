"""A room: one shared Yjs document, its local peers and awareness, wired to the ports.

The write path is validate → append to the durable log → apply → fan out, so no peer, on
this node or another, ever sees an update that a crash could lose. Messages that arrive
from the bus were persisted by the node that accepted them: they are applied and forwarded
to local peers, never stored or re-published (transaction origins tell them apart).

A room publishes to the bus only while another node holds it too. Nodes say so with HELLO
frames: on loading (before reading the log), every ``keepalive`` seconds, and in reply to a
node they did not know; a node not heard from for ``presence_ttl`` seconds is forgotten.
Whoever learns of a node it may have kept updates from answers FRESH, and a FRESH hello
makes the receiver catch up from the log (updates are idempotent), so the window between
"loaded" and "known" loses nothing; a node whose bus dropped a room's messages says FRESH
too. Access changes are mended the same way: a catch-up judges the local peers against the
access ledger again, as a reconnect would. Most rooms live on one node (the entry proxy
hashes rooms to nodes): they cost Redis nothing.

Catching up reads the whole stored state, so it runs beside the bus reader, never on it: a
storm of FRESH hellos (every room after a Redis blip) must not hold up every room's fan-out.
One catch-up runs per room at a time; requests that arrive meanwhile add one more.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import structlog
from pycrdt import Doc

from crdt import (
    EMPTY_STATE_VECTOR,
    EMPTY_UPDATE,
    AwarenessUpdate,
    ItemRange,
    ProtocolError,
    QueryAwareness,
    SyncStep1,
    SyncStep2,
    SyncUpdate,
    adds_to,
    apply_update_to_doc,
    deleted_ranges,
    deletion_of_lacking,
    encode_awareness,
    encode_awareness_removal,
    encode_permission_denied,
    encode_state_as_update,
    encode_sync_step1,
    encode_sync_step2,
    encode_update,
    inserted_items,
    parse_message,
    restrict_awareness_update,
    state_vector,
    sync_step2_for_doc,
)
from crdt.awareness import MAX_SAFE_INTEGER, AwarenessEntry
from crdt.messages import Message
from platform_api.kernel.queues import backoff_seconds
from platform_api.kernel.tasks import stop

from .frames import FRESH, GONE, PRESENT, Frame, Kind, decode_frame, encode_frame
from .ids import RoomId
from .metrics import RoomMetrics
from .peer import Peer
from .ports import (
    CLOCK_SKEW_SECONDS,
    AccessLedger,
    FanoutBus,
    StoredState,
    UpdateLog,
    change_since,
)

_log = structlog.get_logger("rooms")
ORIGIN_REMOTE = "remote"
ORIGIN_SERVER = "server"
CATCH_UP_ATTEMPTS = 6  # about 6 s of backoff before a failed catch-up waits for the next ask
# y-protocols clients renew their awareness state every 15 s and drop one not renewed for 30 s:
# another node's claim on a client id lapses then (its removal may have been lost on the bus).
AWARENESS_OUTDATED = 30.0
# Told to a peer whose document update was dropped, once until it may write again: a client
# that keeps what it typed while it had no keyboard (Yjs cannot take a deletion back) can
# start again from the room's document (the web app does), and any other client logs it.
READ_ONLY_DENIED = encode_permission_denied(
    "read-only: this connection may not change the document; your edits were not shared"
)
# A node that missed its hellos for this many keepalives is presumed gone (crashed: its node id
# was its process's, so no one will say GONE for it) and its clients' ids are free to claim.
# Hellos go out from the maintenance pass, which awaits each room's compaction in turn: a slow
# pass must not make a live node look gone, or a connection waiting with a claim on one of its
# clients' ids (any clock) takes it for good. Three keepalives (30 s by default, within the
# presence TTL: the settings ask for 3 keepalives at least) need two hellos missed and more;
# with the default keepalive that is when its states lapse anyway (any frame of a node counts
# as hearing from it), so the rule frees ids sooner only with shorter keepalives. What remains:
# a node silent that long that comes back finds its clients' ids taken; their renewals are
# refused until the new owner lets go (their clocks are lower, and y-protocols clients that
# saw the claim ignore them too).
SILENT_KEEPALIVES = 3.0


@dataclass(frozen=True)
class RoomLimits:
    max_update_bytes: int = 1_048_576
    max_document_bytes: int = 16 * 1_048_576
    # y-protocols clients speak for one client id per connection; a few more allow for a
    # client that renews its id (a new Doc) on a live socket. More closes the peer (1008).
    awareness_ids_per_peer: int = 4
    # Awareness states a room holds, its local peers' and other nodes' together: every
    # newcomer is sent all of them in one message. New client ids past it are dropped.
    max_awareness_entries: int = 1_000
    keepalive: float = 10.0  # seconds between HELLOs while the room is loaded
    quiet_peer: float = 10.0  # a peer sent nothing for this long is nudged (``Peer.nudge``)
    presence_ttl: float = 35.0  # forget a node not heard from for this long
    clock_skew: float = CLOCK_SKEW_SECONDS  # an access change wins over tickets this much newer


class DocumentTooLarge(Exception):
    pass


class RoomClosed(Exception):
    """The room was unloaded or discarded while a peer joined: it must join the room anew."""


class AwarenessLimit(Exception):
    """A peer spoke for more awareness client ids than one connection may: close it (1008)."""


class Room:
    # The typing of a peer that lost the keyboard is taken back from its screen (see
    # ``_hold_for_take_back``) this long after the first of it arrives, unless the peer may
    # write again by then...
    TAKE_BACK_SECONDS = 1.0
    # ...if it could write until this long before: the driver whose turn just passed.
    TAKE_BACK_WITHIN_SECONDS = 30.0
    TAKE_BACK_MAX_BYTES = 4096  # a larger update is not taken back
    TAKE_BACK_MAX_RANGES = 64  # per peer at once (typing adds to one range)
    # A read-only peer's first refused sync step 2 is read for anything the room lacks up
    # to this size (larger: taken for an edit), against a delete set this old at most.
    ANSWER_CHECK_MAX_BYTES = 64 * 1024
    DELETIONS_STALE_SECONDS = 1.0

    def __init__(
        self,
        room_id: RoomId,
        *,
        log: UpdateLog,
        bus: FanoutBus,
        access: AccessLedger,
        node_id: bytes,
        limits: RoomLimits,
        metrics: RoomMetrics,
    ) -> None:
        self.id = room_id
        self.doc: Doc = Doc()
        self.peers: set[Peer] = set()  # greeted: every message of the room goes to them
        self._admitted: set[Peer] = set()  # joining: their access is being read
        self.size = 0  # bytes of state, approximately: snapshot plus updates since
        self.updates_since_compaction = 0
        self.last_activity = time.monotonic()
        self.broken = False  # set when memory may differ from the log: the room must reload
        # Appends by number: the last one started, those not yet committed (oldest first:
        # numbers only grow), and the futures of ``settled`` with the last number each awaits.
        self._appends = 0
        self._inflight: dict[int, None] = {}
        self._settled: deque[tuple[int, asyncio.Future[None]]] = deque()
        self._log = log
        self._bus = bus
        self._access = access
        self._node = node_id
        self._limits = limits
        self._metrics = metrics
        # client id -> (clock, state JSON, owner, when set): the owner is the local peer that
        # spoke for it, or the id of the node whose peer did
        self._awareness: dict[int, tuple[int, str, Peer | bytes, float]] = {}
        self._holdings: dict[Peer | bytes, int] = {}  # owner -> client ids it speaks for
        # client id -> (clock, state JSON, peer): a local peer's claim refused only because
        # another owner holds the id, taken once it is free (see ``_wait_for``)
        self._waiting: dict[int, tuple[int, str, Peer]] = {}
        self._waits: dict[Peer, set[int]] = {}  # peer -> the ids it waits for
        # ids given to waiting peers, to send and publish -> the clock of the state replaced
        self._claimed: dict[int, int] = {}
        # client id let go (no one holds it) -> (the clock of its removal, when), oldest
        # first: a state no newer than that is an echo, for ``AWARENESS_OUTDATED`` seconds
        self._gone: dict[int, tuple[int, float]] = {}
        # The whole document while it is unchanged, encoded once: its SyncStep2 (what a
        # newcomer with nothing is sent) and where the update starts in that message.
        self._whole: tuple[bytes, int] | None = None
        # Its delete set by client, when it was read, and whether the document changed since.
        self._deleted: dict[int, list[tuple[int, int]]] | None = None
        self._deleted_at, self._deleted_stale = 0.0, False
        self._answered: set[Peer] = set()  # peers whose first refused sync step 2 was read
        self._nodes: dict[bytes, float] = {}  # other nodes holding the room -> last heard
        self._hello_at = 0.0
        self._nudged_at = time.monotonic()
        self._closed = False
        self._catching_up: asyncio.Task[None] | None = None
        self._catch_up_again = False  # asked while catching up: once more when it ends
        self._access_at: dict[str, float] = {}  # user -> time of the last access change applied
        # read-only peer -> what it typed, to take back, and the timer that will
        self._taking_back: dict[Peer, tuple[list[ItemRange], asyncio.TimerHandle]] = {}
        self._lost_writes_at: dict[Peer, float] = {}  # peer -> when it last lost the keyboard

    async def load(self) -> None:
        """Subscribe, say hello, then load: nothing can fall between the three."""
        await self._bus.subscribe(self.id, self.on_bus_message)
        await self.hello(PRESENT)
        stored = await self._log.load(self.id)
        self._merge(stored)
        self.size = len(stored.snapshot or b"") + sum(len(u) for u in stored.updates)
        self.updates_since_compaction = len(stored.updates)

    async def close(self) -> None:
        """Leave the bus once (a broken room may be discarded by several of its peers)."""
        if self._closed:
            return
        self._closed = True
        for _, timer in self._taking_back.values():
            timer.cancel()
        self._taking_back.clear()
        if self._catching_up is not None:
            await stop(self._catching_up)
        if self._nodes:
            await self.hello(GONE)
            self._nodes.clear()
        await self._bus.unsubscribe(self.id, self.on_bus_message)

    # -- presence --------------------------------------------------------------------------

    @property
    def shared(self) -> bool:
        """Whether another live node holds this room (so its messages must go on the bus)."""
        self._forget_silent()
        return bool(self._nodes)

    def _forget_silent(self) -> None:
        """Forget the nodes not heard from for ``presence_ttl`` seconds."""
        if self._nodes:
            horizon = time.monotonic() - self._limits.presence_ttl
            for node in [n for n, heard in self._nodes.items() if heard < horizon]:
                self._forget(node)

    def _forget(self, node: bytes) -> None:
        """Forget a node that left or fell silent, and the awareness states of its peers: the
        local peers are told they left, and their client ids are free to speak for here (a
        client may reconnect through this node after its own crashed)."""
        self._nodes.pop(node, None)
        self._drop_awareness_of(node)

    async def hello(self, what: bytes = PRESENT) -> None:
        self._hello_at = time.monotonic()
        await self._bus.publish(self.id, encode_frame(Kind.HELLO, self._node, what))

    async def keep_alive(self) -> None:
        """Say hello again when ``keepalive`` seconds passed since the last time, and nudge
        the peers every ``quiet_peer`` seconds. A closed room says nothing more (a GONE hello
        may have been its last word)."""
        if self._closed:
            return
        self._forget_silent()  # (a quiet room would otherwise keep their peers' presence)
        self._drop_lapsed()
        self._forget_departures()
        self._take_from_silent()
        await self._publish_claimed()
        now = time.monotonic()
        if now - self._nudged_at >= self._limits.quiet_peer:
            self._nudged_at = now
            for peer in self.peers:
                peer.nudge()
        if now - self._hello_at >= self._limits.keepalive and not self._closed:
            await self.hello(PRESENT)

    async def _heard_from(self, frame: Frame) -> None:
        """Note that ``frame.origin`` holds this room; answer FRESH if we did not know it."""
        known = self.shared and frame.origin in self._nodes  # (``shared`` forgets the stale)
        if frame.kind is Kind.HELLO and frame.payload == GONE:
            self._forget(frame.origin)
            return
        self._nodes[frame.origin] = time.monotonic()
        if not known:
            await self.hello(FRESH)  # we may have kept updates from it: it should catch up
        if frame.kind is Kind.HELLO and frame.payload == FRESH:
            self.request_catch_up()

    # -- peers ---------------------------------------------------------------------------

    @property
    def occupied(self) -> bool:
        """Whether a peer is in the room or joining it (its access being read)."""
        return bool(self.peers or self._admitted)

    def admit(self, peer: Peer) -> None:
        """Let ``peer`` in without a word: access changes reach it from now on (so its role,
        read next, cannot miss one), messages only once it is greeted."""
        self._admitted.add(peer)
        self.last_activity = time.monotonic()

    def greet(self, peer: Peer) -> None:
        """Make an admitted peer a member: our state vector (so it sends what we lack), who
        is here, and every message of the room from now on. A room closed or broken while
        the peer joined raises RoomClosed: its document is no longer the room's."""
        if self._closed or self.broken:
            raise RoomClosed(f"room {self.id.key} closed while the peer joined")
        self._admitted.discard(peer)
        self.peers.add(peer)
        peer.send(encode_sync_step1(state_vector(self.doc)))
        if self._awareness:
            peer.send(self._awareness_snapshot())

    def kick_all(self, code: int, reason: str) -> None:
        """Close the connections of every peer, those still joining too."""
        for peer in list(self.peers | self._admitted):
            peer.kick(code, reason)

    async def leave(self, peer: Peer) -> None:
        self._cancel_take_back(peer)
        self._answered.discard(peer)
        self._lost_writes_at.pop(peer, None)
        self._admitted.discard(peer)
        self.peers.discard(peer)
        self.last_activity = time.monotonic()
        for cid in self._waits.pop(peer, ()):
            del self._waiting[cid]
        removal = self._drop_awareness_of(peer)
        if removal is not None:
            await self._publish(Kind.AWARENESS, removal)
        await self._publish_claimed()

    async def receive(self, peer: Peer, data: bytes) -> None:
        """Handle one binary message from ``peer`` (raises ProtocolError on bad input)."""
        message: Message = parse_message(data, max_update_bytes=self._limits.max_update_bytes)
        self.last_activity = time.monotonic()
        if isinstance(message, SyncStep1):
            await self._answer_sync(peer, message.state_vector)
        elif isinstance(message, SyncStep2 | SyncUpdate):
            if message.update == EMPTY_UPDATE:
                # A new client's answer to our sync step 1 (a client with a document sends
                # its whole delete set): nothing to store or share, and no read-only write.
                return
            if not peer.can_write:
                self._metrics.readonly_dropped.inc()
                if not peer.refused_edits and self._refused_adds(peer, message):
                    peer.refused_edits = True
                    peer.send(READ_ONLY_DENIED)
                if isinstance(message, SyncUpdate):
                    self._hold_for_take_back(peer, message.update)
                return
            await self.apply_and_share(message.update, origin=peer)
        elif isinstance(message, AwarenessUpdate):
            await self._on_awareness(peer, message)
        elif isinstance(message, QueryAwareness):
            peer.send(self._awareness_snapshot())

    def _refused_adds(self, peer: Peer, message: SyncStep2 | SyncUpdate) -> bool:
        """Whether a refused update holds anything the room lacks.

        A client that reconnects answers our sync step 1 with its whole delete set: from a
        read-only peer with nothing of its own, that is no refused edit (it would be told so
        on every reconnect). So the first sync step 2 of a connection is looked into, if it
        is not large; anything else a read-only peer sends is taken for an edit (a client
        sends a live update for a change of its own). Looking costs a walk of the update,
        and of the room's delete set if a deletion needs it: once per connection at most."""
        if (
            isinstance(message, SyncUpdate)
            or peer in self._answered
            or len(message.update) > self.ANSWER_CHECK_MAX_BYTES
        ):
            return True
        self._answered.add(peer)
        return adds_to(message.update, state_vector(self.doc), self._deletions)

    def _deletions(self) -> dict[int, list[tuple[int, int]]]:
        """The room's delete set, read again at most every ``DELETIONS_STALE_SECONDS``
        while the document changes. An older one can only make a refused update look like
        it adds something (deletions only grow): a needless word, never a missed one."""
        now = time.monotonic()
        if self._deleted is None or (
            self._deleted_stale and now - self._deleted_at >= self.DELETIONS_STALE_SECONDS
        ):
            self._deleted = deleted_ranges(encode_state_as_update(self.doc, state_vector(self.doc)))
            self._deleted_at, self._deleted_stale = now, False
        return self._deleted

    def _hold_for_take_back(self, peer: Peer, update: bytes) -> None:
        """Note what a peer that just lost the keyboard typed, to take it back from its
        screen ``TAKE_BACK_SECONDS`` after the first of it (see ``_take_back``), unless it
        may write by then.

        A driver typing as the turn passes would otherwise keep text no one else has, and
        share it once allowed to write again, maybe ten minutes later, in code that has
        moved on. Only such a peer's typing is taken back: one that could write until
        ``TAKE_BACK_WITHIN_SECONDS`` ago. An incoming driver whose editor opened a moment
        before this node heard of the new role keeps what it typed, and the room asks for
        it once it may write (see ``allow_writes``); so does a driver given the keyboard
        back within the wait.

        And only typing: a live edit (a sync update, not a sync step 2, which may hold what
        other nodes accepted and this one has not heard yet) that only inserts, all of it
        under client ids this peer speaks for in awareness, and small. The rest stays on the
        peer's screen, and is shared whole if it may write again: Yjs cannot bring back what
        an update deleted, so taking back the inserts of a replacement would leave only its
        deletion to be shared."""
        lost_at = self._lost_writes_at.get(peer)
        if (
            self._closed
            or lost_at is None
            or time.monotonic() - lost_at > self.TAKE_BACK_WITHIN_SECONDS
            or peer not in self._holdings
            or len(update) > self.TAKE_BACK_MAX_BYTES
        ):
            return
        items = inserted_items(update)
        if not items or any(not self._speaks_for(peer, item.client) for item in items):
            return
        pending = self._taking_back.get(peer)
        if pending is None:
            timer = asyncio.get_running_loop().call_later(
                self.TAKE_BACK_SECONDS, self._take_back, peer
            )
            pending = self._taking_back[peer] = ([], timer)
        held = pending[0]
        for item in items:
            last = held[-1] if held else None
            if last and last.client == item.client and last.clock + last.length == item.clock:
                held[-1] = last._replace(length=last.length + item.length)
            elif len(held) < self.TAKE_BACK_MAX_RANGES:
                held.append(item)

    def _speaks_for(self, peer: Peer, client_id: int) -> bool:
        entry = self._awareness.get(client_id)
        return entry is not None and entry[2] is peer

    def _take_back(self, peer: Peer) -> None:
        """Send a read-only peer the deletion of what it typed that the room lacks (what
        it sent again that the room has stays): its screen shows the room's text again."""
        held, _ = self._taking_back.pop(peer, ([], None))
        if peer.can_write or peer not in self.peers:
            return
        deletion = deletion_of_lacking(held, state_vector(self.doc))
        if deletion is not None:
            self._metrics.readonly_taken_back.inc()
            peer.send(encode_update(deletion))

    def _cancel_take_back(self, peer: Peer) -> None:
        pending = self._taking_back.pop(peer, None)
        if pending is not None:
            pending[1].cancel()

    async def apply_and_share(self, update: bytes, *, origin: Peer | None) -> None:
        """The write path for an already-validated update from a peer or from the server.

        Applying comes first: a few updates pass validation yet fail inside Yrs, and those
        must never reach the log. Until the commit lands, the update is in the document but
        no one is told: fan-out waits for the commit, and whatever reads the document for
        someone waits for the commits of what it read (see ``settled``), so no one sees what
        a crash could lose. The empty update changes nothing: nothing is stored or shared.
        """
        if update == EMPTY_UPDATE:
            return
        if self.size + len(update) > self._limits.max_document_bytes:
            raise DocumentTooLarge(f"document would exceed {self._limits.max_document_bytes} bytes")
        try:
            self._apply(update, ORIGIN_SERVER if origin is None else id(origin))
        except ProtocolError:
            # Yrs may have applied part of it: this copy of the document is suspect.
            self.broken = True
            raise
        self._appends += 1
        number = self._appends
        self._inflight[number] = None
        try:
            await self._log.append(self.id, update)
        except BaseException:
            self.broken = True  # in memory but not durable: reload before serving anyone
            raise
        finally:
            del self._inflight[number]
            if self._settled:
                self._wake_settled()
        self.size += len(update)
        self.updates_since_compaction += 1
        message = encode_update(update)
        self._broadcast(message, exclude=origin)
        await self._publish(Kind.UPDATE, message)

    def _merge(self, stored: StoredState) -> None:
        """Apply a stored state (latest snapshot, then the log after it) to the document."""
        for update in ([stored.snapshot] if stored.snapshot else []) + stored.updates:
            self._apply(update, ORIGIN_REMOTE)

    def _apply(self, update: bytes, origin: object) -> None:
        self._whole = None  # the document changes: the cached whole state is stale
        self._deleted_stale = True  # and so may its delete set
        apply_update_to_doc(self.doc, update, max_bytes=None, origin=origin)

    async def settled(self) -> None:
        """Return once the commits under way when called have ended: what the document held
        then is in the log, unless a commit failed meanwhile and left the room ``broken`` (its
        memory unlike the log: it must not be served). Commits started since are not waited
        for (in a busy room some always are), so read the document first, with no await
        between the read and this call, and serve what was read: a read after it may hold
        updates whose commits are still under way."""
        if not self._inflight:
            return
        last = self._appends  # every append up to it has applied its update already
        waiting = self._settled
        if waiting and waiting[-1][0] == last:  # (one future for those who wait alike)
            waiter = waiting[-1][1]
        else:
            waiter = asyncio.get_running_loop().create_future()
            waiting.append((last, waiter))
        await asyncio.shield(waiter)

    def _wake_settled(self) -> None:
        """Resolve the waits of ``settled`` whose commits have all ended."""
        oldest = next(iter(self._inflight), self._appends + 1)
        waiting = self._settled
        while waiting and waiting[0][0] < oldest:
            waiter = waiting.popleft()[1]
            if not waiter.done():
                waiter.set_result(None)

    def whole_update(self) -> bytes:
        """The whole document as one update. Call ``settled`` next, with no await between,
        and serve it only if the room is not ``broken`` then (see ``settled``).

        Encoded once per version of the document, and shared with the answers to newcomers:
        Yrs keeps the GIL while it encodes (some milliseconds per MiB), so the encoding stalls
        the node's loop on any thread of this process."""
        message, start = self._whole_sync_step2()
        return message[start:]

    def _whole_sync_step2(self) -> tuple[bytes, int]:
        if self._whole is None:
            update = encode_state_as_update(self.doc)
            message = encode_sync_step2(update)
            self._whole = (message, len(message) - len(update))
        return self._whole

    async def _answer_sync(self, peer: Peer, their_state: bytes) -> None:
        if their_state != EMPTY_STATE_VECTOR:
            answer = sync_step2_for_doc(self.doc, their_state)
        else:
            # A newcomer with nothing gets the whole document: encoded once per version of
            # it, however many join (a class starting together, reconnects after a deploy).
            answer = self._whole_sync_step2()[0]
        await self.settled()  # the commits of what the answer holds
        if self.broken:  # its peers are being closed: they resync from the reloaded room
            return
        peer.send(answer)

    # -- awareness -----------------------------------------------------------------------

    async def _on_awareness(self, peer: Peer, message: AwarenessUpdate) -> None:
        self._forget_silent()  # the ids of a node forgotten just now are free
        restricted = self._owned_by(peer, message)
        if restricted is not None:  # (None: only echoes of others' states)
            out = encode_awareness(restricted)
            self._broadcast(out, exclude=peer)
            await self._publish(Kind.AWARENESS, out)
        await self._publish_claimed()

    def _owned_by(self, owner: Peer | bytes, message: AwarenessUpdate) -> AwarenessUpdate | None:
        """Record the entries of ``message`` that ``owner`` (a local peer, or the node another
        node's message came from) may speak for, and return them; None if there are none.

        An owner may speak for new client ids and its own, never for an id another peer owns,
        here or on another node: the id is free once that peer leaves (its removal), its node
        leaves or is forgotten, or (another node's) when its state was not renewed for
        ``AWARENESS_OUTDATED`` seconds, as y-protocols clients judge it, or when that node
        missed its hellos (see ``_lapsed``). An entry for an id held by another owner with a
        clock no higher than the one recorded is an echo (a y-websocket client relays every
        state it learns, clock and all), never a claim; so is a local peer's state for an id
        let go with a clock no higher than its removal's (see ``_bury``), and the peer is sent
        that removal (a y-protocols client that reconnected answers it with its state and a
        clock past it). Another node judged its own peers' states so (and may hand an id over
        with the removal's clock, see ``_publish_claimed``). A removal for an id no one holds
        is not relayed: every client echoes every removal it learns. A local peer's newer
        state for an id held by another owner waits for the id (``_wait_for``), so a client
        that reconnected shows as soon as its old connection or node lets go, not at its next
        renewal.

        A local peer may hold ``awareness_ids_per_peer`` ids at once: a message that would
        make it hold more raises AwarenessLimit, and nothing of it is taken. The room holds
        ``max_awareness_entries`` states at most, whoever speaks for them: a new id past that
        is dropped (counted), so its client goes unseen until a place frees up (y-protocols
        clients renew their state every 15 s), and the rest of the message stands.
        """
        now = time.monotonic()
        allowed: set[int] = set()
        newer: list[AwarenessEntry] = []  # states for ids held by another owner
        echoes: list[AwarenessEntry] = []  # removals of ids let go, for states older than them
        for e in message.entries:
            held = self._awareness.get(e.client_id)
            if held is None:
                if e.state is None:
                    continue  # (nothing to remove)
                gone = None if isinstance(owner, bytes) else self._gone.get(e.client_id)
                if gone is None or e.clock > gone[0] or now - gone[1] > AWARENESS_OUTDATED:
                    allowed.add(e.client_id)
                else:
                    echoes.append(AwarenessEntry.of(e.client_id, gone[0], None))
            elif held[2] == owner or (e.clock > held[0] and self._lapsed(held, now)):
                allowed.add(e.client_id)
            elif e.clock > held[0]:
                newer.append(e)
        restricted = restrict_awareness_update(message, allowed)
        taken = self._take(owner, restricted, now) if restricted and restricted.entries else None
        if not isinstance(owner, bytes):
            for entry in newer:
                self._wait_for(owner, entry)
            if echoes:
                owner.send(encode_awareness(echoes))
        return taken

    def _take(
        self, owner: Peer | bytes, message: AwarenessUpdate, now: float
    ) -> AwarenessUpdate | None:
        """Record the entries of ``message``, which ``owner`` may speak for (see
        ``_owned_by``), and return those taken."""
        if not isinstance(owner, bytes):
            self._check_holdings(owner, message)
        room_for = self._limits.max_awareness_entries
        taken: list[int] = []
        dropped = 0
        for entry in message.entries:
            cid = entry.client_id
            if (waiting := self._waiting.get(cid)) is not None and waiting[2] is owner:
                self._unwait(cid)  # (it speaks for the id: it need not wait for it)
            if entry.state is None:  # (its clock is one past the last: y-protocols' removal)
                held = self._awareness.get(cid)
                self._release(cid)
                if held is not None and self._hand_over(cid, held[0]):
                    continue  # the waiting state replaces the removal
                self._bury(cid, entry.clock if held is None else max(entry.clock, held[0]), now)
            elif cid in self._awareness or len(self._awareness) < room_for:
                self._hold(cid, (entry.clock, entry.state_json, owner, now))
            else:
                dropped += 1  # the room is full: a new id waits for a place
                continue
            taken.append(cid)
        if dropped:
            self._metrics.awareness_dropped.inc(dropped)
        if len(taken) < len(message.entries):
            return restrict_awareness_update(message, set(taken))
        return message

    def _lapsed(self, held: tuple[int, str, Peer | bytes, float], now: float) -> bool:
        """Whether another node's hold on a client id is over: its state was not renewed for
        ``AWARENESS_OUTDATED`` seconds, or the node missed its hellos for
        ``SILENT_KEEPALIVES`` keepalives (presumed gone: its clients are reconnecting). A
        local peer's hold, or a live node's renewed one, stands."""
        node = held[2]
        if not isinstance(node, bytes):
            return False
        heard = self._nodes.get(node)
        return (
            now - held[3] > AWARENESS_OUTDATED
            or heard is None
            or now - heard > SILENT_KEEPALIVES * self._limits.keepalive
        )

    def _wait_for(self, peer: Peer, entry: AwarenessEntry) -> None:
        """Remember ``peer``'s state for a client id another owner holds (a client that
        reconnected before its old connection or node let go), to take it the moment the id
        is free (``_hand_over``). A peer waits with one state per id it could still hold, the
        latest; a claim (its own or another peer's) replaces the waiting one only with a
        higher clock, as y-protocols clients judge states; a removal withdraws it."""
        cid = entry.client_id
        waiting = self._waiting.get(cid)
        if entry.state is None:
            if waiting is not None and waiting[2] is peer:
                self._unwait(cid)
            return
        if waiting is not None and entry.clock <= waiting[0]:
            return  # (a tie keeps the first)
        ids = self._waits.get(peer, set())
        if cid not in ids and (
            self._holdings.get(peer, 0) + len(ids) >= self._limits.awareness_ids_per_peer
        ):
            return  # no id left that it could hold
        if waiting is not None:
            self._unwait(cid)
        self._waiting[cid] = (entry.clock, entry.state_json, peer)
        self._waits.setdefault(peer, set()).add(cid)

    def _unwait(self, cid: int) -> tuple[int, str, Peer] | None:
        waiting = self._waiting.pop(cid, None)
        if waiting is not None:
            ids = self._waits[waiting[2]]
            ids.discard(cid)
            if not ids:
                del self._waits[waiting[2]]
        return waiting

    def _hand_over(self, cid: int, clock: int) -> bool:
        """Give a client id being let go (its state at ``clock``) to the peer waiting for it,
        if any, with a newer state, and room for one more id: True if it took it, and then
        no removal of the old state is sent here: ``_publish_claimed`` sends the new one."""
        waiting = self._unwait(cid)
        if waiting is None:
            return False
        new_clock, state, peer = waiting
        if (
            new_clock <= clock
            or self._holdings.get(peer, 0) >= self._limits.awareness_ids_per_peer
            or (
                cid not in self._awareness
                and len(self._awareness) >= self._limits.max_awareness_entries
            )
        ):
            return False
        self._hold(cid, (new_clock, state, peer, time.monotonic()))
        self._claimed[cid] = clock
        return True

    def _take_from_silent(self) -> None:
        """Hand the ids local peers wait for over to them once their node falls silent."""
        if self._waiting:
            now = time.monotonic()
            for cid, (clock, _, _) in list(self._waiting.items()):
                held = self._awareness.get(cid)
                if held is None or (clock > held[0] and self._lapsed(held, now)):
                    self._hand_over(cid, -1 if held is None else held[0])

    async def _publish_claimed(self) -> None:
        """Send the local peers, and publish, the states handed over to waiting peers (those
        still held: a peer may have renewed or left since).

        Other nodes may have told their peers that the old state left (its clock + 1, which
        a reconnected client's next state often has too): y-protocols clients take no state
        with a clock not past a removal's. So the new owner is told of that removal as well,
        and a y-protocols client answers a removal of itself with its state and a clock past
        it, which every node relays."""
        while self._claimed:
            claimed, self._claimed = self._claimed, {}
            states: list[AwarenessEntry] = []
            for cid, replaced in claimed.items():
                held = self._awareness.get(cid)
                if held is None or isinstance(held[2], bytes):
                    continue
                states.append(AwarenessEntry(cid, held[0], held[1], json.loads(held[1])))
                if replaced >= 0:
                    held[2].send(encode_awareness_removal({cid: replaced}))
            if states:
                out = encode_awareness(states)
                self._broadcast(out, exclude=None)
                await self._publish(Kind.AWARENESS, out)

    def _check_holdings(self, peer: Peer, message: AwarenessUpdate) -> None:
        """Raise AwarenessLimit if taking ``message`` (its entries ``peer`` may speak for)
        would leave ``peer`` holding more than ``awareness_ids_per_peer`` client ids."""
        holding = self._holdings.get(peer, 0)
        for entry in message.entries:
            held = self._awareness.get(entry.client_id)
            mine = held is not None and held[2] == peer
            if entry.state is None and mine:
                holding -= 1
            elif entry.state is not None and not mine:
                holding += 1
        if holding > self._limits.awareness_ids_per_peer:
            raise AwarenessLimit(
                f"awareness for {holding} client ids: a connection may speak for "
                f"{self._limits.awareness_ids_per_peer}"
            )

    def _hold(self, cid: int, entry: tuple[int, str, Peer | bytes, float]) -> None:
        self._release(cid)
        self._gone.pop(cid, None)
        self._awareness[cid] = entry
        self._holdings[entry[2]] = self._holdings.get(entry[2], 0) + 1

    def _release(self, cid: int) -> None:
        held = self._awareness.pop(cid, None)
        if held is not None:
            left = self._holdings.pop(held[2]) - 1
            if left:
                self._holdings[held[2]] = left

    def _bury(self, cid: int, removed_at: int, now: float) -> None:
        """Remember that ``cid`` was let go with a removal at clock ``removed_at``: a state
        no newer (a client's relay of one it learned before the removal) is an echo, as a
        y-protocols client that saw the removal judges it. Without this, such an echo after
        the removal would make its sender the id's owner, and a local owner's hold never
        lapses. Remembered for ``AWARENESS_OUTDATED`` seconds, ``max_awareness_entries`` ids
        at most (the oldest forgotten first)."""
        self._gone.pop(cid, None)
        self._gone[cid] = (min(removed_at, MAX_SAFE_INTEGER), now)
        if len(self._gone) > self._limits.max_awareness_entries:
            del self._gone[next(iter(self._gone))]

    def _forget_departures(self) -> None:
        """Forget the ids let go more than ``AWARENESS_OUTDATED`` seconds ago."""
        horizon = time.monotonic() - AWARENESS_OUTDATED
        while self._gone:
            cid, (_, at) = next(iter(self._gone.items()))
            if at >= horizon:
                return
            del self._gone[cid]

    def _drop_awareness_of(self, owner: Peer | bytes) -> bytes | None:
        """Forget the awareness states of ``owner`` (a local peer or another node) and tell
        the local peers they left; return that removal, or None if it owned none."""
        if owner not in self._holdings:
            return None
        return self._let_go(
            {cid: entry[0] for cid, entry in self._awareness.items() if entry[2] == owner}
        )

    def _let_go(self, states: dict[int, int]) -> bytes | None:
        """Let go of client ids (id -> clock of its last state): each goes to a local peer
        waiting for it, or is remembered as departed and its removal sent to the local peers;
        return that removal, or None if every id was handed over."""
        for cid in states:
            self._release(cid)
        now = time.monotonic()
        removed: dict[int, int] = {}
        for cid, clock in states.items():
            if not self._hand_over(cid, clock):
                self._bury(cid, clock + 1, now)
                removed[cid] = clock
        if not removed:
            return None
        removal = encode_awareness_removal(removed)
        self._broadcast(removal, exclude=None)
        return removal

    def _drop_lapsed(self) -> None:
        """Drop the states another node has not renewed for ``AWARENESS_OUTDATED`` seconds (its
        client left, and the removal was lost on the bus) and tell the local peers they left:
        kept, they would go on reaching newcomers, whose clients echo them back."""
        if not any(isinstance(owner, bytes) for owner in self._holdings):
            return
        horizon = time.monotonic() - AWARENESS_OUTDATED
        self._let_go(
            {
                cid: clock
                for cid, (clock, _, owner, set_at) in self._awareness.items()
                if isinstance(owner, bytes) and set_at < horizon
            }
        )

    def _awareness_snapshot(self) -> bytes:
        return encode_awareness(
            [
                AwarenessEntry(cid, clock, state, json.loads(state))
                for cid, (clock, state, _, _) in self._awareness.items()
            ]
        )

    # -- fan-out ---------------------------------------------------------------------------

    def _broadcast(self, message: bytes, *, exclude: Peer | None) -> None:
        for peer in self.peers:
            if peer is not exclude:
                peer.send(message)
        self._metrics.messages_out.inc(len(self.peers) - (exclude in self.peers))

    async def _publish(self, kind: Kind, payload: bytes) -> None:
        if kind is Kind.CONTROL or self.shared:
            await self._bus.publish(self.id, encode_frame(kind, self._node, payload))

    async def on_bus_message(self, data: bytes) -> None:
        """A message another node accepted (and persisted, for updates)."""
        try:
            frame = decode_frame(data)
        except ValueError:
            _log.warning("bad_bus_frame", room=self.id.key)
            return
        if frame.origin == self._node:
            return
        await self._heard_from(frame)
        if frame.kind is not Kind.HELLO:
            self._metrics.fanout_latency.observe(max(0.0, time.time() - frame.sent_at))
            if frame.kind is Kind.UPDATE:
                self._apply_remote_update(frame)
            elif frame.kind is Kind.AWARENESS:
                self._apply_remote_awareness(frame)
            else:
                self._apply_remote_control(json.loads(frame.payload))
        await self._publish_claimed()  # ids its GONE or removals let go, handed over here

    def _apply_remote_update(self, frame: Frame) -> None:
        message = parse_message(frame.payload, max_update_bytes=self._limits.max_document_bytes)
        assert isinstance(message, SyncUpdate)
        self._apply(message.update, ORIGIN_REMOTE)
        self.size += len(message.update)
        self._broadcast(frame.payload, exclude=None)

    def _apply_remote_awareness(self, frame: Frame) -> None:
        """Another node's peers' states: its node speaks for them as a local peer would (see
        ``_owned_by``); the local peers get the entries taken, never a state of theirs."""
        message = parse_message(frame.payload, max_update_bytes=self._limits.max_update_bytes)
        assert isinstance(message, AwarenessUpdate)
        taken = self._owned_by(frame.origin, message)
        if taken is not None:
            self._broadcast(
                frame.payload if taken is message else encode_awareness(taken), exclude=None
            )

    def _apply_state(self, user: str, state: str, at: float | None) -> None:
        """An access change of ``user`` made at ``at``: it applies to their live connections
        at once, unless a change made later was applied here already (None: a change that
        gives no time applies as it comes)."""
        if at is not None:
            if at < self._access_at.get(user, -math.inf):
                return
            self._access_at[user] = at
        for peer in [p for p in self.peers | self._admitted if p.user_id == user]:
            self._apply_access(peer, state)

    def _apply_access(self, peer: Peer, state: str) -> None:
        """An access change for ``peer``: a role, or "revoked" (closed with 4403)."""
        peer.access_changes += 1
        if state == "revoked":
            peer.kick(4403, "access revoked")
        else:
            self.allow_writes(peer, state == "write")

    def allow_writes(self, peer: Peer, can_write: bool) -> None:
        """Let ``peer`` write or not. A peer whose edits were dropped while it could not
        write still has them in its document, and its later edits build on them: the others
        would hold those back as incomplete, for good. So a peer allowed to write again after
        that is sent our state vector, and its client answers with everything we lack, the
        dropped edits included, as it would on a reconnect."""
        if not can_write:
            if peer.can_write:
                self._lost_writes_at[peer] = time.monotonic()
            peer.can_write = False
            return
        peer.can_write = True
        self._lost_writes_at.pop(peer, None)
        self._cancel_take_back(peer)  # in time: it keeps what it typed, sent as below
        if peer.refused_edits and peer in self.peers:
            peer.refused_edits = False
            peer.send(encode_sync_step1(state_vector(self.doc)))

    def _apply_remote_control(self, command: dict[str, Any]) -> None:
        """Another node's access change. The bus may deliver two changes of one user out of
        order (right after a Redis Cluster failover a room's messages can reach the other
        nodes by two paths), so a change older than the last one applied here for that user
        (by the times the nodes that made them give) is dropped: the newer one stands. A
        frame without a time (a node of an earlier version) applies as it comes. No Redis
        read here: this runs on the bus reader, which every room's fan-out waits for."""
        at = command.get("at")
        self._apply_state(
            str(command.get("user", "")),
            _access_state(command),
            at if isinstance(at, int | float) else None,
        )

    async def control(self, command: dict[str, str]) -> None:
        """Apply a control command here and on every other node holding the room, and
        remember it, so that tickets issued before it cannot undo it on a reconnect (and
        a catch-up repairs a node whose copy of the command the bus dropped). The frame
        carries the change's time, for the other nodes to tell it from a later one."""
        user, state, at = command.get("user", ""), _access_state(command), time.time()
        await self._access.record(self.id, user, state, at)
        self._apply_state(user, state, at)  # (unless overtaken meanwhile)
        await self._publish(Kind.CONTROL, json.dumps({**command, "at": at}).encode())

    async def _reapply_access(self) -> None:
        """Judge the local peers against the access ledger, as their tickets would be on a
        reconnect: the ledger is the only copy of a control command the bus dropped. A peer
        that an access change reached during the read keeps what that change set."""
        seen = {peer: peer.access_changes for peer in self.peers | self._admitted}
        changes = await self._access.entries(self.id)
        for peer, changes_before in seen.items():
            state = change_since(
                changes.get(peer.user_id), peer.issued_at, skew=self._limits.clock_skew
            )
            if state is not None and peer.access_changes == changes_before:
                self._apply_access(peer, state)

    def request_catch_up(self) -> None:
        """Catch up in the background. A request made while a catch-up runs is served by
        one more after it (that one reads what was committed after the running one read),
        however many requests came meanwhile."""
        if self._closed:
            return
        if self._catching_up is not None and not self._catching_up.done():
            self._catch_up_again = True
            return
        self._catching_up = asyncio.create_task(
            self._catch_up_while_asked(), name=f"catch-up:{self.id.key}"
        )

    async def _catch_up_while_asked(self) -> None:
        """Catch up until no one asked again meanwhile; a failed catch-up (the database or
        Redis away for a moment) is tried again with backoff, a few times."""
        failures = 0
        while True:
            self._catch_up_again = False
            try:
                await self.catch_up()
                failures = 0
            except Exception as exc:
                failures += 1
                _log.error(
                    "room_catch_up_failed", room=self.id.key, error=repr(exc), attempt=failures
                )
                if failures < CATCH_UP_ATTEMPTS:
                    await asyncio.sleep(backoff_seconds(failures, base=0.2, cap=5.0))
                    self._catch_up_again = True
            if not self._catch_up_again:
                return

    async def catch_up(self) -> None:
        """Merge the room's stored state (latest snapshot and log) into memory, judge the
        local peers' access again, and send those still here what they lacked, in one
        message: after a gap on the bus, or when another node may have kept messages from
        us. Reading all of the state, not a recent window, covers gaps of any length and
        updates that compaction has already moved into a snapshot. The two reads overlap;
        access is judged first, so a peer whose revoke the bus dropped hears nothing more.
        If the ledger cannot be read, the document is repaired and sent all the same and the
        error raised after it, so the catch-up is tried again for access: a peer whose revoke
        is not known yet gets the missed updates then, as it gets every live update until
        its access is judged; holding them back would leave every other peer behind."""
        stored, judged = await asyncio.gather(
            self._log.load(self.id),
            self._reapply_access(),
            return_exceptions=True,
        )
        if isinstance(stored, BaseException):
            raise stored
        before = state_vector(self.doc)
        # A diff carries every struct we lacked and the whole delete set (deletions may come
        # without new structs): compare it before and after to know whether anything changed.
        unchanged = self.doc.get_update(before)
        self._merge(stored)
        diff = self.doc.get_update(before)
        if diff != unchanged:
            self._broadcast(encode_update(diff), exclude=None)
        if isinstance(judged, BaseException):
            raise judged


def _access_state(command: Mapping[str, Any]) -> str:
    """The access ledger's state for a control command: a role, or "revoked"."""
    return "revoked" if command.get("type") == "revoke" else str(command.get("role", "read"))
