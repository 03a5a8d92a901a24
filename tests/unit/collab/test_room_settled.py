"""A read of a room's document waits for the commits of the updates it holds, and only for
those: in a busy room some commit is always under way, and a sync answer or an internal
read must not wait for the end of the burst."""

from __future__ import annotations

import asyncio
import uuid

from pycrdt import Doc, Text

from crdt import (
    EMPTY_STATE_VECTOR,
    SyncStep2,
    apply_update_to_doc,
    encode_sync_step1,
    parse_message,
)
from rooms import (
    MemoryBus,
    MemoryUpdateLog,
    Room,
    RoomId,
    RoomLimits,
    RoomManager,
    RoomMetrics,
    new_node_id,
)

from .test_room_lifecycle import Listener


class GatedAppends(MemoryUpdateLog):
    """The in-memory update log, whose appends each wait for their own gate (``gates``, in
    the order the appends started); those whose index is in ``failing`` then fail."""

    def __init__(self) -> None:
        super().__init__()
        self.gates: list[asyncio.Event] = []
        self.failing: set[int] = set()

    async def append(self, room: RoomId, update: bytes) -> int:
        index = len(self.gates)
        self.gates.append(gate := asyncio.Event())
        await gate.wait()
        if index in self.failing:
            raise ConnectionError("the database is away for a moment")
        return await super().append(room, update)

    async def started(self, count: int) -> None:
        await _passes()
        assert len(self.gates) == count


class Writer:
    """A client's document: each edit is the update it would send."""

    def __init__(self) -> None:
        self.doc: Doc = Doc()
        self.text = self.doc.get("code", type=Text)

    def edit(self, text: str) -> bytes:
        before = self.doc.get_state()
        self.text += text
        return self.doc.get_update(before)


async def _room(log: MemoryUpdateLog) -> Room:
    manager = RoomManager(
        log, MemoryBus().node(), node_id=new_node_id(), limits=RoomLimits(), metrics=RoomMetrics()
    )
    return await manager.open(RoomId(uuid.uuid4(), "dojo"))


def _answers(peer: Listener) -> list[SyncStep2]:
    messages = (parse_message(m, max_update_bytes=1 << 20) for m in peer.sent)
    return [m for m in messages if isinstance(m, SyncStep2)]


async def _passes(count: int = 5) -> None:
    for _ in range(count):
        await asyncio.sleep(0)


async def _end(*tasks: asyncio.Task[None]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_a_commit_started_after_the_call_does_not_hold_it_up() -> None:
    log = GatedAppends()
    room = await _room(log)
    writer = Writer()
    first = asyncio.create_task(room.apply_and_share(writer.edit("a"), origin=None))
    await log.started(1)
    settling = asyncio.create_task(room.settled())
    second = asyncio.create_task(room.apply_and_share(writer.edit("b"), origin=None))
    await log.started(2)  # and never committed
    await _passes()
    assert not settling.done(), "returned before the commit under way when called"
    log.gates[0].set()
    await asyncio.wait_for(settling, 1)
    await first
    assert not room.broken
    await _end(second)


async def test_a_steady_stream_of_overlapping_commits_holds_up_no_one() -> None:
    """Each commit starts before the one before it ends: there is never a moment with none
    under way, and every read still returns once the commits it could hold have ended."""
    log = GatedAppends()
    room = await _room(log)
    writer = Writer()
    writes = [asyncio.create_task(room.apply_and_share(writer.edit("0"), origin=None))]
    await log.started(1)
    for n in range(1, 20):
        settling = asyncio.create_task(room.settled())
        writes.append(asyncio.create_task(room.apply_and_share(writer.edit(str(n)), origin=None)))
        await log.started(n + 1)
        log.gates[n - 1].set()
        await asyncio.wait_for(settling, 1)
    await _end(writes[-1])


async def test_a_commit_that_fails_under_way_leaves_the_room_broken_when_it_returns() -> None:
    log = GatedAppends()
    room = await _room(log)
    log.failing.add(0)
    failing = asyncio.create_task(room.apply_and_share(Writer().edit("lost"), origin=None))
    await log.started(1)
    settling = asyncio.create_task(room.settled())
    await _passes()
    log.gates[0].set()
    await asyncio.wait_for(settling, 1)
    assert room.broken
    await asyncio.gather(failing, return_exceptions=True)


async def test_a_newcomer_is_answered_what_is_committed_while_a_later_commit_is_under_way() -> None:
    """The answer holds the update whose commit was under way when the newcomer asked, sent
    once that commit lands; never the update whose commit started afterwards."""
    log = GatedAppends()
    room = await _room(log)
    writer = Writer()
    newcomer = Listener()
    room.admit(newcomer)
    room.greet(newcomer)
    first = asyncio.create_task(room.apply_and_share(writer.edit("kept"), origin=None))
    await log.started(1)
    asking = asyncio.create_task(room.receive(newcomer, encode_sync_step1(EMPTY_STATE_VECTOR)))
    second = asyncio.create_task(room.apply_and_share(writer.edit(" UNCOMMITTED"), origin=None))
    await log.started(2)
    await _passes()
    assert not asking.done(), "answered while the commit of what it holds was under way"
    log.gates[0].set()
    await asyncio.wait_for(asking, 1)
    await first
    answers = _answers(newcomer)
    assert len(answers) == 1
    doc: Doc = Doc()
    apply_update_to_doc(doc, answers[0].update, max_bytes=None)
    assert str(doc.get("code", type=Text)) == "kept"
    await _end(second)


async def test_a_newcomer_is_not_answered_when_the_commit_it_waited_for_fails() -> None:
    log = GatedAppends()
    room = await _room(log)
    newcomer = Listener()
    room.admit(newcomer)
    room.greet(newcomer)
    log.failing.add(0)
    failing = asyncio.create_task(room.apply_and_share(Writer().edit("lost"), origin=None))
    await log.started(1)
    asking = asyncio.create_task(room.receive(newcomer, encode_sync_step1(EMPTY_STATE_VECTOR)))
    await _passes()
    log.gates[0].set()
    await asyncio.wait_for(asking, 1)
    assert room.broken
    assert _answers(newcomer) == []
    await asyncio.gather(failing, return_exceptions=True)


class CountingDoc(Doc):
    """A document that counts its encodings of its whole state."""

    def __init__(self) -> None:
        super().__init__()
        self.whole_encodings = 0

    def get_update(self, state: bytes | None = None) -> bytes:
        if state is None or state == EMPTY_STATE_VECTOR:
            self.whole_encodings += 1
        return super().get_update(state)


async def test_the_whole_document_is_encoded_once_per_version_for_every_reader() -> None:
    """Internal reads and newcomers with nothing share one encoding of the whole document:
    Yrs keeps the GIL while it encodes, so each one stalls the node's loop. An edit makes
    the next read encode the document anew."""
    room = await _room(MemoryUpdateLog())
    room.doc = doc = CountingDoc()
    writer = Writer()
    await room.apply_and_share(writer.edit("kept"), origin=None)
    read = room.whole_update()
    newcomer = Listener()
    room.admit(newcomer)
    room.greet(newcomer)
    await room.receive(newcomer, encode_sync_step1(EMPTY_STATE_VECTOR))
    assert [a.update for a in _answers(newcomer)] == [read]
    assert room.whole_update() == read
    assert doc.whole_encodings == 1
    await room.apply_and_share(writer.edit(" and more"), origin=None)
    fresh: Doc = Doc()
    apply_update_to_doc(fresh, room.whole_update(), max_bytes=None)
    assert str(fresh.get("code", type=Text)) == "kept and more"
    assert doc.whole_encodings == 2
