"""Object storage port: a small blob store with three adapters (memory, local folder, S3).

Keys are ``/``-separated relative paths (``tenants/{tenant}/users/{user}/reports/{id}.pdf``).
Every write is atomic: readers see the old object or the new one, never half of one, so a
worker that dies mid-upload leaves nothing behind and a retried job may simply write again.
Download links are S3 presigned URLs in production; locally they are HMAC-signed, short-lived
URLs that the owning service serves (see :meth:`LocalBlobStore.open_signed`). A whole folder
of keys (``tenants/{tenant}/``) can be deleted at once, for erasure.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import os
import re
import shutil
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote, urlencode

from .aws import read_object, shared_s3_client, sse_kms

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]*(/[A-Za-z0-9][A-Za-z0-9._\-]*)*$")
# S3 deletes at most 1000 keys per DeleteObjects call, and lists at most 1000 per page.
S3_DELETE_BATCH = 1000


class BlobError(Exception):
    """A key that is malformed, a signed URL that is invalid or expired, or objects that the
    store would not delete."""


class LinkInvalid(BlobError):
    """A signed URL whose signature does not match: forged, altered, or for another key."""


class LinkExpired(BlobError):
    """A signed URL, genuine, whose time is over."""


class NoSuchObject(BlobError):
    """A signed URL, genuine and current, to an object that is no longer there."""


def _is_safe(key: str) -> bool:
    return len(key) <= 1024 and bool(_KEY.fullmatch(key)) and ".." not in key.split("/")


def check_key(key: str) -> str:
    """Return ``key`` if it is a safe relative path (no ``..``, no leading ``/``)."""
    if not _is_safe(key):
        raise BlobError(f"invalid object key: {key!r}")
    return key


def check_prefix(prefix: str) -> str:
    """Return ``prefix`` if it names a folder of keys: a safe key and a trailing ``/``.

    The slash keeps ``tenants/a/`` from matching ``tenants/ab/…`` as well, and the empty
    prefix (the whole store) is refused: no call deletes everything by mistake.
    """
    if not prefix.endswith("/") or not _is_safe(prefix[:-1]):
        raise BlobError(f"invalid prefix: {prefix!r} (a key folder such as 'a/b/')")
    return prefix


class BlobStore(Protocol):
    """Where generated files live."""

    async def put_file(self, key: str, path: Path, *, content_type: str) -> None:
        """Upload the file at ``path`` to ``key`` (atomically, replacing any previous one)."""
        ...

    async def put_bytes(self, key: str, data: bytes, *, content_type: str) -> None: ...

    async def get_bytes(self, key: str) -> bytes | None: ...

    async def exists(self, key: str) -> bool: ...

    async def delete(self, key: str) -> None:
        """Remove ``key``; removing a missing key is not an error."""
        ...

    async def delete_prefix(self, prefix: str) -> int:
        """Remove every object under the folder ``prefix`` (``a/b/``), whichever request
        wrote it, and return how many there were; an empty folder is not an error. Erasure
        uses it to remove files that no row names any more."""
        ...

    async def download_url(
        self, key: str, *, expires_in: int, filename: str | None = None
    ) -> str: ...

    async def aclose(self) -> None:
        """Release what the store holds (an S3 client); its builder calls it at shutdown."""
        ...


class MemoryBlobStore:
    """In-process dictionary, for unit tests and single-process development only."""

    def __init__(self) -> None:
        self.objects: dict[str, tuple[bytes, str]] = {}

    async def put_file(self, key: str, path: Path, *, content_type: str) -> None:
        data = await asyncio.to_thread(path.read_bytes)
        await self.put_bytes(key, data, content_type=content_type)

    async def put_bytes(self, key: str, data: bytes, *, content_type: str) -> None:
        self.objects[check_key(key)] = (data, content_type)

    async def get_bytes(self, key: str) -> bytes | None:
        found = self.objects.get(check_key(key))
        return found[0] if found else None

    async def exists(self, key: str) -> bool:
        return check_key(key) in self.objects

    async def delete(self, key: str) -> None:
        self.objects.pop(check_key(key), None)

    async def delete_prefix(self, prefix: str) -> int:
        prefix = check_prefix(prefix)
        under = [key for key in self.objects if key.startswith(prefix)]
        for key in under:
            del self.objects[key]
        return len(under)

    async def download_url(self, key: str, *, expires_in: int, filename: str | None = None) -> str:
        return f"memory://{check_key(key)}?expires={int(time.time()) + expires_in}"

    async def aclose(self) -> None:
        """Nothing to release."""


class LocalBlobStore:
    """A folder on disk; download URLs are signed with ``secret`` and served under ``base_url``."""

    def __init__(self, root: Path, *, base_url: str, secret: bytes) -> None:
        if not secret:
            raise ValueError("a signing secret is required")
        self.root = root
        self.base_url = base_url.rstrip("/")
        self._secret = secret

    def path_of(self, key: str) -> Path:
        return self.root / check_key(key)

    async def put_file(self, key: str, path: Path, *, content_type: str) -> None:
        await asyncio.to_thread(self._write, key, path.read_bytes)

    async def put_bytes(self, key: str, data: bytes, *, content_type: str) -> None:
        await asyncio.to_thread(self._write, key, lambda: data)

    def _write(self, key: str, read: Any) -> None:
        target = self.path_of(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(read())
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)  # atomic on POSIX: readers never see a partial file
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    async def get_bytes(self, key: str) -> bytes | None:
        path = self.path_of(key)
        return await asyncio.to_thread(path.read_bytes) if path.is_file() else None

    async def exists(self, key: str) -> bool:
        return self.path_of(key).is_file()

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.path_of(key).unlink, missing_ok=True)

    async def delete_prefix(self, prefix: str) -> int:
        return await asyncio.to_thread(self._delete_folder, check_prefix(prefix))

    def _delete_folder(self, prefix: str) -> int:
        """Remove the folder of ``prefix`` and count its files (uploads in progress too).

        A folder reached through a link is refused (it may lie outside the root); links
        inside it are removed, never followed (``shutil.rmtree``), so nothing outside the
        root is touched."""
        folder = self.root / prefix
        if folder.resolve() != self.root.resolve() / prefix:
            raise BlobError(f"{prefix!r} leads through a link: not deleting it")
        if not folder.is_dir():
            return 0
        found = sum(len(files) for _, _, files in os.walk(folder))
        with contextlib.suppress(FileNotFoundError):  # another erasure of it got there first
            shutil.rmtree(folder)
        return found

    def _signature(self, key: str, expires: int, filename: str) -> str:
        message = f"{key}\n{expires}\n{filename}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    async def download_url(self, key: str, *, expires_in: int, filename: str | None = None) -> str:
        expires = int(time.time()) + expires_in
        name = filename or ""
        query = urlencode(
            {"expires": expires, "filename": name, "sig": self._signature(key, expires, name)}
        )
        return f"{self.base_url}/{quote(check_key(key))}?{query}"

    def open_signed(self, key: str, params: Mapping[str, str]) -> Path:
        """The file behind a signed URL; :class:`BlobError` if forged, expired or gone."""
        try:
            expires = int(params.get("expires", ""))
        except ValueError:
            raise LinkInvalid("invalid signature") from None
        expected = self._signature(check_key(key), expires, params.get("filename", ""))
        if not hmac.compare_digest(expected, params.get("sig", "")):
            raise LinkInvalid("invalid signature")
        if expires < time.time():
            raise LinkExpired("the link has expired")
        path = self.path_of(key)
        if not path.is_file():
            raise NoSuchObject("no such object")
        return path

    async def aclose(self) -> None:
        """Nothing to release: files are opened per call."""


class S3BlobStore:
    """Amazon S3 (aioboto3); every object is encrypted with SSE-KMS under ``kms_key_id``.

    One S3 client serves every call (presigning included), opened by the first and closed by
    :meth:`aclose`; a closed store raises :class:`~platform_api.kernel.aws.ClientClosed`.
    """

    def __init__(
        self,
        bucket: str,
        *,
        kms_key_id: str | None,
        region: str = "sa-east-1",
        endpoint_url: str | None = None,
        session: Any = None,
    ) -> None:
        self.bucket = bucket
        self.kms_key_id = kms_key_id
        self._s3 = shared_s3_client(
            session,
            owner="S3BlobStore",
            region=region,
            endpoint_url=endpoint_url,
            signature_version="s3v4",  # SigV4 presigned URLs (required with SSE-KMS objects)
        )

    async def put_file(self, key: str, path: Path, *, content_type: str) -> None:
        key = check_key(key)
        s3 = await self._s3.get()
        await s3.upload_file(
            str(path),
            self.bucket,
            key,
            ExtraArgs={"ContentType": content_type, **sse_kms(self.kms_key_id)},
        )

    async def put_bytes(self, key: str, data: bytes, *, content_type: str) -> None:
        key = check_key(key)
        s3 = await self._s3.get()
        await s3.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=data,
            ContentType=content_type,
            **sse_kms(self.kms_key_id),
        )

    async def get_bytes(self, key: str) -> bytes | None:
        key = check_key(key)
        return await read_object(await self._s3.get(), self.bucket, key)

    async def exists(self, key: str) -> bool:
        key = check_key(key)
        s3 = await self._s3.get()
        try:
            await s3.head_object(Bucket=self.bucket, Key=key)
        except s3.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey"):
                return False
            raise
        return True

    async def delete(self, key: str) -> None:
        key = check_key(key)
        s3 = await self._s3.get()
        await s3.delete_object(Bucket=self.bucket, Key=key)

    async def delete_prefix(self, prefix: str) -> int:
        """List the keys a page at a time and delete each page with one DeleteObjects call
        (a page holds at most ``S3_DELETE_BATCH`` keys, the most one call may delete)."""
        prefix = check_prefix(prefix)
        s3 = await self._s3.get()
        pages = s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix, PaginationConfig={"PageSize": S3_DELETE_BATCH}
        )
        deleted = 0
        async for page in pages:
            keys = [{"Key": item["Key"]} for item in page.get("Contents", ())]
            if keys:
                await self._delete_batch(s3, prefix, keys)
                deleted += len(keys)
        return deleted

    async def _delete_batch(self, s3: Any, prefix: str, keys: list[dict[str, str]]) -> None:
        """Delete ``keys``; DeleteObjects answers 200 even when some stay, so check its
        errors: an object left behind must fail the call, for the caller to try again."""
        answer = await s3.delete_objects(
            Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True}
        )
        if errors := answer.get("Errors"):
            first = errors[0]
            raise BlobError(
                f"S3 kept {len(errors)} of {len(keys)} objects under {prefix!r}"
                f" ({first.get('Code')}: {first.get('Key')})"
            )

    async def download_url(self, key: str, *, expires_in: int, filename: str | None = None) -> str:
        params: dict[str, str] = {"Bucket": self.bucket, "Key": check_key(key)}
        if filename:
            params["ResponseContentDisposition"] = f'attachment; filename="{filename}"'
        s3 = await self._s3.get()
        return str(
            await s3.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_in)
        )

    async def aclose(self) -> None:
        """Close the S3 client; the owner calls it once the store's users have stopped."""
        await self._s3.aclose()
