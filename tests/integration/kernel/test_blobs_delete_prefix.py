"""Deleting a folder of keys (erasure), on every blob store adapter: memory, local folder,
S3 (moto's server)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import aclosing
from pathlib import Path
from typing import Any

import pytest

from platform_api.kernel import blobs as blobs_module
from platform_api.kernel.blobs import (
    BlobError,
    BlobStore,
    LocalBlobStore,
    MemoryBlobStore,
    S3BlobStore,
)
from tests.harness.moto import bucket_with_key


@pytest.fixture(params=["memory", "local", "s3"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[BlobStore]:
    blobs: BlobStore
    if request.param == "memory":
        blobs = MemoryBlobStore()
    elif request.param == "local":
        blobs = LocalBlobStore(tmp_path / "objects", base_url="http://x/files", secret=b"k")
    else:
        endpoint = request.getfixturevalue("aws_endpoint")
        bucket, key_id = await bucket_with_key(endpoint, prefix="prefix")
        blobs = S3BlobStore(bucket, kms_key_id=key_id, endpoint_url=endpoint)
    async with aclosing(blobs):
        yield blobs


async def _put(blobs: BlobStore, *keys: str) -> None:
    for key in keys:
        await blobs.put_bytes(key, key.encode(), content_type="application/pdf")


async def _present(blobs: BlobStore, *keys: str) -> set[str]:
    return {key for key in keys if await blobs.exists(key)}


async def test_everything_under_the_folder_goes_and_nothing_else(store: BlobStore) -> None:
    tenant = uuid.uuid4().hex
    doomed = (
        f"tenants/{tenant}/users/u/reports/1.pdf",
        f"tenants/{tenant}/users/u/reports/deep/2.pdf",
        f"tenants/{tenant}/users/v/reports/3.pdf",
    )
    kept = (
        f"tenants/{tenant}x/users/u/reports/1.pdf",  # a sibling whose name starts the same
        f"videos/{tenant}/u/2025/1.mp4",
    )
    await _put(store, *doomed, *kept)
    assert await store.delete_prefix(f"tenants/{tenant}/") == 3
    assert await _present(store, *doomed, *kept) == set(kept)
    assert await store.delete_prefix(f"tenants/{tenant}/") == 0  # idempotent
    assert await store.delete_prefix(f"tenants/{uuid.uuid4().hex}/") == 0  # never existed


async def test_a_member_folder_leaves_the_colleagues(store: BlobStore) -> None:
    tenant = uuid.uuid4().hex
    mine, theirs = f"videos/{tenant}/me/2025/1.mp4", f"videos/{tenant}/them/2025/2.mp4"
    await _put(store, mine, theirs)
    assert await store.delete_prefix(f"videos/{tenant}/me/") == 1
    assert await _present(store, mine, theirs) == {theirs}


@pytest.mark.parametrize(
    "prefix", ["", "/", "tenants", "tenants/t", "/tenants/", "../t/", "a/../b/", "a//", "a/b//"]
)
async def test_a_prefix_that_is_not_a_safe_folder_is_refused(store: BlobStore, prefix: str) -> None:
    with pytest.raises(BlobError):
        await store.delete_prefix(prefix)


async def test_s3_deletes_page_by_page(aws_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A page of the listing is one DeleteObjects call; with pages of 2 keys, 5 keys take
    three calls, and none is missed."""
    monkeypatch.setattr(blobs_module, "S3_DELETE_BATCH", 2)
    batches: list[int] = []
    delete_batch = S3BlobStore._delete_batch

    async def counted(self: S3BlobStore, s3: Any, prefix: str, keys: list[Any]) -> None:
        batches.append(len(keys))
        await delete_batch(self, s3, prefix, keys)

    monkeypatch.setattr(S3BlobStore, "_delete_batch", counted)
    bucket, key_id = await bucket_with_key(aws_endpoint, prefix="pages")
    keys = [f"tenants/t/users/u/reports/{n}.pdf" for n in range(5)]
    async with aclosing(S3BlobStore(bucket, kms_key_id=key_id, endpoint_url=aws_endpoint)) as s3:
        await _put(s3, *keys, "tenants/other/users/u/reports/0.pdf")
        assert await s3.delete_prefix("tenants/t/") == 5
        assert batches == [2, 2, 1]
        assert await _present(s3, *keys, "tenants/other/users/u/reports/0.pdf") == {
            "tenants/other/users/u/reports/0.pdf"
        }


async def test_local_deletion_never_leaves_the_root(tmp_path: Path) -> None:
    """Links inside the folder are removed, not followed; a folder reached through a link
    (which may lie anywhere) is refused."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious.txt").write_text("keep me")
    root = tmp_path / "objects"
    blobs = LocalBlobStore(root, base_url="http://x/files", secret=b"k")
    await _put(blobs, "tenants/t/users/u/reports/1.pdf")
    (root / "tenants/t/users/u/elsewhere").symlink_to(outside, target_is_directory=True)
    (root / "tenants/linked").symlink_to(outside, target_is_directory=True)

    assert await blobs.delete_prefix("tenants/t/") == 1
    assert not (root / "tenants/t").exists()
    with pytest.raises(BlobError, match="link"):
        await blobs.delete_prefix("tenants/linked/")
    assert (outside / "precious.txt").read_text() == "keep me"
