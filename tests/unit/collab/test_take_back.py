"""The typing of a peer that just lost the keyboard is taken back from its screen a moment
after it arrives: only typing (inserts under a client id the peer speaks for, sent live),
only from a peer that could write until just before, and not if it may write again by then."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest
from pycrdt import Doc, Text, merge_updates

from crdt import (
    Auth,
    AwarenessEntry,
    SyncStep1,
    SyncUpdate,
    encode_awareness,
    encode_sync_step2,
    encode_update,
    parse_message,
)
from rooms import MemoryBus, MemoryUpdateLog, Room, RoomId, RoomLimits, RoomManager, RoomMetrics
from rooms.frames import new_node_id

from .test_room_lifecycle import Listener

WAIT = 0.05


@dataclass
class Dojo:
    room: Room
    metrics: RoomMetrics
    driver: Listener
    navigator: Listener
    screen: Doc  # the navigator's document
    edits: list[bytes]  # its transactions' updates, as a Yjs client sends them

    async def _send_edit(self, change: Callable[[], None]) -> bytes:
        """One transaction on the navigator's screen, sent as its client sends it: that
        transaction's update alone (its own deletions, not every deletion so far)."""
        with self.screen.transaction():
            change()
        update = self.edits[-1]
        await self.room.receive(self.navigator, encode_update(update))
        return update

    @property
    def text(self) -> Text:
        return self.screen.get("code", type=Text)

    def room_text(self) -> str:
        return str(self.room.doc.get("code", type=Text))

    async def type(self, index: int, value: str) -> bytes:
        return await self._send_edit(lambda: self.text.insert(index, value))

    async def replace(self, start: int, end: int, value: str) -> bytes:
        def change() -> None:
            del self.text[start:end]
            self.text.insert(start, value)

        return await self._send_edit(change)

    def taken_back(self) -> list[bytes]:
        """The deletions the room sent the navigator (updates holding no items)."""
        out = []
        for data in self.navigator.sent:
            message = parse_message(data, max_update_bytes=1 << 20)
            if isinstance(message, SyncUpdate) and message.update[0] == 0:  # no items
                out.append(message.update)
        return out

    def show(self) -> None:
        """Apply to the navigator's document what the room sent it."""
        for update in self.taken_back():
            self.screen.apply_update(update)


@pytest.fixture
async def dojo(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Dojo]:
    """The room holds "def main():\\n"; the navigator has it, speaks for its client id in
    awareness, and has just lost the keyboard."""
    monkeypatch.setattr(Room, "TAKE_BACK_SECONDS", WAIT)
    metrics = RoomMetrics()
    manager = RoomManager(
        MemoryUpdateLog(),
        MemoryBus().node(),
        node_id=new_node_id(),
        limits=RoomLimits(),
        metrics=metrics,
    )
    room = await manager.open(RoomId(uuid.uuid4(), "dojo"))
    driver, navigator = Listener(), Listener()
    for peer in (driver, navigator):
        room.admit(peer)
        room.greet(peer)
    written = Doc()
    written.get("code", type=Text).insert(0, "def main():\n")
    await room.receive(driver, encode_update(written.get_update()))
    screen = Doc()
    screen.apply_update(room.doc.get_update())
    entry = AwarenessEntry.of(screen.client_id, 1, {"user": {"name": "Nico"}})
    await room.receive(navigator, encode_awareness([entry]))
    room.allow_writes(navigator, False)
    navigator.sent.clear()
    edits: list[bytes] = []
    screen.observe(lambda event: edits.append(event.update))
    yield Dojo(room, metrics, driver, navigator, screen, edits)
    await room.close()


def _taken_back_count(metrics: RoomMetrics) -> float:
    return metrics.registry.get_sample_value("collab_readonly_edits_taken_back_total") or 0.0


