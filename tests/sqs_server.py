"""Helpers of the SQS tests: queues on moto's server and a client to look into them (the
fixtures that start the server are in ``moto_server`` and ``sqs_fixtures``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import boto3


@dataclass
class SqsQueue:
    """A queue on the moto server and a client to look into it."""

    endpoint: str
    url: str
    client: Any

    def attribute(self, name: str) -> int:
        """An ``Approximate*`` count of the queue (moto's are exact)."""
        response = self.client.get_queue_attributes(QueueUrl=self.url, AttributeNames=[name])
        return int(response["Attributes"][name])

    def waiting(self) -> int:
        """Messages visible, in flight or delayed: all the queue still holds."""
        return sum(
            self.attribute(name)
            for name in (
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            )
        )

    def send(self, body: str) -> None:
        self.client.send_message(QueueUrl=self.url, MessageBody=body)

    def receive_all(self, url: str | None = None) -> list[dict[str, Any]]:
        """Every visible message of the queue (or of ``url``), received once."""
        found: list[dict[str, Any]] = []
        while True:
            response = self.client.receive_message(
                QueueUrl=url or self.url,
                MaxNumberOfMessages=10,
                MessageSystemAttributeNames=["All"],
            )
            batch = response.get("Messages", [])
            if not batch:
                return found
            found.extend(batch)


def make_client(endpoint: str) -> Any:
    return boto3.session.Session().client("sqs", region_name="us-east-1", endpoint_url=endpoint)


def create_queue(endpoint: str, fifo: bool = False, **attributes: str) -> SqsQueue:
    """A new queue with a unique name on the moto server."""
    client = make_client(endpoint)
    name = f"jobs-{uuid.uuid4().hex[:10]}" + (".fifo" if fifo else "")
    if fifo:
        attributes.setdefault("FifoQueue", "true")
        attributes.setdefault("ContentBasedDeduplication", "false")
    url = client.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    return SqsQueue(endpoint, url, client)
