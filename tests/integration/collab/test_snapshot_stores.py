"""One contract, every snapshot store adapter: memory, local folder, S3 (moto's server, SSE-KMS).

The collab engine writes compacted room state to ``dojos/{tenant}/{room}/snapshots/{seq}.ydoc``
and the dojo service writes ``dojos/{tenant}/{dojo}/snapshots/{timestamp}.json``; both go
through these adapters, chosen by settings (``S3_BUCKET`` set: S3, else a folder).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import aclosing
from pathlib import Path
from typing import Any

import aioboto3
import aiohttp
import pytest
from aiohttp import web
from pycrdt import Doc, Text

from collab_server import CollabSettings, create_app
from collab_server.state import UPDATE_LOG
from platform_api.kernel.aws import ClientClosed
from platform_api.kernel.db import create_pool
from platform_api.kernel.provision import ServiceDatabase
from rooms import (
    LocalSnapshotStore,
    MemorySnapshotStore,
    PostgresUpdateLog,
    RoomId,
    S3SnapshotStore,
    SnapshotStore,
)
from rooms.postgres import INLINE_SNAPSHOT_BYTES
from tests.harness.collab import compacted_seq
from tests.harness.moto import CountingSession, bucket_with_key

from .conftest import Mint, StartNode

REGION = "sa-east-1"


async def _s3_objects(endpoint: str, bucket: str) -> dict[str, dict[str, Any]]:
    """Every object in ``bucket`` with its HEAD response."""
    session = aioboto3.Session()
    async with session.client("s3", endpoint_url=endpoint, region_name=REGION) as s3:
        listing = await s3.list_objects_v2(Bucket=bucket)
        keys = [item["Key"] for item in listing.get("Contents", [])]
        return {key: await s3.head_object(Bucket=bucket, Key=key) for key in keys}


@pytest.fixture(params=["memory", "local", "s3"])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[str, SnapshotStore]]:
    snapshots: SnapshotStore
    if request.param == "memory":
        snapshots = MemorySnapshotStore()
    elif request.param == "local":
        snapshots = LocalSnapshotStore(tmp_path / "snapshots")
    else:
        endpoint = request.getfixturevalue("aws_endpoint")
        bucket, key_id = await bucket_with_key(endpoint, prefix="snapshots")
        snapshots = S3SnapshotStore(bucket, kms_key_id=key_id, endpoint_url=endpoint, region=REGION)
    async with aclosing(snapshots):  # every adapter closes, whichever it is
        yield request.param, snapshots


def _key(tenant: uuid.UUID, room: str, seq: int) -> str:
    return f"dojos/{tenant}/{room}/snapshots/{seq}.ydoc"


async def test_put_then_get_returns_the_same_bytes(store: tuple[str, SnapshotStore]) -> None:
    _, snapshots = store
    key = _key(uuid.uuid4(), "dojo-kata", 41)
    data = os.urandom(300 * 1024)  # binary, larger than one network read
    await snapshots.put(key, data)
    assert await snapshots.get(key) == data


async def test_missing_key_is_none(store: tuple[str, SnapshotStore]) -> None:
    _, snapshots = store
    tenant = uuid.uuid4()
    assert await snapshots.get(_key(tenant, "dojo-kata", 1)) is None
    await snapshots.put(_key(tenant, "dojo-kata", 1), b"one")
    assert await snapshots.get(_key(tenant, "dojo-kata", 2)) is None
    # A "folder" that exists because of another key is not an object either.
    assert await snapshots.get(f"dojos/{tenant}/dojo-kata/snapshots") is None


async def test_put_replaces_an_existing_snapshot(store: tuple[str, SnapshotStore]) -> None:
    _, snapshots = store
    key = _key(uuid.uuid4(), "dojo-kata", 7)
    await snapshots.put(key, b"first version, longer than the second")
    await snapshots.put(key, b"second")
    assert await snapshots.get(key) == b"second"
    await snapshots.put(key, b"")
    assert await snapshots.get(key) == b""


async def test_concurrent_writers_of_one_key_leave_one_whole_snapshot(
    store: tuple[str, SnapshotStore], tmp_path: Path
) -> None:
    kind, snapshots = store
    key = _key(uuid.uuid4(), "dojo-kata", 3)
    versions = [bytes([n]) * (64 * 1024) for n in range(8)]
    await asyncio.gather(*(snapshots.put(key, v) for v in versions))
    assert await snapshots.get(key) in versions
    if kind == "local":  # no temporary file is left beside the snapshot
        files = await asyncio.to_thread(
            lambda: [p.name for p in (tmp_path / "snapshots").rglob("*") if p.is_file()]
        )
        assert files == ["3.ydoc"]


async def test_same_room_name_in_two_tenants_are_two_snapshots(
    store: tuple[str, SnapshotStore],
) -> None:
    _, snapshots = store
    acme, globex = uuid.uuid4(), uuid.uuid4()
    await snapshots.put(_key(acme, "dojo-kata", 1), b"acme")
    await snapshots.put(_key(globex, "dojo-kata", 1), b"globex")
    assert await snapshots.get(_key(acme, "dojo-kata", 1)) == b"acme"
    assert await snapshots.get(_key(globex, "dojo-kata", 1)) == b"globex"


async def test_dojo_service_keys_are_accepted(store: tuple[str, SnapshotStore]) -> None:
    _, snapshots = store
    key = f"dojos/{uuid.uuid4()}/{uuid.uuid4()}/snapshots/20260102T030405.123456Z.json"
    await snapshots.put(key, b'{"code": ""}')
    assert await snapshots.get(key) == b'{"code": ""}'


@pytest.mark.parametrize(
    "key",
    ["../etc/passwd", "/abs", "a//b", "a/../b", "dojos/t/../../x", "", "a/b\n", "a/.hidden"],
)
async def test_unsafe_keys_are_refused_for_put_and_get(
    store: tuple[str, SnapshotStore], key: str
) -> None:
    _, snapshots = store
    with pytest.raises(ValueError, match="invalid object key"):
        await snapshots.put(key, b"x")
    with pytest.raises(ValueError, match="invalid object key"):
        await snapshots.get(key)


async def test_local_store_refuses_a_symlink_out_of_its_folder(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "snapshots"
    (root / "dojos").mkdir(parents=True)
    (root / "dojos" / "t").symlink_to(outside)
    snapshots = LocalSnapshotStore(root)
    with pytest.raises(ValueError, match="escapes"):
        await snapshots.put("dojos/t/room/snapshots/1.ydoc", b"x")
    assert not any(outside.iterdir())


async def test_local_store_writes_the_brief_layout(tmp_path: Path) -> None:
    tenant = uuid.uuid4()
    snapshots = LocalSnapshotStore(tmp_path)
    await snapshots.put(_key(tenant, "dojo-kata", 5), b"state")
    assert (
        tmp_path / "dojos" / str(tenant) / "dojo-kata" / "snapshots" / "5.ydoc"
    ).read_bytes() == (b"state")


async def test_s3_objects_use_the_layout_and_kms(aws_endpoint: str) -> None:
    bucket, key_id = await bucket_with_key(aws_endpoint, prefix="snapshots")
    tenant = uuid.uuid4()
    async with aclosing(
        S3SnapshotStore(bucket, kms_key_id=key_id, endpoint_url=aws_endpoint, region=REGION)
    ) as snapshots:
        await snapshots.put(_key(tenant, "dojo-kata", 9), b"state")
    objects = await _s3_objects(aws_endpoint, bucket)
    assert list(objects) == [f"dojos/{tenant}/dojo-kata/snapshots/9.ydoc"]
    head = objects[f"dojos/{tenant}/dojo-kata/snapshots/9.ydoc"]
    assert head["ServerSideEncryption"] == "aws:kms"
    assert key_id in head["SSEKMSKeyId"]


async def test_s3_without_a_key_id_still_asks_for_kms(aws_endpoint: str) -> None:
    bucket, _ = await bucket_with_key(aws_endpoint, prefix="snapshots")
    async with aclosing(
        S3SnapshotStore(bucket, endpoint_url=aws_endpoint, region=REGION)
    ) as snapshots:
        await snapshots.put("dojos/t/r/snapshots/1.ydoc", b"state")
        head = (await _s3_objects(aws_endpoint, bucket))["dojos/t/r/snapshots/1.ydoc"]
        assert head["ServerSideEncryption"] == "aws:kms"
        assert await snapshots.get("dojos/t/r/snapshots/1.ydoc") == b"state"


async def test_compaction_of_a_large_room_goes_to_s3_and_loads_back(
    aws_endpoint: str, collab_db: ServiceDatabase
) -> None:
    """The update log keeps big snapshots in S3 under the room's tenant and name."""
    bucket, key_id = await bucket_with_key(aws_endpoint, prefix="snapshots")
    snapshots = S3SnapshotStore(bucket, kms_key_id=key_id, endpoint_url=aws_endpoint, region=REGION)
    room = RoomId(uuid.uuid4(), f"dojo-{uuid.uuid4().hex[:8]}")
    doc = Doc()
    text = doc.get("code", type=Text)
    updates: list[bytes] = []
    doc.observe(lambda event: updates.append(event.update))
    for _ in range(6):  # incompressible text, more than fits inline in PostgreSQL
        text += os.urandom(INLINE_SNAPSHOT_BYTES // 8).hex()
    pool = await create_pool(collab_db.app_dsn, min_size=1, max_size=2)
    try:
        async with aclosing(snapshots), PostgresUpdateLog(pool, snapshots) as log:
            for update in updates:
                await log.append(room, update)
            seq = await compacted_seq(log, room)
            objects = await _s3_objects(aws_endpoint, bucket)
            assert list(objects) == [f"dojos/{room.tenant}/{room.name}/snapshots/{seq}.ydoc"]
            stored = await log.load(room)
        assert stored.snapshot_seq == seq
        assert stored.updates == []
        assert stored.snapshot is not None
        assert len(stored.snapshot) > INLINE_SNAPSHOT_BYTES
        restored = Doc()
        restored.apply_update(stored.snapshot)
        assert str(restored.get("code", type=Text)) == str(text)
    finally:
        await pool.close()


@pytest.fixture(params=["no-such-bucket", "unreachable"])
async def s3_failing(
    request: pytest.FixtureRequest,
    aws_endpoint: str,
    collab_db: ServiceDatabase,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[tuple[PostgresUpdateLog, RoomId, int]]:
    """A room whose snapshot is in S3, and an update log that fails to read it back: its
    bucket does not exist (an error answer), or S3 cannot be reached (no answer). Requested
    before ``start_node``, so that it outlives the node using it."""
    bucket, key_id = await bucket_with_key(aws_endpoint, prefix="snapshots")
    working = S3SnapshotStore(bucket, kms_key_id=key_id, endpoint_url=aws_endpoint, region=REGION)
    room = RoomId(uuid.uuid4(), f"dojo-{uuid.uuid4().hex[:8]}")
    doc: Doc = Doc()
    updates: list[bytes] = []
    doc.observe(lambda event: updates.append(event.update))
    doc.get("code", type=Text).insert(0, os.urandom(INLINE_SNAPSHOT_BYTES).hex())
    if request.param == "no-such-bucket":
        failing = S3SnapshotStore(f"{bucket}-gone", endpoint_url=aws_endpoint, region=REGION)
    else:
        monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # no retries: it fails at once
        failing = S3SnapshotStore(bucket, endpoint_url="http://127.0.0.1:1", region=REGION)
    pool = await create_pool(collab_db.app_dsn, min_size=1, max_size=4)
    try:
        async with aclosing(working), PostgresUpdateLog(pool, working) as log:
            for update in updates:
                await log.append(room, update)
            seq = await compacted_seq(log, room)
        async with aclosing(failing), PostgresUpdateLog(pool, failing) as log:
            yield log, room, seq
    finally:
        await pool.close()


async def _internal_states(
    stored: tuple[PostgresUpdateLog, RoomId, int], start_node: StartNode, mint: Mint
) -> list[tuple[int, Mapping[str, str], Any]]:
    """A node on ``stored``'s log answering GET state for the room (its load), then for its
    snapshot: status, headers and body of each."""
    log, room, seq = stored
    base = await start_node(update_log=log)
    http = base.replace("ws://", "http://").removesuffix("/collab")
    service = {"Authorization": f"Bearer {mint(room.key, role='service')}"}
    answers: list[tuple[int, Mapping[str, str], Any]] = []
    async with aiohttp.ClientSession() as session:
        for query in ({}, {"snapshot": str(seq)}):
            response = await session.get(
                f"{http}/internal/rooms/{room.key}/state", params=query, headers=service
            )
            answers.append(
                (response.status, response.headers, await response.json(content_type=None))
            )
    return answers


async def test_s3_failing_under_the_internal_api_is_a_503(
    s3_failing: tuple[PostgresUpdateLog, RoomId, int], start_node: StartNode, mint: Mint
) -> None:
    for status, headers, body in await _internal_states(s3_failing, start_node, mint):
        assert status == 503, body
        assert headers["Content-Type"].startswith("application/problem+json")
        assert headers["Retry-After"] == "1"


@pytest.fixture
async def s3_missing_blob(
    aws_endpoint: str, collab_db: ServiceDatabase
) -> AsyncIterator[tuple[PostgresUpdateLog, RoomId, int]]:
    """A room whose snapshot the log records in S3, and whose blob was deleted since."""
    bucket, key_id = await bucket_with_key(aws_endpoint, prefix="snapshots")
    snapshots = S3SnapshotStore(bucket, kms_key_id=key_id, endpoint_url=aws_endpoint, region=REGION)
    room = RoomId(uuid.uuid4(), f"dojo-{uuid.uuid4().hex[:8]}")
    doc: Doc = Doc()
    updates: list[bytes] = []
    doc.observe(lambda event: updates.append(event.update))
    doc.get("code", type=Text).insert(0, os.urandom(INLINE_SNAPSHOT_BYTES).hex())
    pool = await create_pool(collab_db.app_dsn, min_size=1, max_size=4)
    try:
        async with aclosing(snapshots), PostgresUpdateLog(pool, snapshots) as log:
            for update in updates:
                await log.append(room, update)
            seq = await compacted_seq(log, room)
            async with aioboto3.Session().client(
                "s3", endpoint_url=aws_endpoint, region_name=REGION
            ) as s3:
                await s3.delete_object(Bucket=bucket, Key=_key(room.tenant, room.name, seq))
            yield log, room, seq
    finally:
        await pool.close()


async def test_a_missing_snapshot_blob_under_the_internal_api_is_a_500_not_a_retry(
    s3_missing_blob: tuple[PostgresUpdateLog, RoomId, int], start_node: StartNode, mint: Mint
) -> None:
    """S3 answers NoSuchKey: the room's stored state is damaged, and asking again will not
    mend it. A 500 that says so, without Retry-After, not the 503 of an outage."""
    for status, headers, body in await _internal_states(s3_missing_blob, start_node, mint):
        assert status == 500, body
        assert headers["Content-Type"].startswith("application/problem+json")
        assert "Retry-After" not in headers
        assert body["status"] == 500
        assert "missing" in body["detail"]


async def test_s3_store_makes_one_client_for_its_lifetime(aws_endpoint: str) -> None:
    """Making an S3 client costs milliseconds of the node's event loop: the store makes one,
    on first use (however many first uses at once), and closes it when it is closed."""
    bucket, key_id = await bucket_with_key(aws_endpoint, prefix="snapshots")
    session = CountingSession()
    snapshots = S3SnapshotStore(
        bucket, kms_key_id=key_id, endpoint_url=aws_endpoint, region=REGION, session=session
    )
    assert session.opened == []  # nothing until it is used
    tenant = uuid.uuid4()
    keys = [_key(tenant, "dojo-kata", seq) for seq in range(8)]
    await asyncio.gather(*(snapshots.put(key, key.encode()) for key in keys))
    assert await asyncio.gather(*(snapshots.get(key) for key in keys)) == [
        key.encode() for key in keys
    ]
    for key in keys:
        await snapshots.put(key, b"again")
        assert await snapshots.get(key) == b"again"
    assert await snapshots.get(_key(tenant, "dojo-kata", 99)) is None
    assert session.opened == ["s3"]
    assert session.closed == 0

    await snapshots.aclose()
    assert session.closed == 1
    with pytest.raises(ClientClosed, match="S3SnapshotStore is closed"):
        await snapshots.get(keys[0])
    with pytest.raises(ClientClosed):
        await snapshots.put(keys[0], b"late")
    await snapshots.aclose()  # closing twice is harmless
    assert (session.opened, session.closed) == (["s3"], 1)  # a closed store opens no client


async def test_a_closed_s3_store_that_was_never_used_opened_nothing() -> None:
    session = CountingSession()
    snapshots = S3SnapshotStore("never-used", endpoint_url="http://127.0.0.1:1", session=session)
    await snapshots.aclose()
    with pytest.raises(ClientClosed):
        await snapshots.get("dojos/t/r/snapshots/1.ydoc")
    assert (session.opened, session.closed) == ([], 0)


async def test_the_node_closes_its_s3_store_at_shutdown(
    aws_endpoint: str,
    collab_db: ServiceDatabase,
    ticket_key: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The node builds its snapshot store from its settings, so it closes it when it stops."""
    bucket, key_id = await bucket_with_key(aws_endpoint, prefix="snapshots")
    session = CountingSession()
    monkeypatch.setattr(aioboto3, "Session", lambda: session)
    settings = CollabSettings(
        environment="test",
        ticket_public_key=ticket_key[1],
        database_url=collab_db.app_dsn,
        s3_bucket=bucket,
        s3_kms_key_id=key_id,
        s3_endpoint_url=aws_endpoint,
    )
    runner = web.AppRunner(create_app(settings), shutdown_timeout=2, access_log=None)
    await runner.setup()
    try:
        log = runner.app[UPDATE_LOG]
        room = RoomId(uuid.uuid4(), f"dojo-{uuid.uuid4().hex[:8]}")
        doc = Doc()
        updates: list[bytes] = []
        doc.observe(lambda event: updates.append(event.update))
        doc.get("code", type=Text).insert(0, os.urandom(INLINE_SNAPSHOT_BYTES).hex())
        for update in updates:
            await log.append(room, update)
        await compacted_seq(log, room)  # a snapshot too big to keep inline: it goes to S3
        assert (await log.load(room)).snapshot is not None
        assert (session.opened, session.closed) == (["s3"], 0)
    finally:
        await runner.cleanup()
    assert (session.opened, session.closed) == (["s3"], 1)
