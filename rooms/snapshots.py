"""Snapshot blob stores: a local folder (default) and S3 with SSE-KMS (production).

Keys follow the design brief's layout, ``dojos/{tenant}/{room or dojo}/snapshots/...``, and
must be safe relative paths (:func:`platform_api.kernel.blobs.check_key`); any other key is a
``ValueError`` in every adapter, so a key that works locally works on S3 and the other way round.
Writes are atomic: a reader gets the previous object or the new one, never part of one.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path
from typing import Any

from platform_api.kernel.aws import read_object, shared_s3_client, sse_kms
from platform_api.kernel.blobs import BlobError, check_key


def checked_key(key: str) -> str:
    """Return ``key`` if it is a safe snapshot key; raise ``ValueError`` otherwise."""
    try:
        return check_key(key)
    except BlobError as exc:
        raise ValueError(str(exc)) from None


class LocalSnapshotStore:
    """A folder on disk (development and single-machine runs)."""

    def __init__(self, root: Path) -> None:
        self._root = root

    def _path(self, key: str) -> Path:
        path = (self._root / checked_key(key)).resolve()
        if not path.is_relative_to(self._root.resolve()):  # e.g. through a symlink
            raise ValueError("snapshot key escapes the store")
        return path

    async def put(self, key: str, data: bytes) -> None:
        path = self._path(key)

        def write() -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            # A unique temporary name: two writers of one key never share a half-written file.
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".snapshot-")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, path)  # readers never see half a snapshot
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise

        await asyncio.to_thread(write)

    async def get(self, key: str) -> bytes | None:
        path = self._path(key)
        return await asyncio.to_thread(lambda: path.read_bytes() if path.is_file() else None)

    async def delete(self, key: str) -> None:
        path = self._path(key)
        await asyncio.to_thread(path.unlink, missing_ok=True)

    async def aclose(self) -> None:
        """Nothing to release: files are opened per call."""


class S3SnapshotStore:
    """Amazon S3 through aioboto3 (non-blocking); every object is encrypted with SSE-KMS.

    Without ``kms_key_id`` the bucket's default KMS key is used (``aws:kms`` with no key id).
    ``region`` defaults to the SDK's own resolution (``AWS_REGION`` / ``AWS_DEFAULT_REGION``).
    One S3 client serves every call, opened by the first and closed by :meth:`aclose`; a
    closed store raises :class:`~platform_api.kernel.aws.ClientClosed`.
    """

    def __init__(
        self,
        bucket: str,
        *,
        kms_key_id: str | None = None,
        endpoint_url: str | None = None,
        region: str | None = None,
        session: Any = None,
    ) -> None:
        self._bucket = bucket
        self._kms = kms_key_id
        # (it imports the AWS SDK: only production nodes, which build this store, pay for it)
        self._s3 = shared_s3_client(
            session, owner="S3SnapshotStore", region=region, endpoint_url=endpoint_url
        )

    async def put(self, key: str, data: bytes) -> None:
        key = checked_key(key)
        s3 = await self._s3.get()
        await s3.put_object(
            Bucket=self._bucket,
            Key=key,
            Body=data,
            ContentType="application/octet-stream",
            **sse_kms(self._kms),
        )

    async def get(self, key: str) -> bytes | None:
        key = checked_key(key)
        return await read_object(await self._s3.get(), self._bucket, key)

    async def delete(self, key: str) -> None:
        key = checked_key(key)
        s3 = await self._s3.get()
        await s3.delete_object(Bucket=self._bucket, Key=key)  # no error for a missing key

    async def aclose(self) -> None:
        """Close the S3 client; the owner calls it once the store's users have stopped."""
        await self._s3.aclose()
