"""moto's AWS server as a subprocess on a free port: SNS, SQS and S3 without an AWS account."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from typing import Any

import httpx

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "sa-east-1",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def moto_server() -> Iterator[str]:
    """Start ``moto.server`` and yield its endpoint URL; stop it on exit."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **FAKE_CREDENTIALS},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/moto-api/", timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("moto server did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


async def sns_to_sqs(
    endpoint: str, topics: list[str], *, name: str, visibility_timeout: int = 30
) -> tuple[dict[str, str], str]:
    """Create one SNS topic per name in ``topics`` and a queue subscribed to all of them."""
    import aioboto3

    session = aioboto3.Session()
    region = FAKE_CREDENTIALS["AWS_DEFAULT_REGION"]
    async with (
        session.client("sns", endpoint_url=endpoint, region_name=region) as sns,
        session.client("sqs", endpoint_url=endpoint, region_name=region) as sqs,
    ):
        queue_url = (
            await sqs.create_queue(
                QueueName=name, Attributes={"VisibilityTimeout": str(visibility_timeout)}
            )
        )["QueueUrl"]
        queue_arn = (
            await sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
        )["Attributes"]["QueueArn"]
        arns = {}
        for topic in topics:
            arn = (await sns.create_topic(Name=f"{name}-{topic}"))["TopicArn"]
            await sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn)
            arns[topic] = arn
    return arns, queue_url


async def bucket_with_key(endpoint: str, *, prefix: str = "bucket") -> tuple[str, str]:
    """A fresh S3 bucket and a KMS key on moto's server: (bucket name, key id)."""
    import aioboto3

    session = aioboto3.Session()
    region = FAKE_CREDENTIALS["AWS_DEFAULT_REGION"]
    bucket = f"{prefix}-{uuid.uuid4().hex[:8]}"
    async with session.client("s3", endpoint_url=endpoint, region_name=region) as s3:
        await s3.create_bucket(
            Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region}
        )
    async with session.client("kms", endpoint_url=endpoint, region_name=region) as kms:
        key_id = (await kms.create_key())["KeyMetadata"]["KeyId"]
    return bucket, key_id


class CountingSession:
    """An aioboto3 session that counts the clients it makes and the ones closed since: an
    adapter that made a client per call would show it here."""

    def __init__(self) -> None:
        import aioboto3

        self._session = aioboto3.Session()
        self.opened: list[str] = []  # the service of each client made
        self.closed = 0

    def client(self, service: str, **kwargs: Any) -> AbstractAsyncContextManager[Any]:
        self.opened.append(service)
        return self._counted(self._session.client(service, **kwargs))

    @asynccontextmanager
    async def _counted(self, creating: AbstractAsyncContextManager[Any]) -> AsyncIterator[Any]:
        try:
            async with creating as client:
                yield client
        finally:
            self.closed += 1
