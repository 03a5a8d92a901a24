"""A peer's frames go to its socket once per pass of the event loop: one system call for
several messages, in order, with the send queue's budget still counting what waits."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from aiohttp import web

from collab_server.deadlines import Deadlines
from collab_server.peer import NOTHING, Outbox, WsPeer, binary_frame
from crdt import encode_awareness
from rooms import RoomMetrics


class SocketTransport:
    """Stands in for the socket's transport, recording each call that would be a system call."""

    def __init__(self, unsent: int = 0) -> None:
        self.calls: list[list[bytes]] = []
        self.unsent = unsent

    def write(self, data: bytes) -> None:
        self.calls.append([data])

    def writelines(self, chunks: list[bytes]) -> None:
        self.calls.append(list(chunks))

    def get_write_buffer_size(self) -> int:
        return self.unsent

    def is_closing(self) -> bool:
        return False


class ClosingSocket:
    def __init__(self) -> None:
        self.closed = False
        self.closed_with: int | None = None

    async def close(self, *, code: int, message: bytes) -> bool:
        self.closed, self.closed_with = True, code
        return True


def _peer(transport: SocketTransport, outbox: Outbox, *, budget: int = 1 << 20) -> WsPeer:
    return WsPeer(
        cast(web.WebSocketResponse, ClosingSocket()),
        cast(Any, transport),
        user_id="u",
        issued_at=0.0,
        can_write=True,
        max_queue_bytes=budget,
        metrics=RoomMetrics(),
        deadlines=Deadlines(),
        outbox=outbox,
    )


async def _next_pass() -> None:
    await asyncio.sleep(0)
    await asyncio.sleep(0)


async def test_messages_of_one_pass_leave_in_one_call_in_order() -> None:
    outbox = Outbox()
    first, second = SocketTransport(), SocketTransport()
    a, b = _peer(first, outbox), _peer(second, outbox)
    for message in (b"one", b"two", b"three"):
        a.send(message)
    b.send(b"solo")
    assert first.calls == []
    assert second.calls == []
    await _next_pass()
    assert first.calls == [[binary_frame(b"one"), binary_frame(b"two"), binary_frame(b"three")]]
    assert second.calls == [[binary_frame(b"solo")]]
    a.send(b"four")  # the next pass starts a new queue
    await _next_pass()
    assert first.calls[1:] == [[binary_frame(b"four")]]


async def test_a_queue_of_64_kib_goes_out_at_once() -> None:
    transport = SocketTransport()
    peer = _peer(transport, Outbox())
    chunk = b"x" * 40_000
    peer.send(chunk)
    assert transport.calls == []
    peer.send(chunk)  # 80 kB queued: written now, not at the end of the pass
    assert transport.calls == [[binary_frame(chunk), binary_frame(chunk)]]
    big = b"y" * 100_000
    peer.send(big)  # header and payload, without a copy
    assert transport.calls[1] == [binary_frame(big)[:10], big]
    await _next_pass()
    assert len(transport.calls) == 2


async def test_what_waits_in_the_queue_counts_toward_the_budget() -> None:
    transport = SocketTransport(unsent=5_000)
    peer = _peer(transport, Outbox(), budget=8_000)
    peer.send(b"a" * 2_000)
    peer.send(b"b" * 2_000)  # 5,000 unsent + 4,000 queued: over the budget
    assert peer.close_request is not None
    assert peer.close_request[0] == 1013
    peer.send(b"c")  # a kicked peer takes nothing more
    await _next_pass()
    assert transport.calls == [[binary_frame(b"a" * 2_000)]]


class BrokenSocketTransport(SocketTransport):
    def write(self, data: bytes) -> None:
        raise RuntimeError("the socket broke under this write")

    def writelines(self, chunks: list[bytes]) -> None:
        raise RuntimeError("the socket broke under this write")


async def test_one_broken_socket_keeps_no_other_peer_waiting() -> None:
    outbox = Outbox()
    healthy = SocketTransport()
    broken, fine = _peer(BrokenSocketTransport(), outbox), _peer(healthy, outbox)
    broken.send(b"lost")
    fine.send(b"kept")
    await _next_pass()
    assert healthy.calls == [[binary_frame(b"kept")]]
    broken.send(b"again")  # the broken peer's queue was not left half-sent either
    fine.send(b"next")
    await _next_pass()
    assert healthy.calls[1:] == [[binary_frame(b"next")]]


async def test_a_large_message_a_broken_socket_refuses_still_reaches_the_next_peer() -> None:
    """Past 64 KiB a peer writes as it is sent to, inside the room's broadcast: the write
    failing must not end the broadcast (the peers after it would miss the update, the other
    nodes too, and the sender would be told it was not stored). The broken peer missed it,
    so it is told to resync."""
    outbox = Outbox()
    healthy = SocketTransport()
    broken, fine = _peer(BrokenSocketTransport(), outbox), _peer(healthy, outbox)
    paste = b"p" * 100_000
    for peer in (broken, fine):  # as Room._broadcast does
        peer.send(paste)
    assert healthy.calls == [[binary_frame(paste)[:10], paste]]
    assert broken.close_request is not None
    assert broken.close_request[0] == 1011
    await broken.wait_closed(within=1.0)


