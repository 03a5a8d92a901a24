"""PostgreSQL update log, compaction and restart; Redis fan-out; drain; control; internal API."""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import aiohttp
import asyncpg
import psutil
import pytest
from aiohttp import web
from pycrdt import Doc, Text

from collab_server import CollabSettings, create_app
from crdt import decode_state_vector
from platform_api.kernel.provision import ServiceDatabase
from rooms import Compaction, MemoryAccessLedger, MemoryUpdateLog, RoomId
from rooms.ports import StoredState
from tests.harness.collab import appends_held
from tests.harness.nodes import NodeProcess
from tests.harness.ywire import YClient, eventually

from .conftest import Connect, Mint, SlowLedger, SlowLoads, StartNode


def _pg(collab_db: ServiceDatabase, redis_url: str | None = None) -> dict[str, str]:
    return {"database_url": collab_db.app_dsn, **({"redis_url": redis_url} if redis_url else {})}


class HeldCompactions(MemoryUpdateLog):
    """The in-memory update log, whose compactions wait until ``gate`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.waiting = asyncio.Event()
        self.compacted = asyncio.Event()

    async def compact(
        self, room: RoomId, merge: Callable[[list[bytes]], bytes]
    ) -> Compaction | None:
        self.waiting.set()
        await self.gate.wait()
        done = await super().compact(room, merge)
        self.compacted.set()
        return done


class FailingAppends(MemoryUpdateLog):
    """The in-memory update log, whose appends fail while ``failing`` is set."""

    failing = False

    async def append(self, room: RoomId, update: bytes) -> int:
        if self.failing:
            raise ConnectionError("the database is away for a moment")
        return await super().append(room, update)


class OneAppendHeld(MemoryUpdateLog):
    """The in-memory update log, whose next append after ``hold_next`` waits until the event
    it returns is set (``holding`` is set meanwhile), then fails if told to; others pass."""

    def __init__(self) -> None:
        super().__init__()
        self.holding = asyncio.Event()
        self._next: tuple[asyncio.Event, bool] | None = None

    def hold_next(self, *, fail: bool) -> asyncio.Event:
        release = asyncio.Event()
        self._next = (release, fail)
        return release

    async def append(self, room: RoomId, update: bytes) -> int:
        held, self._next = self._next, None
        if held is not None:
            release, fail = held
            self.holding.set()
            await release.wait()
            if fail:
                raise ConnectionError("the database is away for a moment")
        return await super().append(room, update)


async def _committed(log: MemoryUpdateLog, room_key: str, text: str) -> None:
    """Wait until the document stored in ``log`` reads ``text``."""

    async def stored() -> bool:
        state = await log.load(RoomId.parse(room_key))
        doc: Doc = Doc()
        for update in ([state.snapshot] if state.snapshot else []) + state.updates:
            doc.apply_update(update)
        return str(doc.get("code", type=Text)) == text

    await eventually(stored, timeout=5, what=f"{text!r} in the log")


async def test_restart_restores_the_room_byte_for_byte(
    start_node: StartNode, connect: Connect, collab_db: ServiceDatabase, room_key: str
) -> None:
    base = await start_node(**_pg(collab_db))
    a = await connect(base, room_key)
    for i in range(50):
        await a.insert(f"line {i}\n")
    await a.edit(lambda text: text.__delitem__(slice(0, 7)))
    await eventually(lambda: a.received_updates >= 1, what="sync")
    await a.close()
    restarted = await start_node(**_pg(collab_db))
    b = await connect(restarted, room_key)
    await eventually(lambda: str(b) == str(a), what="restore")
    assert decode_state_vector(b.doc.get_state(), max_bytes=1 << 20) == decode_state_vector(
        a.doc.get_state(), max_bytes=1 << 20
    )


async def test_compaction_writes_a_snapshot_and_trims_the_log(
    start_node: StartNode, connect: Connect, collab_db: ServiceDatabase, room_key: str
) -> None:
    base = await start_node(**_pg(collab_db), compact_after_updates=20)
    a = await connect(base, room_key)
    for i in range(45):
        await a.insert(f"{i};")
    tenant, name = room_key.split(":")
    conn = await asyncpg.connect(collab_db.app_dsn)
    # Forced row-level security applies to every role: look as the room's tenant.
    await conn.execute("SELECT set_config('app.tenant_id', $1, false)", tenant)
    try:

        async def compacted() -> bool:
            rows = await conn.fetchval(
                "SELECT count(*) FROM room_snapshots WHERE tenant_id = $1 AND room = $2",
                uuid.UUID(tenant),
                name,
            )
            return rows >= 1

        await eventually(compacted, timeout=30, what="a snapshot")
        remaining = await conn.fetchval(
            "SELECT count(*) FROM room_updates WHERE tenant_id = $1 AND room = $2",
            uuid.UUID(tenant),
            name,
        )
        assert remaining < 45
        snapshot = await conn.fetchval(
            """SELECT inline_state FROM room_snapshots WHERE tenant_id = $1 AND room = $2
               ORDER BY id DESC LIMIT 1""",
            uuid.UUID(tenant),
            name,
        )
        # The document's own encoding, which joins each typed piece to the one before it,
        # not a merge of the updates, which keeps a struct per update: it encodes as itself.
        reloaded: Doc = Doc()
        reloaded.apply_update(snapshot)
        assert reloaded.get_update() == snapshot
    finally:
        await conn.close()
    restarted = await start_node(**_pg(collab_db))
    b = await connect(restarted, room_key)
    await eventually(lambda: str(b) == str(a), what="restore from snapshot + tail")
    assert decode_state_vector(b.doc.get_state(), max_bytes=1 << 20) == decode_state_vector(
        a.doc.get_state(), max_bytes=1 << 20
    )


async def test_a_peer_joining_while_its_idle_room_compacts_keeps_the_room_loaded(
    start_node: StartNode, connect: Connect, room_key: str
) -> None:
    """The room was idle when its compaction began; a peer admitted meanwhile, its role still
    being read when the compaction ends, keeps it loaded: it is greeted into the room the
    next peers join, not into an unloaded one they never hear from."""
    log, ledger = HeldCompactions(), SlowLedger(MemoryAccessLedger())
    base = await start_node(update_log=log, access_ledger=ledger, idle_room_seconds=0)
    writer = await connect(base, room_key)
    await writer.insert("before ")
    await _committed(log, room_key, "before ")
    await writer.close()
    await asyncio.wait_for(log.waiting.wait(), 5)  # the idle room compacts
    ledger.hold_next()
    joining = await connect(base, room_key)
    await asyncio.wait_for(ledger.holding.wait(), 5)  # admitted, its role being read
    log.gate.set()
    await asyncio.wait_for(log.compacted.wait(), 5)
    await asyncio.sleep(0.2)  # the maintenance pass goes on to unloading the room
    ledger.release.set()
    await asyncio.wait_for(joining.synced.wait(), 5)
    other = await connect(base, room_key)
    await asyncio.wait_for(other.synced.wait(), 5)
    await joining.insert("and after")
    await eventually(
        lambda: str(other) == "before and after", timeout=5, what="the edit reaches the next peer"
    )


async def test_a_peer_joining_as_its_room_is_discarded_is_closed_and_served_nothing(
    start_node: StartNode, connect: Connect, room_key: str
) -> None:
    """An append fails and the room is discarded while a peer is admitted, its role still
    being read: the peer is closed with 1011 (to reconnect), never served the discarded
    room's document and the update in it that never committed."""
    log, ledger = FailingAppends(), SlowLedger(MemoryAccessLedger())
    base = await start_node(update_log=log, access_ledger=ledger)
    writer = await connect(base, room_key)
    await writer.insert("kept ")
    await _committed(log, room_key, "kept ")
    ledger.hold_next()
    joining = await connect(base, room_key)
    await asyncio.wait_for(ledger.holding.wait(), 5)  # admitted, its role being read
    log.failing = True
    await writer.insert("lost")
    assert await writer.wait_closed(timeout=5) == 1011
    log.failing = False
    ledger.release.set()
    assert await joining.wait_closed(timeout=5) == 1011
    assert str(joining) == ""
    fresh = await connect(base, room_key)
    await asyncio.wait_for(fresh.synced.wait(), 5)
    assert str(fresh) == "kept "