async def test_typing_is_taken_back_in_one_deletion_after_the_wait(dojo: Dojo) -> None:
    for key in "    pass":
        await dojo.type(len(dojo.text), key)
    assert dojo.taken_back() == []  # not at once: the peer may be allowed to write meanwhile
    await asyncio.sleep(WAIT * 3)
    assert len(dojo.taken_back()) == 1  # eight keystrokes, one range
    dojo.show()
    assert str(dojo.text) == dojo.room_text() == "def main():\n"
    assert _taken_back_count(dojo.metrics) == 1
    assert dojo.navigator.refused_edits


async def test_a_peer_allowed_to_write_in_time_keeps_its_typing(dojo: Dojo) -> None:
    """The incoming driver whose editor opened before the node heard of the new role."""
    await dojo.type(len(dojo.text), "    return 1")
    dojo.room.allow_writes(dojo.navigator, True)
    await asyncio.sleep(WAIT * 3)
    assert dojo.taken_back() == []
    asked = [parse_message(m, max_update_bytes=1 << 20) for m in dojo.navigator.sent]
    step1 = next(m for m in asked if isinstance(m, SyncStep1))  # what the room lacks, please
    answer = dojo.screen.get_update(step1.state_vector)
    await dojo.room.receive(dojo.navigator, encode_sync_step2(answer))
    assert dojo.room_text() == str(dojo.text) == "def main():\n    return 1"


async def test_a_replacement_is_not_taken_back(dojo: Dojo) -> None:
    """Its deletion cannot be undone, so its insert stays too: shared whole, or not at all."""
    await dojo.replace(4, 8, "start")
    await asyncio.sleep(WAIT * 3)
    assert dojo.taken_back() == []
    assert str(dojo.text) == "def start():\n"


async def test_typing_under_an_id_the_peer_does_not_speak_for_is_not_taken_back(
    dojo: Dojo,
) -> None:
    """Items of another client (relayed from some other source) may be in the room soon."""
    other = Doc()
    other.apply_update(dojo.room.doc.get_update())
    other.get("code", type=Text).insert(0, "# header\n")
    await dojo.room.receive(
        dojo.navigator, encode_update(other.get_update(dojo.room.doc.get_state()))
    )
    await asyncio.sleep(WAIT * 3)
    assert dojo.taken_back() == []


async def test_a_sync_step_2_is_not_taken_back(dojo: Dojo) -> None:
    """It may hold what other nodes accepted and this one has not heard yet."""
    dojo.text.insert(len(dojo.text), "    pass")
    answer = dojo.screen.get_update(dojo.room.doc.get_state())
    await dojo.room.receive(dojo.navigator, encode_sync_step2(answer))
    await asyncio.sleep(WAIT * 3)
    assert dojo.taken_back() == []


async def test_a_large_paste_is_not_taken_back(dojo: Dojo) -> None:
    await dojo.type(len(dojo.text), "x" * (Room.TAKE_BACK_MAX_BYTES + 1))
    await asyncio.sleep(WAIT * 3)
    assert dojo.taken_back() == []


async def test_what_the_room_has_by_then_is_not_taken_back(dojo: Dojo) -> None:
    """Typed, then reaching the room another way before the wait is over (the driver
    relays it): nothing to delete, nothing sent."""
    update = await dojo.type(len(dojo.text), "    pass")
    await dojo.room.receive(dojo.driver, encode_update(update))
    await asyncio.sleep(WAIT * 3)
    assert dojo.taken_back() == []
    assert _taken_back_count(dojo.metrics) == 0


@pytest.mark.parametrize("driver_id", [1, 2**53 - 1])  # the driver's items after, or before
async def test_an_update_mixing_in_another_client_s_items_is_not_taken_back(
    dojo: Dojo, driver_id: int
) -> None:
    """The navigator's typing merged with items of the driver's client id, which the driver
    speaks for (the room may get them from the driver any moment)."""
    driver_doc = Doc(client_id=driver_id)
    driver_doc.apply_update(dojo.room.doc.get_update())
    await dojo.room.receive(
        dojo.driver,
        encode_awareness([AwarenessEntry.of(driver_doc.client_id, 1, {"user": {"name": "D"}})]),
    )
    before = driver_doc.get_state()
    driver_doc.get("code", type=Text).insert(0, "# driver\n")
    theirs = driver_doc.get_update(before)
    dojo.text.insert(len(dojo.text), "    pass")
    await dojo.room.receive(dojo.navigator, encode_update(merge_updates(dojo.edits[-1], theirs)))
    await asyncio.sleep(WAIT * 3)
    assert dojo.taken_back() == []


