"""Fixtures of the SQS tests (loaded with ``pytest_plugins``): moto's server on 127.0.0.1
(a random port) as the SQS endpoint, started once per session, and a fresh queue per test,
so tests never see each other's messages. The credentials are moto's dummies."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import pytest
from sqs_server import AWS_ENV, SqsQueue, create_queue


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


@pytest.fixture
def sqs_queue(moto_endpoint: str) -> SqsQueue:
    """A fresh standard queue on the moto server."""
    return create_queue(moto_endpoint)
