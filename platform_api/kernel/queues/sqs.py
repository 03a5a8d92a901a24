"""Job queue on Amazon SQS (aioboto3): the production adapter.

SQS has the semantics natively: a received message is invisible for the visibility timeout
and reappears if not deleted; ``ApproximateReceiveCount`` is the attempt number; a retry with
backoff is ``ChangeMessageVisibility`` to the delay; dead letters are sent to a second queue
explicitly (with the reason), so the behaviour matches the Redis adapter exactly. A redrive
policy on the main queue is still recommended in Terraform as a backstop.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

from ..aws import SharedClient

if TYPE_CHECKING:
    from . import Delivery

_MAX_VISIBILITY = 43_200  # SQS limit: 12 hours


class SqsQueue:
    def __init__(
        self,
        queue_url: str,
        dead_letter_url: str,
        *,
        visibility_timeout: float = 60.0,
        region: str = "sa-east-1",
        endpoint_url: str | None = None,
        session: Any = None,
    ) -> None:
        import aioboto3  # imported late: only production and its tests need it

        self.queue_url = queue_url
        self.dead_letter_url = dead_letter_url
        self.visibility = int(min(_MAX_VISIBILITY, max(1, visibility_timeout)))
        self._sqs = SharedClient(
            session or aioboto3.Session(),
            "sqs",
            owner="SqsQueue",
            region_name=region,
            endpoint_url=endpoint_url,
        )

    async def send(self, body: dict[str, Any]) -> None:
        sqs = await self._sqs.get()
        await sqs.send_message(QueueUrl=self.queue_url, MessageBody=json.dumps(body))

    async def receive(self, *, wait_seconds: float = 1.0) -> Delivery | None:
        from . import Delivery

        sqs = await self._sqs.get()
        response = await sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=1,
            WaitTimeSeconds=int(min(20, max(0, wait_seconds))),
            VisibilityTimeout=self.visibility,
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        )
        for message in response.get("Messages", []):
            attempt = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
            return Delivery(
                handle=message["ReceiptHandle"], body=json.loads(message["Body"]), attempt=attempt
            )
        return None

    async def ack(self, delivery: Delivery) -> None:
        sqs = await self._sqs.get()
        await sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=delivery.handle)

    async def retry(self, delivery: Delivery, *, delay_seconds: float) -> None:
        sqs = await self._sqs.get()
        await sqs.change_message_visibility(
            QueueUrl=self.queue_url,
            ReceiptHandle=delivery.handle,
            # Whole seconds, rounded up: a retry never comes sooner than it was asked for.
            VisibilityTimeout=min(_MAX_VISIBILITY, max(0, math.ceil(delay_seconds))),
        )

    async def dead_letter(self, delivery: Delivery, *, reason: str) -> None:
        sqs = await self._sqs.get()
        body = {"body": delivery.body, "reason": reason[:2000], "attempts": delivery.attempt}
        await sqs.send_message(QueueUrl=self.dead_letter_url, MessageBody=json.dumps(body))
        await sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=delivery.handle)

    async def extend(self, delivery: Delivery) -> None:
        sqs = await self._sqs.get()
        await sqs.change_message_visibility(
            QueueUrl=self.queue_url,
            ReceiptHandle=delivery.handle,
            VisibilityTimeout=self.visibility,
        )

    async def dead_letters(self, *, limit: int = 100) -> list[dict[str, Any]]:
        """Peek at the dead-letter queue (messages become visible again shortly after)."""
        sqs = await self._sqs.get()
        found: list[dict[str, Any]] = []
        while len(found) < limit:
            response = await sqs.receive_message(
                QueueUrl=self.dead_letter_url,
                MaxNumberOfMessages=min(10, limit - len(found)),
                WaitTimeSeconds=0,
                VisibilityTimeout=1,
            )
            messages = response.get("Messages", [])
            if not messages:
                break
            for message in messages:
                parked = json.loads(message["Body"])
                found.append(
                    {**parked["body"], "reason": parked["reason"], "attempts": parked["attempts"]}
                )
        return found

    async def aclose(self) -> None:
        """Close the SQS client; a closed queue raises ``ClientClosed``."""
        await self._sqs.aclose()
