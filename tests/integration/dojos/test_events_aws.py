"""The dojo service's events on the production bus: its outbox relayed to SNS, read from the
search service's SQS queue (both on moto's server)."""

from __future__ import annotations

import uuid

import asyncpg

from platform_api.dojos import DojosSettings
from platform_api.dojos.worker import publisher_for
from platform_api.kernel.events import BusConfig, create_consumer
from platform_api.kernel.events_aws import SnsPublisher
from platform_api.kernel.outbox import OutboxRelay
from tests.harness.dojos import MakeDojo
from tests.harness.moto import sns_to_sqs
from tests.integration.conftest import SignUp


async def test_dojo_events_reach_an_sqs_queue_through_sns(
    aws_endpoint: str,
    dojos_settings: DojosSettings,
    dojos_owner_pool: asyncpg.Pool,
    sign_up: SignUp,
    make_dojo: MakeDojo,
) -> None:
    arns, queue_url = await sns_to_sqs(aws_endpoint, ["dojo"], name=f"dojo-{uuid.uuid4().hex[:8]}")
    settings = DojosSettings(
        environment="test",
        database_url=dojos_settings.database_url,
        event_bus="aws",
        event_topic_arns=arns,
        aws_endpoint_url=aws_endpoint,
    )
    publisher = await publisher_for(settings)
    assert isinstance(publisher, SnsPublisher)
    owner = await sign_up()
    dojo = await make_dojo(owner, name="Kata on the production bus")
    try:
        await OutboxRelay(dojos_owner_pool, publisher).drain()
    finally:
        await publisher.aclose()

    config = BusConfig(kind="aws", queue_url=queue_url, aws_endpoint_url=aws_endpoint)
    consumer = await create_consumer(config, topics=["dojo"], group="search", name="c1")
    try:
        seen = []
        for _ in range(10):
            deliveries = await consumer.receive(max_messages=10, wait_seconds=1)
            seen += [d.event for d in deliveries]
            await consumer.ack(deliveries)
            if any(str(e.aggregate_id) == dojo["dojo_id"] for e in seen):
                break
    finally:
        await consumer.aclose()
    ours = [e for e in seen if str(e.aggregate_id) == dojo["dojo_id"]]
    assert [e.type for e in ours] == ["dojo.created"]
    assert ours[0].payload["name"] == "Kata on the production bus"
    assert str(ours[0].tenant_id) == owner.tenant_id
