"""Fixtures of the queue tests (loaded with ``pytest_plugins``): the test job types as an
installed plugin for worker processes, their environment, and a webhook server."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from queue_helpers import TESTS, WebhookServer


@pytest.fixture(scope="session")
def jobs_plugin_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    """PYTHONPATH on which the test job types are an installed plugin (entry point)."""
    folder = tmp_path_factory.mktemp("queue-plugin")
    dist_info = folder / "queue_test_jobs-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: queue-test-jobs\nVersion: 1.0\n", "utf-8"
    )
    (dist_info / "entry_points.txt").write_text(
        "[dmo_pipeline]\nqueue-test-jobs = queue_jobs\n", "utf-8"
    )
    return os.pathsep.join([str(folder), str(TESTS)])


@pytest.fixture
def worker_env(pipeline_env: dict[str, str], jobs_plugin_path: str) -> dict[str, str]:
    """Child-process environment: the test database, and the test job types installed."""
    return dict(
        pipeline_env,
        PYTHONPATH=jobs_plugin_path,
        PIPELINE_POLL_INTERVAL="0.1",
        PIPELINE_DMO_CONCURRENCY="0",
    )


@pytest.fixture
def webhook() -> Iterator[WebhookServer]:
    server = WebhookServer()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()
