"""One contract, every job queue adapter: memory, Redis Streams, SQS (moto's server)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable

import aioboto3
import pytest

from platform_api.kernel.aws import ClientClosed
from platform_api.kernel.queues import JobQueue, MemoryQueue, backoff_seconds, fail
from platform_api.kernel.queues.redis_streams import RedisStreamsQueue
from platform_api.kernel.queues.sqs import SqsQueue
from tests.harness.moto import CountingSession

VISIBILITY = 1.0
QueueFactory = Callable[[], JobQueue]


@pytest.fixture(params=["memory", "redis", "sqs"])
async def make_queue(request: pytest.FixtureRequest) -> AsyncIterator[QueueFactory]:
    """A factory of consumers of one fresh queue (several consumers share it)."""
    made: list[JobQueue] = []
    if request.param == "memory":
        shared = MemoryQueue(visibility_timeout=VISIBILITY)

        def factory() -> JobQueue:
            return shared

    elif request.param == "redis":
        name = f"test-jobs-{uuid.uuid4().hex[:8]}"
        url = request.getfixturevalue("redis_url")

        def factory() -> JobQueue:
            made.append(RedisStreamsQueue(url, name, visibility_timeout=VISIBILITY))
            return made[-1]

    else:
        endpoint = request.getfixturevalue("aws_endpoint")
        session = aioboto3.Session()
        async with session.client("sqs", endpoint_url=endpoint, region_name="sa-east-1") as sqs:
            name = f"jobs-{uuid.uuid4().hex[:8]}"
            main = (await sqs.create_queue(QueueName=name))["QueueUrl"]
            dead = (await sqs.create_queue(QueueName=f"{name}-dead"))["QueueUrl"]

        def factory() -> JobQueue:
            made.append(SqsQueue(main, dead, visibility_timeout=VISIBILITY, endpoint_url=endpoint))
            return made[-1]

    yield factory
    for queue in made:
        if isinstance(queue, RedisStreamsQueue):
            await queue.purge()
        await queue.aclose()


async def receive_within(queue: JobQueue, seconds: float) -> object:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        delivery = await queue.receive(wait_seconds=0.2)
        if delivery is not None:
            return delivery
    return None


async def test_send_receive_ack(make_queue: QueueFactory) -> None:
    queue = make_queue()
    await queue.send({"job": 1})
    delivery = await receive_within(queue, 5)
    assert delivery is not None
    assert delivery.body == {"job": 1}  # type: ignore[attr-defined]
    assert delivery.attempt == 1  # type: ignore[attr-defined]
    await queue.ack(delivery)  # type: ignore[arg-type]
    assert await receive_within(queue, VISIBILITY + 0.8) is None


async def test_unacked_job_comes_back_to_another_consumer(make_queue: QueueFactory) -> None:
    first, second = make_queue(), make_queue()
    # Connected before the job is taken: its visibility timeout is short, and a client's first
    # call (credentials, connection) can take most of it on a busy machine.
    assert await second.receive(wait_seconds=0.1) is None
    await first.send({"job": "crash"})
    taken = await receive_within(first, 5)
    assert taken is not None
    assert await second.receive(wait_seconds=0.1) is None  # invisible while in flight
    again = await receive_within(second, VISIBILITY + 3)  # the first consumer "died"
    assert again is not None
    assert again.body == {"job": "crash"}  # type: ignore[attr-defined]
    assert again.attempt == 2  # type: ignore[attr-defined]
    await second.ack(again)  # type: ignore[arg-type]


async def test_extend_keeps_a_long_job_invisible(make_queue: QueueFactory) -> None:
    worker, other = make_queue(), make_queue()
    # Connected before the job is taken, as above: a first call can outlast a visibility
    # timeout on a busy machine, and the job would be visible again by the time it asks.
    assert await other.receive(wait_seconds=0.1) is None
    await worker.send({"job": "long"})
    delivery = await receive_within(worker, 5)
    assert delivery is not None
    # Extend often enough that a slow round trip on a busy machine never lets it lapse; six
    # quarter-timeouts still outlast the original visibility timeout.
    for _ in range(6):
        await asyncio.sleep(VISIBILITY * 0.25)
        await worker.extend(delivery)  # type: ignore[arg-type]
        assert await other.receive(wait_seconds=0.05) is None
    await worker.ack(delivery)  # type: ignore[arg-type]


async def test_retry_with_backoff_then_dead_letter(make_queue: QueueFactory) -> None:
    queue = make_queue()
    await queue.send({"job": "poison"})
    attempts = []
    while True:
        delivery = await receive_within(queue, 5)
        assert delivery is not None
        attempts.append(delivery.attempt)  # type: ignore[attr-defined]
        if await fail(queue, delivery, "boom", max_attempts=3, backoff=0.2):  # type: ignore[arg-type]
            break
    assert attempts == [1, 2, 3]
    dead = await queue.dead_letters()
    assert dead == [{"job": "poison", "reason": "boom", "attempts": 3}]
    assert await receive_within(queue, 0.5) is None


async def test_retry_waits_for_the_delay(make_queue: QueueFactory) -> None:
    queue = make_queue()
    await queue.send({"job": "later"})
    delivery = await receive_within(queue, 5)
    await queue.retry(delivery, delay_seconds=1.5)  # type: ignore[arg-type]
    started = time.monotonic()
    assert await queue.receive(wait_seconds=0.3) is None
    again = await receive_within(queue, 5)
    assert again is not None
    # Not sooner than asked (SQS takes whole seconds: 1.5 s must not become 1).
    assert time.monotonic() - started >= 1.4
    await queue.ack(again)  # type: ignore[arg-type]


async def test_many_consumers_share_the_work(make_queue: QueueFactory) -> None:
    consumers = [make_queue() for _ in range(3)]
    for n in range(12):
        await consumers[0].send({"n": n})
    seen: list[int] = []

    async def consume(queue: JobQueue) -> None:
        while len(seen) < 12:
            delivery = await queue.receive(wait_seconds=0.2)
            if delivery is not None:
                seen.append(delivery.body["n"])
                await queue.ack(delivery)

    await asyncio.wait_for(asyncio.gather(*(consume(q) for q in consumers)), timeout=20)
    assert sorted(seen) == list(range(12))


def test_backoff_grows_and_is_capped() -> None:
    assert [backoff_seconds(n, base=1, cap=5) for n in (1, 2, 3, 4)] == [1, 2, 4, 5]


async def test_sqs_queue_makes_one_client_for_its_lifetime(aws_endpoint: str) -> None:
    """Concurrent first uses share one SQS client; closing the queue closes it for good."""
    async with aioboto3.Session().client(
        "sqs", endpoint_url=aws_endpoint, region_name="sa-east-1"
    ) as sqs:
        name = f"jobs-{uuid.uuid4().hex[:8]}"
        main = (await sqs.create_queue(QueueName=name))["QueueUrl"]
        dead = (await sqs.create_queue(QueueName=f"{name}-dead"))["QueueUrl"]
    session = CountingSession()
    queue = SqsQueue(
        main, dead, visibility_timeout=VISIBILITY, endpoint_url=aws_endpoint, session=session
    )
    await asyncio.gather(*(queue.send({"job": n}) for n in range(5)))
    received = [await receive_within(queue, 5) for _ in range(5)]
    await asyncio.gather(*(queue.ack(delivery) for delivery in received))  # type: ignore[arg-type]
    assert sorted(d.body["job"] for d in received) == list(range(5))  # type: ignore[attr-defined]
    assert session.opened == ["sqs"]

    await queue.aclose()
    assert session.closed == 1
    with pytest.raises(ClientClosed, match="SqsQueue is closed"):
        await queue.send({"job": "late"})
    assert session.opened == ["sqs"]