async def test_three_nodes_over_redis_and_postgres_converge(
    start_node: StartNode,
    connect: Connect,
    collab_db: ServiceDatabase,
    redis_url: str,
    room_key: str,
) -> None:
    nodes = [await start_node(**_pg(collab_db, redis_url), node_name=f"n{i}") for i in range(3)]
    clients = [await connect(node, room_key) for node in nodes for _ in range(2)]
    for round_ in range(5):
        for i, client in enumerate(clients):
            await client.insert(f"{round_}.{i} ")
    expected = sum(len(f"{r}.{i} ") for r in range(5) for i in range(6))
    await eventually(
        lambda: all(len(str(c)) == expected for c in clients), timeout=30, what="convergence"
    )
    assert len({str(c) for c in clients}) == 1
    vectors = [decode_state_vector(c.doc.get_state(), max_bytes=1 << 20) for c in clients]
    assert all(v == vectors[0] for v in vectors)


async def _stoppable_node(settings: CollabSettings, *, shutdown_timeout: float) -> web.AppRunner:
    """A node whose stop the test drives: ``runner.cleanup()`` is what SIGTERM triggers."""
    runner = web.AppRunner(create_app(settings), access_log=None, shutdown_timeout=shutdown_timeout)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner


def _room_url(runner: web.AppRunner, mint: Mint, room_key: str) -> str:
    port = runner.addresses[0][1]
    return f"ws://127.0.0.1:{port}/collab/{room_key}?ticket={mint(room_key)}"