async def test_a_peer_that_never_had_the_keyboard_keeps_its_typing(dojo: Dojo) -> None:
    """The incoming driver whose editor opened before the node heard of the new role, even
    if the node hears of it only after the wait: its typing is shared once it may write."""
    incoming = Listener()
    incoming.can_write = False  # joined as a navigator
    dojo.room.admit(incoming)
    dojo.room.greet(incoming)
    screen = Doc()
    screen.apply_update(dojo.room.doc.get_update())
    entry = AwarenessEntry.of(screen.client_id, 1, {"user": {"name": "Ines"}})
    await dojo.room.receive(incoming, encode_awareness([entry]))
    before = screen.get_state()
    screen.get("code", type=Text).insert(12, "    return 2")
    await dojo.room.receive(incoming, encode_update(screen.get_update(before)))
    await asyncio.sleep(WAIT * 3)
    assert not any(isinstance(parse_message(m, max_update_bytes=1 << 20), SyncUpdate)
                   for m in incoming.sent)  # fmt: skip
    incoming.sent.clear()
    dojo.room.allow_writes(incoming, True)
    step1 = parse_message(incoming.sent[-1], max_update_bytes=1 << 20)
    assert isinstance(step1, SyncStep1)
    await dojo.room.receive(incoming, encode_sync_step2(screen.get_update(step1.state_vector)))
    assert dojo.room_text() == "def main():\n    return 2"


async def test_typing_long_after_losing_the_keyboard_is_not_taken_back(
    dojo: Dojo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Room, "TAKE_BACK_WITHIN_SECONDS", 0.0)
    await asyncio.sleep(0.01)
    await dojo.type(len(dojo.text), "    pass")
    await asyncio.sleep(WAIT * 3)
    assert dojo.taken_back() == []


async def test_typing_again_after_a_take_back_is_taken_back_again(dojo: Dojo) -> None:
    await dojo.type(len(dojo.text), "a")
    await asyncio.sleep(WAIT * 3)
    await dojo.type(len(dojo.text), "b")
    await asyncio.sleep(WAIT * 3)
    assert len(dojo.taken_back()) == 2
    dojo.show()
    assert str(dojo.text) == dojo.room_text()


