"""The content service on S3: it builds its blob store from its settings, so it closes it."""

from __future__ import annotations

import aioboto3
import pytest

from platform_api.content.app import create_app
from platform_api.content.pocs import MemoryPocSource
from platform_api.content.service import Content
from platform_api.content.settings import ContentSettings
from platform_api.kernel.queues import MemoryQueue
from tests.harness.asgi import serve
from tests.harness.moto import CountingSession, bucket_with_key


async def test_the_content_service_closes_its_s3_blob_store(
    aws_endpoint: str, content_settings: ContentSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket, key_id = await bucket_with_key(aws_endpoint, prefix="content")
    session = CountingSession()
    monkeypatch.setattr(aioboto3, "Session", lambda: session)
    settings = content_settings.model_copy(
        update={
            "blob_backend": "s3",
            "s3_bucket": bucket,
            "s3_kms_key_id": key_id,
            "aws_endpoint_url": aws_endpoint,
        }
    )
    app = create_app(settings, pocs=MemoryPocSource(), queue=MemoryQueue())
    async with serve(app):
        content: Content = app.state.content
        await content.blobs.put_bytes(
            "tenants/t/users/u/reports/r.pdf", b"%PDF", content_type="application/pdf"
        )
        assert await content.blobs.exists("tenants/t/users/u/reports/r.pdf")
        assert (session.opened, session.closed) == (["s3"], 0)
    assert (session.opened, session.closed) == (["s3"], 1)