def _short_drain_settings(
    ticket_key: tuple[str, str], collab_db: ServiceDatabase, tmp_path: Path
) -> CollabSettings:
    return CollabSettings(
        environment="test",
        ticket_public_key=ticket_key[1],
        snapshot_dir=str(tmp_path),
        database_url=collab_db.app_dsn,
        drain_seconds=0.5,
    )


async def test_drain_closes_peers_with_1012(
    ticket_key: tuple[str, str], mint: Mint, room_key: str
) -> None:
    runner = await _stoppable_node(
        CollabSettings(environment="test", ticket_public_key=ticket_key[1], drain_seconds=2),
        shutdown_timeout=3,
    )
    client = await YClient(_room_url(runner, mint, room_key)).connect()
    try:
        await client.synced.wait()
        await runner.cleanup()  # what SIGTERM triggers in run_app
        assert await client.wait_closed() == 1012
    finally:
        await client.close()


async def test_drain_gives_pending_updates_drain_seconds_to_commit(
    ticket_key: tuple[str, str],
    mint: Mint,
    collab_db: ServiceDatabase,
    room_key: str,
    tmp_path: Path,
) -> None:
    """A node whose commits are stuck stops anyway: its peers get 1012, and the updates it
    never committed (nor fanned out) are dropped after drain_seconds, left to their senders."""
    runner = await _stoppable_node(
        _short_drain_settings(ticket_key, collab_db, tmp_path), shutdown_timeout=0.5
    )
    client = YClient(_room_url(runner, mint, room_key))
    try:
        # Held before anything is written: nothing commits, so shutdown has nothing to compact.
        async with appends_held(collab_db) as stuck:
            await client.connect()
            await client.synced.wait()
            await client.insert("never committed")
            await stuck()
            started = time.monotonic()
            # Peers (0.5 s), then their handlers (0.5 s), then the pending updates (0.5 s).
            await asyncio.wait_for(runner.cleanup(), 5)
            assert time.monotonic() - started < 1.5 + 1.0
        assert await client.wait_closed() == 1012
    finally:
        await client.close()


