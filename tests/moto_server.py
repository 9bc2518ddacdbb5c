"""moto's server over HTTP on 127.0.0.1 (a random port), for the S3, SQS and job tests.

``moto_server()`` runs one; the ``moto_endpoint`` fixture runs one per test session with
dummy AWS credentials in the environment (boto3 needs some; moto accepts any). A test
module imports the fixture (a test that takes it as an argument adds ``# noqa: F811``)::

    from moto_server import moto_endpoint  # noqa: F401  (a fixture)
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from moto.server import ThreadedMotoServer

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@contextmanager
def moto_server() -> Iterator[str]:
    """Run moto's server on 127.0.0.1; yield its endpoint URL (``http://127.0.0.1:PORT``)."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """Endpoint URL of a moto server shared by the session, with dummy credentials set."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in CREDENTIALS.items():
            patch.setenv(name, value)
        patch.delenv("AWS_PROFILE", raising=False)  # a profile could point boto3 elsewhere
        with moto_server() as url:
            yield url
