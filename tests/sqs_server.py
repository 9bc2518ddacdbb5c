"""moto's server on 127.0.0.1 (a random port) as the SQS endpoint of the SQS tests.

``moto_endpoint`` starts one server per session; ``sqs_queue`` creates a fresh queue per
test, so tests never see each other's messages. The credentials are moto's dummies.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

#: Dummy credentials: moto accepts any; set so boto3 never looks further (no real AWS).
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """URL of a moto server on 127.0.0.1, with the dummy credentials in the environment."""
    from moto.server import ThreadedMotoServer

    saved = {key: os.environ.get(key) for key in (*AWS_ENV, "AWS_PROFILE")}
    os.environ.update(AWS_ENV)
    os.environ.pop("AWS_PROFILE", None)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


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


@pytest.fixture
def sqs_queue(moto_endpoint: str) -> SqsQueue:
    """A fresh standard queue on the moto server."""
    return create_queue(moto_endpoint)