async def test_drain_gives_compaction_drain_seconds(
    ticket_key: tuple[str, str],
    mint: Mint,
    collab_db: ServiceDatabase,
    room_key: str,
    tmp_path: Path,
) -> None:
    """Compacting at shutdown waits on the database no longer than drain_seconds: it only
    saves the next load some work, and the log still holds every update for that load."""
    settings = _short_drain_settings(ticket_key, collab_db, tmp_path)
    runner = await _stoppable_node(settings, shutdown_timeout=0.5)
    url = _room_url(runner, mint, room_key)
    writer, watcher = YClient(url), YClient(url)
    try:
        for client in (writer, watcher):
            await client.connect()
            await client.synced.wait()
        await writer.insert("committed")
        await eventually(lambda: str(watcher.text) == "committed", what="the fan-out")
        async with appends_held(collab_db):  # compaction's DELETE now waits on the lock
            started = time.monotonic()
            await asyncio.wait_for(runner.cleanup(), 10)
            # Peers (0.5 s), then their handlers (0.5 s), then compaction (0.5 s).
            assert time.monotonic() - started < 1.5 + 1.0
    finally:
        await writer.close()
        await watcher.close()
    runner = await _stoppable_node(settings, shutdown_timeout=0.5)
    reader = YClient(_room_url(runner, mint, room_key))
    try:
        await reader.connect()
        await reader.synced.wait()
        assert str(reader.text) == "committed"
    finally:
        await reader.close()
        await runner.cleanup()


async def test_control_changes_roles_live_and_revokes(
    start_node: StartNode, connect: Connect, mint: Mint, room_key: str
) -> None:
    base = await start_node()
    driver_id, navigator_id = str(uuid.uuid4()), str(uuid.uuid4())
    driver = await connect(base, room_key, user=driver_id)
    navigator = await connect(base, room_key, role="read", user=navigator_id)
    service = {"Authorization": f"Bearer {mint(room_key, role='service')}"}
    http = base.replace("ws://", "http://").removesuffix("/collab")
    async with aiohttp.ClientSession() as session:
        for user, role in ((navigator_id, "write"), (driver_id, "read")):
            r = await session.post(
                f"{http}/internal/rooms/{room_key}/control",
                json={"type": "role", "user": user, "role": role},
                headers=service,
            )
            assert r.status == 200
        await navigator.insert("navigator now drives")
        await eventually(lambda: str(driver) == "navigator now drives", what="new driver's edit")
        await driver.insert(" old driver")
        await eventually(lambda: navigator.received_updates >= 1, what="sync")
        observer = await connect(base, room_key)
        await eventually(lambda: str(observer) == "navigator now drives", what="old driver dropped")
        r = await session.post(
            f"{http}/internal/rooms/{room_key}/control",
            json={"type": "revoke", "user": driver_id},
            headers=service,
        )
        assert r.status == 200
    assert await driver.wait_closed() == 4403


async def test_internal_api_reads_and_writes_the_document(
    start_node: StartNode, connect: Connect, mint: Mint, room_key: str
) -> None:
    base = await start_node()
    peer = await connect(base, room_key)
    await peer.insert("print('hi')")
    http = base.replace("ws://", "http://").removesuffix("/collab")
    service = {"Authorization": f"Bearer {mint(room_key, role='service')}"}
    async with aiohttp.ClientSession() as session:
        state = await (
            await session.get(f"{http}/internal/rooms/{room_key}/state", headers=service)
        ).json()
        assert state["text"] == "print('hi')"
        doc: Doc = Doc()
        doc.apply_update(base64.b64decode(state["update"]))
        text = doc.get("code", type=Text)
        before = doc.get_state()
        text.insert(0, "# kata\n")
        r = await session.post(
            f"{http}/internal/rooms/{room_key}/updates",
            data=doc.get_update(before),
            headers=service,
        )
        assert r.status == 200
        await eventually(
            lambda: str(peer) == "# kata\nprint('hi')", what="server update reaches peers"
        )
        denied = await session.get(
            f"{http}/internal/rooms/{room_key}/state",
            headers={"Authorization": f"Bearer {mint(room_key)}"},
        )
        assert denied.status == 401
        assert denied.headers["Content-Type"].startswith("application/problem+json")
        bad = await session.post(
            f"{http}/internal/rooms/{room_key}/updates",
            data=b"\x05\xff\xff\xff\x7a",
            headers=service,
        )
        assert bad.status == 422


