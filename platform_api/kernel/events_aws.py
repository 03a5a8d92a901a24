"""Events on AWS: publish to SNS topics (one per topic), consume from an SQS queue per service.

The queue is subscribed to the topics it needs (infrastructure code does that; tests do it
against moto's server). SQS redelivers a message whose visibility timeout expires before it is
deleted, and moves it to the dead-letter queue after ``maxReceiveCount`` tries: at-least-once.
Bodies are either the raw event (raw message delivery) or SNS's notification wrapping it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AsyncExitStack
from typing import Any

import aioboto3
import structlog

from .events import Delivery, Event, MalformedEvent

_log = structlog.get_logger("events.aws")
SNS_BATCH = 10  # PublishBatch and DeleteMessageBatch take at most 10 entries
SNS_BATCH_BYTES = 256 * 1024  # PublishBatch's messages and their attributes, all together


def _entry(event: Event) -> dict[str, Any]:
    return {
        "Message": event.to_json(),
        "MessageAttributes": {
            "type": {"DataType": "String", "StringValue": event.type},
            "tenant_id": {"DataType": "String", "StringValue": str(event.tenant_id)},
        },
    }


def entry_size(entry: Mapping[str, Any]) -> int:
    """The bytes SNS counts for an entry: the message, and each attribute's name, type and
    value."""
    size = len(entry["Message"].encode())
    for name, attribute in entry["MessageAttributes"].items():
        size += len(name.encode()) + len(attribute["DataType"].encode())
        size += len(attribute["StringValue"].encode())
    return size


def _batches(events: Sequence[Event]) -> Iterator[list[dict[str, Any]]]:
    """Entries for ``events``, in order, in batches of at most ``SNS_BATCH`` entries and
    ``SNS_BATCH_BYTES``; an event too large for any batch is logged and left out."""
    batch: list[dict[str, Any]] = []
    room = SNS_BATCH_BYTES
    for event in events:
        entry = _entry(event)
        size = entry_size(entry)
        if size > SNS_BATCH_BYTES:
            _log.error(
                "event_too_large_for_sns",
                id=str(event.id),
                type=event.type,
                aggregate_id=str(event.aggregate_id),
                bytes=size,
            )
            continue
        if len(batch) == SNS_BATCH or size > room:
            yield batch
            batch, room = [], SNS_BATCH_BYTES
        batch.append(entry)
        room -= size
    if batch:
        yield batch


class SnsPublisher:
    """PublishBatch to the topic's SNS ARN, with ``type`` and ``tenant_id`` as attributes."""

    def __init__(self, client: Any, stack: AsyncExitStack, topic_arns: Mapping[str, str]) -> None:
        self._client = client
        self._stack = stack
        self._topic_arns = dict(topic_arns)

    @classmethod
    async def open(
        cls, topic_arns: Mapping[str, str], *, endpoint_url: str | None = None, region: str
    ) -> SnsPublisher:
        stack = AsyncExitStack()
        client = await stack.enter_async_context(
            aioboto3.Session().client("sns", endpoint_url=endpoint_url, region_name=region)
        )
        return cls(client, stack, topic_arns)

    async def publish(self, events: Sequence[Event]) -> None:
        """Publish in batches SNS takes: at most 10 entries and 256 KiB in all.

        An event that alone is over SNS's limit can never be published: it is logged and
        left out rather than retried for ever in front of every event after it. (The
        services' input limits keep their events well under it.)"""
        by_topic: dict[str, list[Event]] = {}
        for event in events:
            if event.topic not in self._topic_arns:
                raise LookupError(f"no SNS topic configured for {event.topic!r}")
            by_topic.setdefault(event.topic, []).append(event)
        for topic, batch in by_topic.items():
            for chunk in _batches(batch):
                response = await self._client.publish_batch(
                    TopicArn=self._topic_arns[topic],
                    PublishBatchRequestEntries=[
                        dict(entry, Id=str(i)) for i, entry in enumerate(chunk)
                    ],
                )
                if response.get("Failed"):
                    raise RuntimeError(f"SNS refused events: {response['Failed']}")

    async def aclose(self) -> None:
        await self._stack.aclose()


def _unwrap(body: str) -> Event:
    data = json.loads(body)
    if isinstance(data, dict) and data.get("Type") == "Notification" and "Message" in data:
        return Event.from_json(data["Message"])
    return Event.from_dict(data)


class SqsConsumer:
    """Long-poll the service's queue; ``ack`` deletes the messages."""

    def __init__(self, client: Any, stack: AsyncExitStack, queue_url: str) -> None:
        self._client = client
        self._stack = stack
        self._queue_url = queue_url

    @classmethod
    async def open(
        cls, queue_url: str, *, endpoint_url: str | None = None, region: str
    ) -> SqsConsumer:
        stack = AsyncExitStack()
        client = await stack.enter_async_context(
            aioboto3.Session().client("sqs", endpoint_url=endpoint_url, region_name=region)
        )
        return cls(client, stack, queue_url)

    async def receive(self, *, max_messages: int = 10, wait_seconds: float = 1.0) -> list[Delivery]:
        response = await self._client.receive_message(
            QueueUrl=self._queue_url,
            MaxNumberOfMessages=max(1, min(max_messages, 10)),
            WaitTimeSeconds=max(0, min(int(wait_seconds), 20)),
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        )
        deliveries, poison = [], []
        for message in response.get("Messages", []):
            try:
                attempts = int(message.get("Attributes", {}).get("ApproximateReceiveCount", 1))
                deliveries.append(
                    Delivery(_unwrap(message["Body"]), message["ReceiptHandle"], attempts)
                )
            except (MalformedEvent, ValueError, KeyError) as exc:
                _log.error("malformed_event_dropped", id=message.get("MessageId"), error=str(exc))
                poison.append(message["ReceiptHandle"])
        await self._delete(poison)
        return deliveries

    async def ack(self, deliveries: Sequence[Delivery]) -> None:
        await self._delete([d.receipt for d in deliveries])

    async def _delete(self, handles: Sequence[str]) -> None:
        for start in range(0, len(handles), SNS_BATCH):
            chunk = handles[start : start + SNS_BATCH]
            response = await self._client.delete_message_batch(
                QueueUrl=self._queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": h} for i, h in enumerate(chunk)],
            )
            if response.get("Failed"):
                _log.warning("sqs_delete_failed", failed=response["Failed"])

    async def lag(self) -> int:
        """Messages waiting or in flight on the queue (approximate, as SQS reports it)."""
        attributes = await self._client.get_queue_attributes(
            QueueUrl=self._queue_url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
            ],
        )
        values = attributes.get("Attributes", {})
        return int(values.get("ApproximateNumberOfMessages", 0)) + int(
            values.get("ApproximateNumberOfMessagesNotVisible", 0)
        )

    async def aclose(self) -> None:
        await self._stack.aclose()
