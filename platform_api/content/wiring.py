"""Build the content service's adapters from its settings (used by the app and the workers)."""

from __future__ import annotations

from pathlib import Path

from platform_api.kernel.blobs import BlobStore, LocalBlobStore, S3BlobStore
from platform_api.kernel.queues import JobQueue, MemoryQueue

from .settings import ContentSettings


def build_blob_store(settings: ContentSettings) -> BlobStore:
    if settings.blob_backend == "s3":
        return S3BlobStore(
            settings.s3_bucket,
            kms_key_id=settings.s3_kms_key_id or None,
            region=settings.aws_region,
            endpoint_url=settings.aws_endpoint_url or None,
        )
    return LocalBlobStore(
        Path(settings.blob_dir),
        base_url=f"{settings.public_base_url.rstrip('/')}/files",
        secret=settings.download_secret.get_secret_value().encode(),
    )


def build_queue(settings: ContentSettings, *, consumer: str | None = None) -> JobQueue:
    if settings.queue_backend == "sqs":
        from platform_api.kernel.queues.sqs import SqsQueue

        return SqsQueue(
            settings.sqs_queue_url,
            settings.sqs_dead_letter_url,
            visibility_timeout=settings.visibility_timeout_seconds,
            region=settings.aws_region,
            endpoint_url=settings.aws_endpoint_url or None,
        )
    if settings.queue_backend == "redis":
        from platform_api.kernel.queues.redis_streams import RedisStreamsQueue

        return RedisStreamsQueue(
            settings.redis_url or "redis://127.0.0.1:6379/0",
            settings.queue_name,
            visibility_timeout=settings.visibility_timeout_seconds,
            consumer=consumer,
        )
    return MemoryQueue(visibility_timeout=settings.visibility_timeout_seconds)