async def test_an_internal_update_the_log_refuses_is_a_503_and_not_served(
    start_node: StartNode, connect: Connect, mint: Mint, room_key: str
) -> None:
    """The database away: the dojo service gets 503 with Retry-After, to send the update
    again; the room's peers reconnect to resync, and the room no longer holds the update."""
    log = FailingAppends()
    base = await start_node(update_log=log)
    peer = await connect(base, room_key)
    await peer.insert("kept")
    await _committed(log, room_key, "kept")
    http = base.replace("ws://", "http://").removesuffix("/collab")
    service = {"Authorization": f"Bearer {mint(room_key, role='service')}"}
    async with aiohttp.ClientSession() as session:
        state_url = f"{http}/internal/rooms/{room_key}/state"
        state = await (await session.get(state_url, headers=service)).json()
        doc: Doc = Doc()
        doc.apply_update(base64.b64decode(state["update"]))
        before = doc.get_state()
        doc.get("code", type=Text).insert(4, " lost")
        log.failing = True
        refused = await session.post(
            f"{http}/internal/rooms/{room_key}/updates",
            data=doc.get_update(before),
            headers=service,
        )
        log.failing = False
        assert refused.status == 503
        assert refused.headers["Content-Type"].startswith("application/problem+json")
        assert refused.headers["Retry-After"].isdigit()
        assert (await refused.json())["status"] == 503
        assert await peer.wait_closed(timeout=5) == 1011
        state = await (await session.get(state_url, headers=service)).json()
        assert state["text"] == "kept"


async def _text_of(response: aiohttp.ClientResponse) -> str:
    """The text of a GET state answer, JSON or the raw update."""
    if response.headers["Content-Type"] == "application/octet-stream":
        doc: Doc = Doc()
        doc.apply_update(await response.read())
        return str(doc.get("code", type=Text))
    text: str = (await response.json())["text"]
    return text


STATE_FORMATS = pytest.mark.parametrize(
    "accept", ["application/json", "application/octet-stream"], ids=["json", "bytes"]
)


@STATE_FORMATS
@pytest.mark.parametrize("commits", [True, False], ids=["commits", "fails"])
async def test_internal_state_waits_for_the_commits_under_way(
    start_node: StartNode, connect: Connect, mint: Mint, room_key: str, commits: bool, accept: str
) -> None:
    """A peer's update is in the document while its append is under way: GET state waits
    for the commit, and answers the document with the update once it is stored, or 503
    (the room reloads) when the append fails, never a document the log does not hold."""
    log = OneAppendHeld()
    base = await start_node(update_log=log)
    writer = await connect(base, room_key)
    await writer.insert("kept")
    await _committed(log, room_key, "kept")
    http = base.replace("ws://", "http://").removesuffix("/collab")
    service = {"Authorization": f"Bearer {mint(room_key, role='service')}", "Accept": accept}
    state_url = f"{http}/internal/rooms/{room_key}/state"
    release = log.hold_next(fail=not commits)
    await writer.insert(" UNCOMMITTED")
    await asyncio.wait_for(log.holding.wait(), 5)
    async with aiohttp.ClientSession() as session:
        reading = asyncio.create_task(session.get(state_url, headers=service))
        await asyncio.sleep(0.2)
        assert not reading.done(), "answered while the append was under way"
        release.set()
        response = await asyncio.wait_for(reading, 5)
        if commits:
            assert response.status == 200
            assert await _text_of(response) == "kept UNCOMMITTED"
            return
        assert response.status == 503
        assert response.headers["Content-Type"].startswith("application/problem+json")
        assert response.headers["Retry-After"] == "1"
        assert (await response.json())["status"] == 503
        assert await writer.wait_closed(timeout=5) == 1011
        reloaded = await session.get(state_url, headers=service)
        assert await _text_of(reloaded) == "kept"


