"""One contract, every blob store adapter: memory, local folder, S3 (moto's server, SSE-KMS)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import aclosing
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import aioboto3
import httpx
import pytest

from platform_api.kernel.aws import ClientClosed
from platform_api.kernel.blobs import (
    BlobError,
    BlobStore,
    LinkExpired,
    LinkInvalid,
    LocalBlobStore,
    MemoryBlobStore,
    NoSuchObject,
    S3BlobStore,
)
from tests.harness.moto import CountingSession, bucket_with_key


@pytest.fixture(params=["memory", "local", "s3"])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[str, BlobStore]]:
    blobs: BlobStore
    if request.param == "memory":
        blobs = MemoryBlobStore()
    elif request.param == "local":
        blobs = LocalBlobStore(tmp_path, base_url="http://x/files", secret=b"k")
    else:
        endpoint = request.getfixturevalue("aws_endpoint")
        bucket, key_id = await bucket_with_key(endpoint, prefix="blobs")
        blobs = S3BlobStore(bucket, kms_key_id=key_id, endpoint_url=endpoint)
    async with aclosing(blobs):  # every adapter closes, whichever it is
        yield request.param, blobs


async def test_put_get_replace_delete(store: tuple[str, BlobStore], tmp_path: Path) -> None:
    _, blobs = store
    key = f"tenants/{uuid.uuid4()}/users/u/reports/r.pdf"
    assert await blobs.get_bytes(key) is None
    assert not await blobs.exists(key)
    await blobs.put_bytes(key, b"first", content_type="application/pdf")
    assert await blobs.get_bytes(key) == b"first"
    source = tmp_path / "upload.bin"
    source.write_bytes(b"second" * 1000)
    await blobs.put_file(key, source, content_type="application/pdf")  # same key: replaced
    assert await blobs.get_bytes(key) == b"second" * 1000
    assert await blobs.exists(key)
    await blobs.delete(key)
    await blobs.delete(key)  # idempotent
    assert not await blobs.exists(key)


@pytest.mark.parametrize("key", ["../etc/passwd", "/abs", "a//b", "a/../b", "", "a/b\n"])
async def test_unsafe_keys_are_refused(store: tuple[str, BlobStore], key: str) -> None:
    _, blobs = store
    with pytest.raises(BlobError):
        await blobs.put_bytes(key, b"x", content_type="text/plain")


async def test_download_url_serves_the_object(store: tuple[str, BlobStore]) -> None:
    kind, blobs = store
    key = f"videos/{uuid.uuid4()}/u/2025/r.mp4"
    await blobs.put_bytes(key, b"movie", content_type="video/mp4")
    url = await blobs.download_url(key, expires_in=60, filename="r.mp4")
    if kind == "s3":
        async with httpx.AsyncClient() as client:
            response = await client.get(url)
        assert response.status_code == 200
        assert response.content == b"movie"
        assert "X-Amz-Expires=60" in url
    elif kind == "local":
        assert isinstance(blobs, LocalBlobStore)
        parts = urlsplit(url)
        params = dict(parse_qsl(parts.query))
        served_key = parts.path.removeprefix("/files/")
        assert blobs.open_signed(served_key, params).read_bytes() == b"movie"
        with pytest.raises(LinkInvalid):
            blobs.open_signed(served_key, {**params, "sig": "0" * 64})
        with pytest.raises(LinkInvalid):
            blobs.open_signed(served_key, {**params, "expires": str(int(time.time()) + 999)})
        with pytest.raises(LinkInvalid):
            blobs.open_signed(f"videos/{uuid.uuid4()}/u/2025/r.mp4", params)
        stale = await blobs.download_url(key, expires_in=-1, filename="r.mp4")
        with pytest.raises(LinkExpired):
            blobs.open_signed(served_key, dict(parse_qsl(urlsplit(stale).query)))
        await blobs.delete(key)
        with pytest.raises(NoSuchObject):
            blobs.open_signed(served_key, params)


async def test_s3_objects_are_encrypted_with_kms(aws_endpoint: str) -> None:
    session = aioboto3.Session()
    bucket = f"sse-{uuid.uuid4().hex[:8]}"
    async with session.client("s3", endpoint_url=aws_endpoint, region_name="sa-east-1") as s3:
        await s3.create_bucket(
            Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "sa-east-1"}
        )
        blobs = S3BlobStore(bucket, kms_key_id="alias/mrbill", endpoint_url=aws_endpoint)
        async with aclosing(blobs):
            await blobs.put_bytes("a/b.pdf", b"x", content_type="application/pdf")
        head = await s3.head_object(Bucket=bucket, Key="a/b.pdf")
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["ContentType"] == "application/pdf"


async def test_s3_store_makes_one_client_for_its_lifetime(
    aws_endpoint: str, tmp_path: Path
) -> None:
    """Making an S3 client costs milliseconds of the event loop: the store makes one, on first
    use (however many first uses at once), presigns with it too, and closes it when closed."""
    bucket, key_id = await bucket_with_key(aws_endpoint, prefix="blobs")
    session = CountingSession()
    blobs = S3BlobStore(bucket, kms_key_id=key_id, endpoint_url=aws_endpoint, session=session)
    assert session.opened == []  # nothing until it is used
    keys = [f"tenants/{uuid.uuid4()}/users/u/reports/{n}.pdf" for n in range(6)]
    await asyncio.gather(
        *(blobs.put_bytes(key, key.encode(), content_type="application/pdf") for key in keys)
    )
    assert await asyncio.gather(*(blobs.get_bytes(key) for key in keys)) == [
        key.encode() for key in keys
    ]
    source = tmp_path / "upload.bin"
    source.write_bytes(b"file")
    await blobs.put_file(keys[0], source, content_type="application/pdf")
    assert await blobs.exists(keys[0])
    url = await blobs.download_url(keys[0], expires_in=60, filename="0.pdf")
    async with httpx.AsyncClient() as client:
        assert (await client.get(url)).content == b"file"
    await blobs.delete(keys[1])
    assert not await blobs.exists(keys[1])
    assert await blobs.get_bytes(keys[1]) is None
    assert (session.opened, session.closed) == (["s3"], 0)

    await blobs.aclose()
    assert session.closed == 1
    with pytest.raises(ClientClosed, match="S3BlobStore is closed"):
        await blobs.get_bytes(keys[0])
    with pytest.raises(ClientClosed):
        await blobs.download_url(keys[0], expires_in=60)
    await blobs.aclose()  # closing twice is harmless
    assert (session.opened, session.closed) == (["s3"], 1)  # a closed store opens no client


async def test_an_unsafe_key_is_refused_before_any_client_is_made() -> None:
    session = CountingSession()
    blobs = S3BlobStore(
        "unused", kms_key_id=None, endpoint_url="http://127.0.0.1:1", session=session
    )
    async with aclosing(blobs):
        with pytest.raises(BlobError):
            await blobs.put_bytes("../etc/passwd", b"x", content_type="text/plain")
    assert session.opened == []
