"""A wrong bucket or queue name is an error naming the setting to check (issue 18, item 10),
against moto's server."""

from __future__ import annotations

import uuid
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from moto_server import moto_endpoint  # noqa: F401  (a fixture)

from pipeline_core.exceptions import StorageError
from pipeline_core.queue.sqs import error_code
from pipeline_core.storage import S3Storage


def test_no_such_bucket_names_the_storage_setting(
    tmp_path: Path,
    moto_endpoint: str,  # noqa: F811
) -> None:
    name = f"missing-{uuid.uuid4().hex[:8]}"
    storage = S3Storage(name, "dmo", endpoint_url=moto_endpoint, timeout=5)
    path = tmp_path / "f.jsonl"
    path.write_bytes(b"{}\n")
    with pytest.raises(StorageError) as raised:
        storage.put_file("raw/x.jsonl", path)
    assert str(raised.value) == (
        f"S3 could not store s3://{name}/dmo/raw/x.jsonl: there is no bucket '{name}' at this "
        "endpoint; check PIPELINE_STORAGE_URL (and PIPELINE_S3_ENDPOINT_URL), or create the "
        "bucket"
    )


def test_no_such_queue_names_the_queue_setting(moto_endpoint: str) -> None:  # noqa: F811
    client = boto3.session.Session().client(
        "sqs", region_name="us-east-1", endpoint_url=moto_endpoint
    )
    url = f"{moto_endpoint}/123456789012/missing-{uuid.uuid4().hex[:8]}"
    with pytest.raises(ClientError) as raised:
        client.send_message(QueueUrl=url, MessageBody="{}")
    assert error_code(raised.value).endswith(
        "; there is no such queue at this endpoint: check PIPELINE_JOBS_QUEUE_URL (and "
        "PIPELINE_SQS_ENDPOINT_URL), or create it"
    )