@STATE_FORMATS
async def test_internal_state_waits_for_no_commit_that_started_after_it(
    start_node: StartNode, connect: Connect, mint: Mint, room_key: str, accept: str
) -> None:
    """In a busy room some commit is always under way: GET state waits for the commits of
    what it read, and answers without the update whose commit started after it."""
    log = OneAppendHeld()
    base = await start_node(update_log=log)
    writer = await connect(base, room_key)
    other = await connect(base, room_key)
    await writer.insert("kept")
    await _committed(log, room_key, "kept")
    http = base.replace("ws://", "http://").removesuffix("/collab")
    service = {"Authorization": f"Bearer {mint(room_key, role='service')}", "Accept": accept}
    release = log.hold_next(fail=False)
    await writer.insert(" committed")
    await asyncio.wait_for(log.holding.wait(), 5)
    log.holding.clear()
    async with aiohttp.ClientSession() as session:
        reading = asyncio.create_task(
            session.get(f"{http}/internal/rooms/{room_key}/state", headers=service)
        )
        await asyncio.sleep(0.2)
        never = log.hold_next(fail=False)
        await other.insert(" UNCOMMITTED")  # (a peer's messages are handled in turn)
        await asyncio.wait_for(log.holding.wait(), 5)
        assert not reading.done(), "answered while the append was under way"
        release.set()
        response = await asyncio.wait_for(reading, 5)
        assert response.status == 200
        assert await _text_of(response) == "kept committed"
    never.set()


@pytest.mark.parametrize("commits", [True, False], ids=["commits", "fails"])
async def test_an_internal_updates_state_vector_waits_for_the_commits_under_way(
    start_node: StartNode, connect: Connect, mint: Mint, room_key: str, commits: bool
) -> None:
    """A service update is stored while a peer's is applied and its append still under way:
    the state vector answered waits for that commit, and is 503 if it fails (the room
    reloads without it), never one that counts an update the log does not hold."""
    log = OneAppendHeld()
    base = await start_node(update_log=log)
    writer = await connect(base, room_key)
    await writer.insert("kept")
    await _committed(log, room_key, "kept")
    release = log.hold_next(fail=not commits)
    await writer.insert(" UNCOMMITTED")
    await asyncio.wait_for(log.holding.wait(), 5)
    service_doc: Doc = Doc()
    service_doc.get("code", type=Text).insert(0, "# kata\n")
    http = base.replace("ws://", "http://").removesuffix("/collab")
    service = {"Authorization": f"Bearer {mint(room_key, role='service')}"}
    async with aiohttp.ClientSession() as session:
        posting = asyncio.create_task(
            session.post(
                f"{http}/internal/rooms/{room_key}/updates",
                data=service_doc.get_update(),
                headers=service,
            )
        )
        await asyncio.sleep(0.2)
        assert not posting.done(), "answered while the peer's append was under way"
        release.set()
        response = await asyncio.wait_for(posting, 5)
        if not commits:
            assert response.status == 503
            assert response.headers["Content-Type"].startswith("application/problem+json")
            assert await writer.wait_closed(timeout=5) == 1011
            return
        assert response.status == 200
        answered = base64.b64decode((await response.json())["state_vector"])
    stored = await log.load(RoomId.parse(room_key))
    doc: Doc = Doc()
    for update in stored.updates:
        doc.apply_update(update)
    assert answered == doc.get_state()


class FailingLoads(MemoryUpdateLog):
    async def load(self, room: RoomId) -> StoredState:
        raise ConnectionError("database unreachable")


async def test_the_internal_api_answers_503_when_a_room_cannot_load(
    start_node: StartNode, mint: Mint, room_key: str
) -> None:
    base = await start_node(update_log=FailingLoads())
    http = base.replace("ws://", "http://").removesuffix("/collab")
    service = {"Authorization": f"Bearer {mint(room_key, role='service')}"}
    async with aiohttp.ClientSession() as session:
        response = await session.get(f"{http}/internal/rooms/{room_key}/state", headers=service)
        body = await response.json(content_type=None)
    assert response.status == 503
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert response.headers["Retry-After"] == "1"
    assert body["status"] == 503


