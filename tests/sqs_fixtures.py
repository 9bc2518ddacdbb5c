"""Fixtures of the SQS tests (loaded with ``pytest_plugins``): moto's server on 127.0.0.1
as the SQS endpoint (``moto_endpoint``, from :mod:`moto_server`), started once per session,
and a fresh queue per test, so tests never see each other's messages."""

from __future__ import annotations

import pytest
from moto_server import moto_endpoint  # noqa: F401  (a fixture)
from sqs_server import SqsQueue, create_queue


@pytest.fixture
def sqs_queue(moto_endpoint: str) -> SqsQueue:  # noqa: F811
    """A fresh standard queue on the moto server."""
    return create_queue(moto_endpoint)
