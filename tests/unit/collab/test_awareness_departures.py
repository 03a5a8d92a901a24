"""A client id let go (its connection left, its node left or fell silent, its state lapsed)
is remembered for a while with the clock of its removal: a y-websocket client relays every
change it learns, so an older state of a departed client may come back after its removal,
and it is an echo, never a claim, as y-protocols clients judge it. Removals of states no
one holds are not relayed (every client echoes every removal once)."""

from __future__ import annotations

from rooms import Room
from rooms import room as room_module
from rooms.frames import GONE, Kind, encode_frame, new_node_id

from .test_awareness_claims import Clock, _entries, _from, _hello, _joined, _room, _state
from .test_awareness_claims import clock as clock  # (the fixture)
from .test_room_lifecycle import Listener

Q = 500  # the client id of the peer that echoes


async def _depart(room: Room, cid: int, echoing: Listener) -> None:
    """A client shows (clock 1), clears its cursor (clock 2) and its socket closes (its
    removal: clock 3); the echoing peer's relay of the clock-2 state arrives after that."""
    leaving = _joined(room)
    await room.receive(leaving, _state(cid, 1, {"user": cid, "cursor": 1}))
    await room.receive(leaving, _state(cid, 2, {"user": cid, "cursor": None}))
    await room.leave(leaving)
    await room.receive(echoing, _state(cid, 2, {"user": cid, "cursor": None}))


async def test_an_echo_of_a_departed_clients_state_is_no_claim_on_its_id(clock: Clock) -> None:
    room, _ = await _room()
    echoing, witness = _joined(room), _joined(room)
    await room.receive(echoing, _state(Q, 1, {"user": "q"}))
    for cid in range(100, 105):  # more departures than the ids a peer may hold
        witness.sent.clear()
        await _depart(room, cid, echoing)
        assert _entries(witness.sent)[-1] == (cid, 3, None)  # the removal, not the echo
    await room.receive(echoing, _state(Q, 2, {"user": "q", "still": "here"}))
    assert _entries(witness.sent)[-1] == (Q, 2, {"user": "q", "still": "here"})
    assert echoing.closed_with is None

    newcomer = _joined(room)
    assert [cid for cid, _, _ in _entries(newcomer.sent)] == [Q]


async def test_a_removal_is_relayed_from_its_owner_only(clock: Clock) -> None:
    """Every client echoes every removal it learns: relayed, each echo would reach every
    peer (peers squared messages per departure)."""
    room, published = await _room()
    await _hello(room, new_node_id())  # (so that the room publishes)
    echoing, witness = _joined(room), _joined(room)
    await _depart(room, 100, echoing)
    witness.sent.clear()
    published.clear()
    await room.receive(echoing, _state(100, 3, None))
    assert _entries(witness.sent) == []
    assert published == []

    leaving = _joined(room)
    await room.receive(leaving, _state(101, 1, {"user": "b"}))
    await room.receive(leaving, _state(101, 2, None))  # it says it leaves
    assert _entries(witness.sent)[-1] == (101, 2, None)


async def test_the_echoing_peer_is_told_of_the_removal_and_the_client_back_is_taken(
    clock: Clock,
) -> None:
    """A client whose socket closed reconnects and sends its state with the clock it had:
    it is told of its removal (a y-protocols client answers with a clock past it), and its
    answer is taken."""
    room, _ = await _room()
    witness = _joined(room)
    old = _joined(room)
    await room.receive(old, _state(7, 4, {"user": "y"}))
    await room.leave(old)
    back = _joined(room)
    witness.sent.clear()
    await room.receive(back, _state(7, 4, {"user": "y"}))
    assert _entries(witness.sent) == []
    assert _entries(back.sent)[-1] == (7, 5, None)
    await room.receive(back, _state(7, 6, {"user": "y"}))
    assert _entries(witness.sent) == [(7, 6, {"user": "y"})]


async def test_an_echo_after_another_nodes_removal_or_gone_is_no_claim(clock: Clock) -> None:
    room, published = await _room()
    echoing, witness = _joined(room), _joined(room)
    node = new_node_id()
    await _hello(room, node)
    await _from(room, node, _state(100, 2, {"user": "a"}))
    await _from(room, node, _state(101, 2, {"user": "b"}))
    await _from(room, node, _state(100, 3, None))  # its client left
    await room.on_bus_message(encode_frame(Kind.HELLO, node, GONE))  # then the node
    witness.sent.clear()
    published.clear()
    await room.receive(echoing, _state(100, 2, {"user": "a"}))
    await room.receive(echoing, _state(101, 2, {"user": "b"}))
    assert _entries(witness.sent) == []
    assert published == []

    # Another node judges its own peers' states: a state it publishes for an id it handed
    # over to a waiting client may have the clock of the removal (see ``_publish_claimed``).
    await _from(room, new_node_id(), _state(101, 3, {"user": "b", "moved": True}))
    assert _entries(witness.sent) == [(101, 3, {"user": "b", "moved": True})]


async def test_departures_are_remembered_for_a_while_and_a_bounded_number(clock: Clock) -> None:
    """Past ``AWARENESS_OUTDATED`` seconds, or past ``max_awareness_entries`` departures
    since (the oldest forgotten first), the id is as free as one never seen."""
    room, _ = await _room(max_awareness_entries=2)
    echoing, witness = _joined(room), _joined(room)
    for cid in (1, 2, 3):
        leaving = _joined(room)
        await room.receive(leaving, _state(cid, 1, {"user": cid}))
        await room.leave(leaving)
    witness.sent.clear()
    await room.receive(echoing, _state(2, 1, {"user": 2}))
    assert _entries(witness.sent) == []
    await room.receive(echoing, _state(1, 1, {"user": 1}))  # forgotten: the third pushed it out
    assert _entries(witness.sent) == [(1, 1, {"user": 1})]
    await room.receive(echoing, _state(1, 2, None))

    clock.now += room_module.AWARENESS_OUTDATED + 1
    witness.sent.clear()
    await room.receive(echoing, _state(2, 1, {"user": 2}))
    assert _entries(witness.sent) == [(2, 1, {"user": 2})]
    await room.receive(echoing, _state(2, 2, None))

    clock.now += room_module.AWARENESS_OUTDATED + 1
    await room.keep_alive()
    assert room._gone == {}  # pruned
