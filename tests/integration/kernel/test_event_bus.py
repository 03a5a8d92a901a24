"""One contract, every event-bus adapter: in memory, Redis Streams, and SNS→SQS on moto."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass

import aioboto3
import pytest
import redis.asyncio as aioredis
from structlog.testing import capture_logs

from platform_api.kernel.events import (
    BusConfig,
    Consumer,
    Delivery,
    Event,
    InMemoryBus,
    MalformedEvent,
    Publisher,
    create_consumer,
    create_publisher,
    new_event,
)
from platform_api.kernel.events_aws import SnsPublisher, entry_size
from platform_api.kernel.events_redis import RedisStreamsConsumer
from tests.harness.moto import FAKE_CREDENTIALS, sns_to_sqs

REDELIVER_AFTER = 1.0


@dataclass
class Bus:
    publisher: Publisher
    consumer: Consumer
    inject_garbage: Callable[[], Awaitable[None]]


@pytest.fixture(params=["memory", "redis", "aws"])
async def bus(request: pytest.FixtureRequest, redis_url: str) -> AsyncIterator[Bus]:
    name = f"test-{uuid.uuid4().hex[:8]}"
    if request.param == "memory":
        memory = InMemoryBus(topics=["poc"], redeliver_after=REDELIVER_AFTER)

        async def garbage() -> None:
            return None

        yield Bus(memory, memory, garbage)
        return
    if request.param == "redis":
        config = BusConfig(kind="redis", redis_url=redis_url, stream_prefix=name)
        publisher = await create_publisher(config)
        consumer = await RedisStreamsConsumer.open(
            redis_url,
            topics=["poc"],
            group="search",
            name="c1",
            prefix=name,
            claim_idle_seconds=REDELIVER_AFTER,
        )
        client = aioredis.Redis.from_url(redis_url)

        async def garbage() -> None:
            await client.xadd(f"{name}:poc", {"event": b"{not json"})
            await client.xadd(f"{name}:poc", {"other": b"x"})

        yield Bus(publisher, consumer, garbage)
        await client.delete(f"{name}:poc", f"{name}:dojo")
        for closeable in (client, publisher, consumer):
            await closeable.aclose()
        return
    endpoint = request.getfixturevalue("aws_endpoint")
    arns, queue_url = await sns_to_sqs(
        endpoint, ["poc"], name=name, visibility_timeout=int(REDELIVER_AFTER)
    )
    config = BusConfig(kind="aws", topic_arns=arns, queue_url=queue_url, aws_endpoint_url=endpoint)
    publisher = await create_publisher(config)
    consumer = await create_consumer(config, topics=["poc"], group="search", name="c1")

    async def garbage() -> None:
        region = FAKE_CREDENTIALS["AWS_DEFAULT_REGION"]
        async with aioboto3.Session().client(
            "sqs", endpoint_url=endpoint, region_name=region
        ) as sqs:
            await sqs.send_message(QueueUrl=queue_url, MessageBody="{not json")

    yield Bus(publisher, consumer, garbage)
    await publisher.aclose()
    await consumer.aclose()


def _event(kind: str = "poc.updated", version: int = 1) -> Event:
    return new_event(
        kind,
        tenant_id=uuid.uuid4(),
        aggregate_id=uuid.uuid4(),
        version=version,
        payload={"name": "Ação ✓", "tags": ["a", "b"], "n": 1},
    )


async def _receive_until(consumer: Consumer, count: int, within: float = 10) -> list[Delivery]:
    deliveries: list[Delivery] = []
    deadline = time.monotonic() + within
    while len(deliveries) < count and time.monotonic() < deadline:
        deliveries += await consumer.receive(max_messages=10, wait_seconds=0.5)
    return deliveries


async def test_published_events_arrive_intact(bus: Bus) -> None:
    events = [_event(version=v) for v in range(1, 13)]
    await bus.publisher.publish(events)
    deliveries = await _receive_until(bus.consumer, len(events))
    assert sorted((d.event for d in deliveries), key=lambda e: e.version) == events
    await bus.consumer.ack(deliveries)
    assert await bus.consumer.receive(wait_seconds=0.2) == []


async def test_unacknowledged_events_come_back(bus: Bus) -> None:
    event = _event()
    await bus.publisher.publish([event])
    first = await _receive_until(bus.consumer, 1)
    assert [d.event.id for d in first] == [event.id]
    await asyncio.sleep(REDELIVER_AFTER + 0.2)  # the consumer "crashed" without acking
    again = await _receive_until(bus.consumer, 1)
    assert [d.event.id for d in again] == [event.id]
    await bus.consumer.ack(again)
    await asyncio.sleep(REDELIVER_AFTER + 0.2)
    assert await bus.consumer.receive(wait_seconds=0.2) == []


async def test_attempts_count_every_delivery(bus: Bus) -> None:
    event = _event()
    await bus.publisher.publish([event])
    for expected in (1, 2, 3):
        deliveries = await _receive_until(bus.consumer, 1)
        assert [(d.event.id, d.attempts) for d in deliveries] == [(event.id, expected)]
        await asyncio.sleep(REDELIVER_AFTER + 0.2)  # not acknowledged: it comes back
    last = await _receive_until(bus.consumer, 1)
    assert last[0].attempts == 4
    await bus.consumer.ack(last)


async def test_malformed_messages_are_dropped_not_redelivered(bus: Bus) -> None:
    await bus.inject_garbage()
    good = _event()
    await bus.publisher.publish([good])
    deliveries = await _receive_until(bus.consumer, 1)
    assert [d.event.id for d in deliveries] == [good.id]
    await bus.consumer.ack(deliveries)
    await asyncio.sleep(REDELIVER_AFTER + 0.2)
    assert await bus.consumer.receive(wait_seconds=0.2) == []
    assert await bus.consumer.lag() == 0


@pytest.mark.parametrize(
    "raw",
    [
        b"[]",
        b"{}",
        b'{"type": "poc.created"}',
        b"\xff",
        b'{"id": "x", "type": "nodot", "tenant_id": "x", "aggregate_id": "x", "version": 1,'
        b' "occurred_at": "2024-01-01T00:00:00+00:00", "payload": {}}',
    ],
)
def test_envelope_validation(raw: bytes) -> None:
    with pytest.raises(MalformedEvent):
        Event.from_json(raw)


def test_envelope_round_trip_keeps_trace_context() -> None:
    event = _event()
    assert Event.from_json(event.to_json()) == event
    assert event.topic == "poc"


def test_envelope_keeps_text_as_utf8_and_escapes_what_sqs_refuses() -> None:
    text = "Integração 😀 \ufffe\ud800 \x01"
    event = new_event("poc.updated", tenant_id=uuid.uuid4(), aggregate_id=uuid.uuid4(),
                      version=1, payload={"name": text})  # fmt: skip
    body = event.to_json()
    assert "Integração 😀" in body  # 2 and 4 bytes, not 6 and 12
    assert "\\ufffe\\ud800 \\u0001" in body
    body.encode()  # no lone surrogate left: SNS and SQS take it
    assert Event.from_json(body) == event


async def test_sns_batches_stay_under_the_aggregate_size_limit(aws_endpoint: str) -> None:
    """SNS refuses a PublishBatch over 256 KiB in all (moto does not check it): the publisher
    splits by size as well as by count, and leaves out, with a log, an event no batch can
    carry instead of failing every batch after it."""
    arns, queue_url = await sns_to_sqs(aws_endpoint, ["poc"], name=f"big-{uuid.uuid4().hex[:8]}")
    description = "Integração contínua e ação: " * 1_000  # ~29 KB in UTF-8
    events = [_big_event(description, version) for version in range(1, 21)]
    too_large = _big_event("ç" * 140_000, 99)  # 280 KB on its own
    sent: list[list[int]] = []

    def record(params: dict, **_: object) -> None:
        sent.append([entry_size(entry) for entry in params["PublishBatchRequestEntries"]])

    region = FAKE_CREDENTIALS["AWS_DEFAULT_REGION"]
    async with AsyncExitStack() as stack:
        client = await stack.enter_async_context(
            aioboto3.Session().client("sns", endpoint_url=aws_endpoint, region_name=region)
        )
        client.meta.events.register("provide-client-params.sns.PublishBatch", record)
        publisher = SnsPublisher(client, stack, arns)
        with capture_logs() as logs:
            await publisher.publish([*events[:10], too_large, *events[10:]])

    assert sum(len(batch) for batch in sent) == 20
    assert all(len(batch) <= 10 and sum(batch) <= 256 * 1024 for batch in sent)
    assert len(sent) == 3  # eight ~29 KB events fill a batch
    assert [(log["event"], log["id"]) for log in logs] == [
        ("event_too_large_for_sns", str(too_large.id))
    ]
    config = BusConfig(kind="aws", topic_arns=arns, queue_url=queue_url,
                       aws_endpoint_url=aws_endpoint)  # fmt: skip
    consumer = await create_consumer(config, topics=["poc"], group="search", name="c1")
    try:
        deliveries = await _receive_until(consumer, 20)
    finally:
        await consumer.aclose()
    assert sorted(d.event.version for d in deliveries) == list(range(1, 21))


def _big_event(description: str, version: int) -> Event:
    return new_event("poc.updated", tenant_id=uuid.uuid4(), aggregate_id=uuid.uuid4(),
                     version=version, payload={"description": description})  # fmt: skip
