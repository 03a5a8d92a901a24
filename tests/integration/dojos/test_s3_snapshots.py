"""The dojo service on S3: it builds its snapshot store from its settings, so it closes it."""

from __future__ import annotations

import aioboto3
import pytest

from platform_api.dojos import DojosSettings, build_context
from platform_api.dojos.collab import MemoryCollab
from tests.harness.moto import CountingSession, bucket_with_key


async def test_the_dojo_service_closes_its_s3_snapshot_store(
    aws_endpoint: str, dojos_settings: DojosSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket, key_id = await bucket_with_key(aws_endpoint, prefix="dojo-objects")
    session = CountingSession()
    monkeypatch.setattr(aioboto3, "Session", lambda: session)
    settings = dojos_settings.model_copy(
        update={"s3_bucket": bucket, "s3_kms_key_id": key_id, "s3_endpoint_url": aws_endpoint}
    )
    key = "dojos/t/d/snapshots/20260102T030405.123456Z.json"
    async with build_context(settings, collab=MemoryCollab()) as ctx:
        await ctx.blobs.put(key, b'{"code": ""}')
        assert await ctx.blobs.get(key) == b'{"code": ""}'
        assert (session.opened, session.closed) == (["s3"], 0)
    assert (session.opened, session.closed) == (["s3"], 1)
