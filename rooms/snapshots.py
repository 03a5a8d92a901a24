"""Snapshot blob stores: a local folder (default) and S3 with SSE-KMS (production)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any


class LocalSnapshotStore:
    def __init__(self, root: Path) -> None:
        self._root = root

    def _path(self, key: str) -> Path:
        path = (self._root / key).resolve()
        if not path.is_relative_to(self._root.resolve()):
            raise ValueError("snapshot key escapes the store")
        return path

    async def put(self, key: str, data: bytes) -> None:
        path = self._path(key)

        def write() -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(path.suffix + ".tmp")
            tmp.write_bytes(data)
            os.replace(tmp, path)  # readers never see half a snapshot

        await asyncio.to_thread(write)

    async def get(self, key: str) -> bytes | None:
        path = self._path(key)
        return await asyncio.to_thread(lambda: path.read_bytes() if path.exists() else None)


class S3SnapshotStore:
    def __init__(
        self, bucket: str, *, kms_key_id: str | None = None, endpoint_url: str | None = None
    ) -> None:
        self._bucket = bucket
        self._kms = kms_key_id
        self._endpoint = endpoint_url
        import aioboto3  # only production nodes pay for importing the AWS SDK

        self._session = aioboto3.Session()

    async def put(self, key: str, data: bytes) -> None:
        extra: dict[str, Any] = {}
        if self._kms:
            extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self._kms}
        async with self._session.client("s3", endpoint_url=self._endpoint) as s3:
            await s3.put_object(Bucket=self._bucket, Key=key, Body=data, **extra)

    async def get(self, key: str) -> bytes | None:
        async with self._session.client("s3", endpoint_url=self._endpoint) as s3:
            try:
                response = await s3.get_object(Bucket=self._bucket, Key=key)
            except s3.exceptions.NoSuchKey:
                return None
            async with response["Body"] as body:
                return await body.read()
