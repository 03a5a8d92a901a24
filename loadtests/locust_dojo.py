"""Locust: people editing dojos over the y-websocket protocol, against any server URL.

    uv run locust -f loadtests/locust_dojo.py --headless -u 40 -r 10 -t 1m \\
        --host ws://127.0.0.1:1234

Each user joins a room (users are dealt over DOJO_ROOMS rooms), syncs, then types: every
task inserts a marker at a random place and sends the update. Request events (type "yjs"):
- "connect+sync": opening the connection until the server's SyncStep2 is applied;
- "edit round-trip": the update plus a SyncStep1 probe until the SyncStep2 answer, i.e.
  until the server has taken the edit in (any server answers SyncStep1; DOJO_ACK=0 skips);
- "edit to peer": for users of this process in the same room, the time from a peer's edit
  to its arrival here (markers carry the sender's clock: same host only).

Environment: DOJO_ROOMS (default 10), DOJO_PARAMS ("k=v&k2=v2" added to every URL),
DOJO_TICKET_KEY (Ed25519 PEM: mint a ticket per connection, rooms become
"<tenant>:<room>"), DOJO_TENANT (default: a fixed id, so that workers share rooms),
DOJO_TEXT (shared text name, default "text"), DOJO_TICKET_TTL (seconds a minted ticket lasts,
default 900: each connection sends a fresh one, as a text frame, halfway through).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import random
import re
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import gevent
from gevent.event import Event
from locust import User, between, task
from pycrdt import Doc, Text
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from crdt import encode_state_as_update, encode_sync_step1, encode_sync_step2, encode_update
from loadtests.tickets import RoomAddressing, TicketMinter, load_private_key
from loadtests.ywire import (
    MAX_FRAME_BYTES,
    MSG_SYNC,
    SYNC_STEP1,
    SYNC_STEP2,
    SYNC_UPDATE,
    room_url,
    split_message,
)

MARKER = re.compile(rb"<([0-9a-f]+)\.([0-9a-f]+)>")
ACK_TIMEOUT = 10.0
_user_ids = itertools.count()


def _addressing() -> RoomAddressing:
    params = dict(parse_qsl(os.environ.get("DOJO_PARAMS", "")))
    key = os.environ.get("DOJO_TICKET_KEY")
    if not key:
        return RoomAddressing(params)
    tenant = uuid.UUID(os.environ.get("DOJO_TENANT", str(uuid.uuid5(uuid.NAMESPACE_URL, "mrbill"))))
    ttl = int(os.environ.get("DOJO_TICKET_TTL", "900"))
    minter = TicketMinter(load_private_key(Path(key)), tenant=tenant, ttl_seconds=ttl)
    return RoomAddressing(params, minter)


ADDRESSING = _addressing()


class DojoEditor(User):
    """One participant: a pycrdt document kept in sync over one WebSocket."""

    wait_time = between(0.2, 1.0)
    host = "ws://127.0.0.1:1234"

    def on_start(self) -> None:
        self.ident = next(_user_ids) + 1_000_000 * os.getpid()
        name = f"dojo-{self.ident % int(os.environ.get('DOJO_ROOMS', '10'))}"
        self.doc: Doc[Any] = Doc()
        self.text = self.doc.get(os.environ.get("DOJO_TEXT", "text"), type=Text)
        self.synced = Event()
        self.ack_waiting: Event | None = None
        self.ack = os.environ.get("DOJO_ACK", "1") != "0"
        user = uuid.uuid4()
        url = room_url(self.host or "", ADDRESSING.room(name), ADDRESSING.query(name, user=user))
        self.connection = contextlib.ExitStack()
        started = time.perf_counter()
        try:
            self.ws: ClientConnection = self.connection.enter_context(
                connect(url, compression=None, max_size=MAX_FRAME_BYTES, open_timeout=10)
            )
            self.ws.send(encode_sync_step1(self.doc.get_state()))
            self.reader = gevent.spawn(self._read)
            if ADDRESSING.minter is not None:  # a run may outlast a ticket: renew it
                self.renewer = gevent.spawn(self._renew_tickets, ADDRESSING.minter, name, user)
            if not self.synced.wait(ACK_TIMEOUT):
                raise TimeoutError("no SyncStep2 from the server")
        except Exception as exc:
            self._fire("connect+sync", started, exc)
            raise
        self._fire("connect+sync", started)

    def on_stop(self) -> None:
        renewer = getattr(self, "renewer", None)
        if renewer is not None:
            renewer.kill()
        self.connection.close()
        reader = getattr(self, "reader", None)
        if reader is not None:
            reader.join(timeout=5)

    def _fire(self, name: str, started: float, exc: BaseException | None = None) -> None:
        self.environment.events.request.fire(
            request_type="yjs",
            name=name,
            response_time=(time.perf_counter() - started) * 1000,
            response_length=0,
            exception=exc,
            context={},
        )

    def _renew_tickets(self, minter: TicketMinter, name: str, user: uuid.UUID) -> None:
        """Send a fresh ticket for the same room and user halfway through each one's life
        (at least ``ttl - 1`` seconds: its times are whole seconds)."""
        while True:
            gevent.sleep(max(0.5, (minter.ttl_seconds - 1) / 2))
            try:
                self.ws.send(minter.ticket(name, user=user))
            except ConnectionClosed:
                return

    def _read(self) -> None:
        try:
            for frame in self.ws:
                if isinstance(frame, bytes):
                    self._handle(frame)
        except ConnectionClosed:
            pass

    def _handle(self, frame: bytes) -> None:
        received_us = time.time_ns() // 1000
        kind, step, payload = split_message(frame)
        if kind != MSG_SYNC:
            return
        if step == SYNC_STEP1:
            self.ws.send(encode_sync_step2(encode_state_as_update(self.doc, payload)))
            return
        self.doc.apply_update(payload)
        if step == SYNC_STEP2:
            self.synced.set()
            if self.ack_waiting is not None:
                self.ack_waiting.set()
        elif step == SYNC_UPDATE:
            for match in MARKER.finditer(payload):
                if int(match[1], 16) != self.ident:
                    latency_ms = (received_us - int(match[2], 16)) / 1000
                    self.environment.events.request.fire(
                        request_type="yjs",
                        name="edit to peer",
                        response_time=latency_ms,
                        response_length=len(payload),
                        exception=None,
                        context={},
                    )

    @task
    def type_something(self) -> None:
        marker = f"<{self.ident:x}.{time.time_ns() // 1000:x}>"
        started = time.perf_counter()
        before = self.doc.get_state()
        self.text.insert(random.randint(0, len(self.text)), marker)
        self.ws.send(encode_update(self.doc.get_update(before)))
        if not self.ack:
            return
        self.ack_waiting = Event()
        self.ws.send(encode_sync_step1(self.doc.get_state()))
        answered = self.ack_waiting.wait(ACK_TIMEOUT)
        self.ack_waiting = None
        self._fire("edit round-trip", started, None if answered else TimeoutError("no SyncStep2"))