async def test_one_message_larger_than_the_budget_reaches_an_idle_peer() -> None:
    """A whole document for a newcomer may be larger than the send queue's budget (8 MiB
    against 16 MiB documents): the budget is for a backlog, not for one message."""
    transport = SocketTransport()
    peer = _peer(transport, Outbox(), budget=8_000)
    document = b"d" * 20_000
    peer.send(document)
    assert peer.close_request is None
    await _next_pass()
    assert transport.calls == [[binary_frame(document)]]


async def test_a_large_message_on_its_way_does_not_count_for_what_follows() -> None:
    """Updates sent while the large message drains are measured against the budget alone:
    the peer is evicted only once they make a backlog of their own."""
    transport = SocketTransport()
    peer = _peer(transport, Outbox(), budget=8_000)
    peer.send(b"d" * 20_000)
    await _next_pass()
    transport.unsent = 20_004  # the whole frame still waits in the socket's buffer
    peer.send(b"u" * 3_000)
    await _next_pass()
    transport.unsent = 15_000 + 3_002  # draining: part of the document, then the update
    peer.send(b"v" * 3_000)
    assert peer.close_request is None
    await _next_pass()
    transport.unsent = 6_004  # the document has left; two updates wait behind it
    peer.send(b"w" * 1_000)
    assert peer.close_request is None
    await _next_pass()
    transport.unsent = 7_006  # a backlog of updates alone past the budget: evicted
    peer.send(b"x" * 1_000)
    assert peer.close_request is not None
    assert peer.close_request[0] == 1013


async def test_a_second_large_message_behind_the_first_is_a_backlog() -> None:
    transport = SocketTransport()
    peer = _peer(transport, Outbox(), budget=8_000)
    peer.send(b"d" * 20_000)
    await _next_pass()
    transport.unsent = 20_004
    peer.send(b"e" * 20_000)
    assert peer.close_request is not None
    assert peer.close_request[0] == 1013


async def test_a_second_large_message_is_refused_however_little_of_the_first_is_left() -> None:
    """Only what is left of the first is set aside: a second one accepted while the first
    drains would be a backlog the moment the first had gone, and the next small update would
    evict a peer that keeps up. Refused when it is sent, it is one large message at a time."""
    transport = SocketTransport()
    peer = _peer(transport, Outbox(), budget=8_000)
    peer.send(b"d" * 20_000)
    await _next_pass()
    transport.unsent = 1_000  # most of the document is written
    peer.send(b"e" * 20_000)
    assert peer.close_request is not None
    assert peer.close_request[0] == 1013


async def test_updates_behind_a_draining_message_count_in_full() -> None:
    """What waits behind the large message is measured as it will be once the large message
    has gone: the update that makes it a backlog evicts, not a later one."""
    transport = SocketTransport()
    peer = _peer(transport, Outbox(), budget=8_000)
    peer.send(b"d" * 20_000)
    await _next_pass()
    transport.unsent = 1_000  # what is left of the document
    peer.send(b"u" * 3_000)
    await _next_pass()
    transport.unsent = 1_000 + 3_002
    peer.send(b"v" * 3_000)
    assert peer.close_request is None
    await _next_pass()
    transport.unsent = 1_000 + 6_004
    peer.send(b"w" * 3_000)  # 9,006 bytes behind the document: over the budget
    assert peer.close_request is not None
    assert peer.close_request[0] == 1013


async def test_a_large_message_after_the_first_has_left_is_one_at_a_time() -> None:
    transport = SocketTransport()
    peer = _peer(transport, Outbox(), budget=8_000)
    peer.send(b"d" * 20_000)
    await _next_pass()
    transport.unsent = 5_000  # what is left of the document
    peer.send(b"u" * 2_000)
    await _next_pass()
    transport.unsent = 2_002  # the document has left; the update sent after it waits
    peer.send(b"v" * 2_000)
    await _next_pass()
    transport.unsent = 4_004
    peer.send(b"e" * 20_000)  # the first has gone: this one is the large message now
    assert peer.close_request is None
    await _next_pass()
    transport.unsent = 24_008  # two updates ahead of it, then the whole of it
    peer.send(b"w" * 3_000)  # measured against the budget alone: 4,004 + 3,000
    assert peer.close_request is None
    await _next_pass()
    transport.unsent = 20_004 + 3_002  # the updates ahead have gone
    peer.send(b"x" * 4_000)  # 3,002 + 4,000 behind it
    assert peer.close_request is None
    await _next_pass()
    transport.unsent = 15_000 + 7_004
    peer.send(b"y" * 1_000)  # 7,004 + 1,000 behind it: over the budget
    assert peer.close_request is not None
    assert peer.close_request[0] == 1013


async def test_a_peer_sent_nothing_since_the_last_nudge_is_sent_a_message_that_changes_nothing() -> (
    None
):
    outbox = Outbox()
    transport = SocketTransport()
    peer = _peer(transport, outbox)
    peer.nudge()  # nothing sent yet
    await _next_pass()
    assert transport.calls == [[binary_frame(NOTHING)]]
    assert encode_awareness([]) == NOTHING
    peer.nudge()  # the nudge itself does not count as having been sent something
    await _next_pass()
    assert len(transport.calls) == 2
    peer.send(b"an update")
    peer.nudge()  # something was sent since the last nudge: no nudge
    await _next_pass()
    assert transport.calls[2:] == [[binary_frame(b"an update")]]
    peer.nudge()
    await _next_pass()
    assert transport.calls[3:] == [[binary_frame(NOTHING)]]
