"""What people see and what is staged, when feeds and settings are hostile (issue 15, items 5
and 7): values escaped in logs and on the terminal, control characters kept out of staged
text, URL-valued settings masked."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import orjson
import pytest
import sqlalchemy as sa
from conftest import run_cli
from fetch_helpers import error_rows, staged

from pipeline_core.config import load_settings
from pipeline_core.escaping import install_log_escaping, shown, strip_record_controls
from pipeline_core.exceptions import ConfigError

FORGED_ID = "x1\n2026-12-07 00:00:00 [pipeline_core.stages] ERROR: forged\x1b[2J\x1b[31m"

MAPPING = """\
source: {name}
dmo: test-dmo
fetcher: {fetcher}
url: {url}
{extra}
fields:
  name: title
  category: {{const: attraction}}
"""


def test_log_records_escape_their_values(caplog: pytest.LogCaptureFixture) -> None:
    install_log_escaping()
    install_log_escaping()  # idempotent
    logger = logging.getLogger("test.escaping")
    with caplog.at_level(logging.INFO, logger="test.escaping"):
        logger.warning("record %s: %s", FORGED_ID, ValueError("bad\r\nvalue"))
        logger.info("multi-line\n\tmessage\x1b[0m")
    first, second = (record.getMessage() for record in caplog.records)
    assert first == (
        "record x1\\n2026-12-07 00:00:00 [pipeline_core.stages] ERROR: forged\\x1b[2J\\x1b[31m: "
        "bad\\r\\nvalue"
    )
    assert second == "multi-line\n\tmessage\\x1b[0m"
    assert shown("\u202eevil\x00") == "\\u202eevil\\x00"


def test_a_forged_record_id_is_escaped_in_the_crawl_log_and_the_preview(
    pipeline_env: dict[str, str], engine: sa.Engine, tmp_path: Path
) -> None:
    folder = tmp_path / "mappings"
    folder.mkdir()
    feed = {"data": [{"id": FORGED_ID}, {"id": "ok1", "title": "Fine"}]}
    (folder / "feed.json").write_bytes(orjson.dumps(feed))
    text = MAPPING.format(
        name="forged", fetcher="json_api", url="feed.json", extra="records: data\nid: id"
    )
    (folder / "forged.yaml").write_text(text, "utf-8")
    env = dict(pipeline_env, PIPELINE_SOURCES_PATH=str(folder))
    for args in (("crawl", "forged", "--no-progress"), ("preview", "forged")):
        result = run_cli(*args, env=env)
        output = result.stdout + result.stderr
        assert "\x1b" not in output, args
        forged = [line for line in output.splitlines() if "00:00:00 [pipeline_core" in line[:40]]
        assert forged == [], args
        assert "x1\\n2026-12-07 00:00:00 [pipeline_core.stages] ERROR: forged\\x1b[2J" in output
    assert sorted(staged(engine, "forged")) == ["ok1"]
    (error,) = error_rows(engine, "forged")
    assert error["external_id"] == FORGED_ID  # stored as it is; only its display is escaped


def test_a_binary_body_served_as_csv_stages_no_listing_of_control_bytes(
    pipeline_env: dict[str, str], engine: sa.Engine, tmp_path: Path
) -> None:
    folder = tmp_path / "mappings"
    folder.mkdir()
    rows = [b"id,title", b"b1,\x01\x02\x03\x1b\x7f", b"b2,\x00\x08\x0e", b"b3,Caf\x07\xc3\xa9\tbar"]
    (folder / "feed.csv").write_bytes(b"\r\n".join(rows) + b"\r\n")
    text = MAPPING.format(name="binary", fetcher="csv_feed", url="feed.csv", extra="id: id")
    (folder / "binary.yaml").write_text(text, "utf-8")
    result = run_cli(
        "crawl",
        "binary",
        "--no-progress",
        env=dict(pipeline_env, PIPELINE_SOURCES_PATH=str(folder)),
    )
    assert "\x1b" not in result.stdout + result.stderr
    records = staged(engine, "binary")
    assert sorted(records) == ["b3"]
    assert records["b3"]["name"] == {"en": "Café\tbar"}
    errors = {
        row["external_id"]: (row["field"], row["message"]) for row in error_rows(engine, "binary")
    }
    message = "holds only control characters (a binary or garbled value); not staged"
    assert errors == {"b1": ("name.en", message), "b2": ("name.en", message)}


def test_strip_record_controls_keeps_tab_newline_and_the_id() -> None:
    record = {
        "external_id": "id\x01",
        "name": {"en": "A\x01b\r\nc\td\x00"},
        "images": [{"caption": "\x1b[31mred"}],
    }
    assert strip_record_controls(record) is None
    assert record == {
        "external_id": "id\x01",
        "name": {"en": "Ab\r\nc\td\x00"},  # a NUL is validation's to refuse
        "images": [{"caption": "[31mred"}],
    }
    assert strip_record_controls({"images": [{"caption": "\x01 \x02"}]}) == "images.0.caption"


ENV = {
    "PIPELINE_DATABASE_URL": "postgresql://app:db-pass-1@127.0.0.1/pipeline",
    "PIPELINE_STORAGE_URL": "s3://AKIAEXAMPLE:storage-secret-2@bucket/prefix",
    "PIPELINE_ENABLE_QUEUES": "true",
    "PIPELINE_JOBS_QUEUE_URL": (
        "https://sqs.eu-west-1.amazonaws.com/123456789012/jobs?X-Amz-Credential=cred-3"
        "&X-Amz-Signature=sig-4&Action=ReceiveMessage"
    ),
    "PIPELINE_S3_ENDPOINT_URL": "http://minio:minio-secret-5@127.0.0.1:9000",
    "PIPELINE_SQS_ENDPOINT_URL": "http://127.0.0.1:9324/?token=tok-6",
}


def test_dmo_pipeline_settings_masks_every_url_valued_setting(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIPELINE_")}
    env.update(ENV, PIPELINE_HOME=str(tmp_path))
    result = run_cli("settings", env=env)
    assert result.returncode == 0, result.stderr
    values = dict(line.split("=", 1) for line in result.stdout.splitlines())
    assert values["PIPELINE_DATABASE_URL"] == "postgresql://app:***@127.0.0.1/pipeline"
    assert values["PIPELINE_STORAGE_URL"] == "s3://***@bucket/prefix"
    assert values["PIPELINE_JOBS_QUEUE_URL"] == (
        "https://sqs.eu-west-1.amazonaws.com/123456789012/jobs?X-Amz-Credential=***"
        "&X-Amz-Signature=***&Action=ReceiveMessage"
    )
    assert values["PIPELINE_S3_ENDPOINT_URL"] == "http://***@127.0.0.1:9000"
    assert values["PIPELINE_SQS_ENDPOINT_URL"] == "http://127.0.0.1:9324/?token=***"
    for secret in ("db-pass-1", "storage-secret-2", "cred-3", "sig-4", "minio-secret-5", "tok-6"):
        assert secret not in result.stdout + result.stderr
        assert "AKIAEXAMPLE" not in result.stdout


@pytest.mark.parametrize(
    ("name", "value", "shown_as"),
    [
        ("PIPELINE_S3_ENDPOINT_URL", "ftp://minio:minio-secret@h/", "ftp://***@h/"),
        (
            "PIPELINE_SQS_ENDPOINT_URL",
            "sqs://h/?X-Amz-Signature=s1g",
            "sqs://h/?X-Amz-Signature=***",
        ),
        ("PIPELINE_JOBS_QUEUE_URL", "queue://u:pw-secret@h/q", "queue://***@h/q"),
        ("PIPELINE_STORAGE_URL", "gs://key:pw-secret@bucket", "gs://***@bucket"),
    ],
)
def test_a_refused_url_setting_is_masked_in_its_error(name: str, value: str, shown_as: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings({name: value})
    assert str(raised.value).startswith(f"{name}={shown_as!r} is not accepted: expected ")


def test_botocore_errors_are_masked_before_they_reach_a_message() -> None:
    from botocore.exceptions import EndpointConnectionError

    from pipeline_core.queue.sqs import error_code

    exc = EndpointConnectionError(
        endpoint_url="http://minio:minio-secret-5@127.0.0.1:9/q?X-Amz-Signature=sig-4"
    )
    assert error_code(exc) == (
        "EndpointConnectionError: Could not connect to the endpoint URL: "
        '"http://***@127.0.0.1:9/q?X-Amz-Signature=***"'
    )