async def test_ranges_past_the_cap_stay_on_the_screen(
    dojo: Dojo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Typing merges into one range; a replacement between (not taken back) splits it."""
    monkeypatch.setattr(Room, "TAKE_BACK_MAX_RANGES", 2)
    await dojo.type(len(dojo.text), "a")
    await dojo.type(len(dojo.text), "b")  # the same range as "a"
    await dojo.replace(0, 3, "DEF")
    await dojo.type(len(dojo.text), "c")  # a second range
    await dojo.replace(0, 3, "Def")
    await dojo.type(len(dojo.text), "d")  # a third: past the cap
    await asyncio.sleep(WAIT * 3)
    assert len(dojo.taken_back()) == 1
    dojo.show()
    assert str(dojo.text) == "Def main():\nd"


async def test_a_closed_room_takes_nothing_back(dojo: Dojo) -> None:
    """Typed before it closed, or handled after (its connections close on their own)."""
    await dojo.type(len(dojo.text), "    pass")
    await dojo.room.close()
    await dojo.type(len(dojo.text), "\n")
    await asyncio.sleep(WAIT * 3)
    assert dojo.taken_back() == []


async def test_a_peer_that_leaves_before_the_wait_is_sent_nothing(dojo: Dojo) -> None:
    await dojo.type(len(dojo.text), "    pass")
    await dojo.room.leave(dojo.navigator)
    await asyncio.sleep(WAIT * 3)
    assert dojo.taken_back() == []


def _denials(peer: Listener) -> list[str]:
    """The permission-denied messages the room sent ``peer``, by reason."""
    messages = [parse_message(m, max_update_bytes=1 << 20) for m in peer.sent]
    return [m.reason for m in messages if isinstance(m, Auth)]


async def test_a_refused_peer_is_told_once_until_it_may_write_again(dojo: Dojo) -> None:
    """Yjs cannot take back a deletion: the peer is told its edits were not shared, so a
    client can start again from the room's document. Once per refusal, not per edit."""
    await dojo.replace(0, 3, "async def")
    await dojo.type(0, "# ")
    [reason] = _denials(dojo.navigator)
    assert reason.startswith("read-only")
    assert _denials(dojo.driver) == []
    dojo.room.allow_writes(dojo.navigator, True)
    dojo.room.allow_writes(dojo.navigator, False)
    dojo.navigator.sent.clear()
    await dojo.type(0, "# ")
    assert len(_denials(dojo.navigator)) == 1


async def test_an_empty_answer_of_a_read_only_peer_is_not_denied(dojo: Dojo) -> None:
    """A new client answers the room's sync step 1 with an empty update: not an edit."""
    await dojo.room.receive(dojo.navigator, encode_sync_step2(Doc().get_update()))
    assert _denials(dojo.navigator) == []
    assert not dojo.navigator.refused_edits


async def _reconnect_answer(dojo: Dojo) -> bytes:
    """The driver deletes "def "; the navigator's screen has it all: what it answers our
    sync step 1 with on a reconnect (its delete set, nothing new)."""
    edit = Doc()
    edit.apply_update(dojo.room.doc.get_update())
    updates: list[bytes] = []
    edit.observe(lambda event: updates.append(event.update))
    del edit.get("code", type=Text)[0:4]
    await dojo.room.receive(dojo.driver, encode_update(updates[-1]))
    dojo.screen.apply_update(dojo.room.doc.get_update())
    answer = dojo.screen.get_update(dojo.room.doc.get_state())
    assert answer != Doc().get_update()  # it carries the delete set
    return answer


async def test_a_reconnect_answer_that_holds_nothing_new_is_not_denied(dojo: Dojo) -> None:
    """A client answers the room's sync step 1 with its whole delete set: from a read-only
    peer with nothing of its own that is no refused edit, and not told as one (the web app
    would start again on every reconnect)."""
    answer = await _reconnect_answer(dojo)
    await dojo.room.receive(dojo.navigator, encode_sync_step2(answer))
    assert _denials(dojo.navigator) == []
    assert not dojo.navigator.refused_edits
    await dojo.replace(0, 4, "async def main")  # an edit of its own is denied
    assert len(_denials(dojo.navigator)) == 1


async def test_only_a_connection_s_first_sync_step_2_is_looked_into(
    dojo: Dojo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reading an update costs a walk of it (and maybe of the room's delete set): a
    read-only peer gets that once per connection, for its answer to our sync step 1, and
    only for a small one. Anything else it sends is taken for an edit."""
    answer = await _reconnect_answer(dojo)
    await dojo.room.receive(dojo.navigator, encode_sync_step2(answer))
    assert _denials(dojo.navigator) == []
    await dojo.room.receive(dojo.navigator, encode_sync_step2(answer))
    assert len(_denials(dojo.navigator)) == 1

    other = Listener()
    dojo.room.admit(other)
    dojo.room.greet(other)
    dojo.room.allow_writes(other, False)
    monkeypatch.setattr(Room, "ANSWER_CHECK_MAX_BYTES", len(answer) - 1)
    await dojo.room.receive(other, encode_sync_step2(answer))
    assert len(_denials(other)) == 1