@pytest.mark.parametrize(
    "snapshot",
    ["99999999999999999999", "9223372036854775808", "0", "-1", "+1", " 1", "1_0", "1.0", "", "x"],
)
async def test_a_snapshot_seq_out_of_range_is_a_400_not_a_storage_outage(
    start_node: StartNode, mint: Mint, room_key: str, slow_log: SlowLoads, snapshot: str
) -> None:
    """Past a bigint, PostgreSQL refuses the seq (a DataError): the caller's mistake."""
    base = await start_node(update_log=slow_log)
    http = base.replace("ws://", "http://").removesuffix("/collab")
    service = {"Authorization": f"Bearer {mint(room_key, role='service')}"}
    async with aiohttp.ClientSession() as session:
        response = await session.get(
            f"{http}/internal/rooms/{room_key}/state",
            params={"snapshot": snapshot},
            headers=service,
        )
        body = await response.json(content_type=None)
        assert response.status == 400
        assert response.headers["Content-Type"].startswith("application/problem+json")
        assert "snapshot" in body["detail"]
        largest = await session.get(
            f"{http}/internal/rooms/{room_key}/state",
            params={"snapshot": str(2**63 - 1)},
            headers=service,
        )
        assert largest.status == 404


async def test_old_tickets_cannot_undo_an_access_change(
    start_node: StartNode, connect: Connect, mint: Mint, room_key: str, redis_url: str
) -> None:
    """A removed participant's old ticket no longer opens the room, on any node, and a former
    driver's old write ticket only reads. The margin for the issuer's clock is 2 s here, so
    that a ticket can be newer than a change without waiting for it."""
    nodes = [
        await start_node(redis_url=redis_url, node_name=f"a{i}", ticket_clock_skew_seconds=2)
        for i in range(2)
    ]
    removed, former_driver = str(uuid.uuid4()), str(uuid.uuid4())
    old_removed = mint(room_key, user=removed)
    old_driver = mint(room_key, user=former_driver, role="write")
    service = {"Authorization": f"Bearer {mint(room_key, role='service')}"}
    http = nodes[0].replace("ws://", "http://").removesuffix("/collab")
    async with aiohttp.ClientSession() as session:
        for command in (
            {"type": "revoke", "user": removed},
            {"type": "role", "user": former_driver, "role": "read"},
        ):
            response = await session.post(
                f"{http}/internal/rooms/{room_key}/control", json=command, headers=service
            )
            assert response.status == 200
    changed = time.time()  # the changes were recorded before this
    client = await connect(nodes[1], room_key, ticket=old_removed)
    assert await client.wait_closed() == 4403
    driver = await connect(nodes[1], room_key, ticket=old_driver)
    await driver.insert("should not land")
    witness = await connect(nodes[0], room_key)
    await asyncio.wait_for(witness.synced.wait(), 15)
    await asyncio.sleep(0.3)
    assert str(witness) == ""
    # Re-invited without a new change: a ticket issued more than the margin after the change
    # works. The margin is the verifier's leeway too, so its iat (the change's second + 3)
    # may be at most 2 s ahead of the node's clock: wait for the change's next second.
    await asyncio.sleep(max(0.0, int(changed) + 1 - time.time()))
    fresh = await connect(nodes[1], room_key, user=removed, iat=int(changed) + 3)
    await asyncio.wait_for(fresh.synced.wait(), 15)
    assert fresh.close_code is None


async def test_a_killed_node_leaves_no_merge_process_behind(
    collab_db: ServiceDatabase, ticket_key: tuple[str, str], tmp_path: Path
) -> None:
    """Compactions merge in a process of the node's own; a ``kill -9`` of the node must not
    leave it (or its helpers) running, even while the worker is still starting."""
    env = {
        "COLLAB_DATABASE_URL": collab_db.app_dsn,
        "COLLAB_TICKET_PUBLIC_KEY": ticket_key[1],
        "COLLAB_SNAPSHOT_DIR": str(tmp_path / "snapshots"),
    }
    node = await asyncio.to_thread(NodeProcess("merge-owner", env, tmp_path).start)
    assert node.proc is not None
    try:
        parent = psutil.Process(node.proc.pid)
        # The resource tracker, then the worker: killed as soon as both exist.
        await eventually(lambda: len(parent.children()) >= 2, what="the merge process starts")
        helpers = parent.children(recursive=True)
    finally:
        node.kill()
    gone, alive = await asyncio.to_thread(psutil.wait_procs, helpers, timeout=10)
    assert alive == []
    assert gone
