"""Settings: defaults, parsing, errors naming the variable, masked secrets."""

from __future__ import annotations

import pytest
from conftest import run_cli

from pipeline_core.config import SETTINGS, load_settings, mask_url
from pipeline_core.exceptions import ConfigError


def test_defaults_use_the_data_folder(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PIPELINE_HOME", str(tmp_path))
    settings = load_settings({})
    assert settings.database_url == f"sqlite:///{tmp_path}/pipeline.db"
    assert settings.storage_url == (tmp_path / "files").as_uri()
    assert settings.enable_queues is False
    assert settings.jobs_queue_url is None
    assert settings.batch_size == 500
    assert settings.max_retries == 5
    assert settings.log_level == "INFO"


def test_postgres_urls_use_psycopg() -> None:
    settings = load_settings({"PIPELINE_DATABASE_URL": "postgres://u:p@db/x"})
    assert settings.database_url == "postgresql+psycopg://u:p@db/x"


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("PIPELINE_BATCH_SIZE", "0", "a whole number greater than 0"),
        ("PIPELINE_BATCH_SIZE", "many", "a whole number greater than 0"),
        ("PIPELINE_MAX_RETRIES", "-1", "a whole number, 0 or more"),
        ("PIPELINE_WITHDRAW_LIMIT", "2", "a number from 0 to 1"),
        ("PIPELINE_WITHDRAW_LIMIT", "half", "a number from 0 to 1"),
        ("PIPELINE_ENABLE_QUEUES", "maybe", "true or false"),
        ("LOG_LEVEL", "LOUD", "one of CRITICAL, ERROR, WARNING, INFO, DEBUG"),
        ("PIPELINE_DATABASE_URL", "mysql://x/y", "a sqlite:/// or postgresql:// URL"),
        ("PIPELINE_STORAGE_URL", "ftp://x/y", "a folder path, file:///folder or s3://bucket"),
        ("PIPELINE_JOBS_QUEUE_URL", "sqs-queue", "an http(s):// URL, or empty"),
        ("PIPELINE_RETRY_BACKOFF", "0", "a number greater than 0"),
        ("PIPELINE_LEASE_SECONDS", "nan", "a number greater than 0"),
        ("PIPELINE_DMO_CONCURRENCY", "-2", "a whole number, 0 or more"),
        ("PIPELINE_S3_ENDPOINT_URL", "localhost:5000", "an http(s):// URL, or empty"),
        # images
        ("PIPELINE_IMAGE_VARIANTS", "thumb", "('thumb' is not name:size:format)"),
        ("PIPELINE_IMAGE_VARIANTS", "thumb=400", "('thumb=400' is not name:size:format)"),
        ("PIPELINE_IMAGE_VARIANTS", "Big:400:jpeg", "(bad name 'Big': a lower-case letter"),
        ("PIPELINE_IMAGE_VARIANTS", "original:400:png", "the name 'original' is the original's"),
        ("PIPELINE_IMAGE_VARIANTS", "t:8:jpeg", "(size of 't' is 16 to 10000 pixels)"),
        ("PIPELINE_IMAGE_VARIANTS", "t:400:gif", "(format of 't' is one of jpeg, webp, png)"),
        ("PIPELINE_IMAGE_VARIANTS", "t:400:jpeg,t:800:png", "(variant 't' named twice)"),
        ("PIPELINE_IMAGE_JPEG_QUALITY", "0", "a whole number from 1 to 100"),
        ("PIPELINE_IMAGE_JPEG_QUALITY", "high", "a whole number from 1 to 100"),
        ("PIPELINE_IMAGE_WEBP_QUALITY", "101", "a whole number from 1 to 100"),
        ("PIPELINE_IMAGE_ORIGINAL_MAX", "-1", "a whole number, 0 or more"),
        ("PIPELINE_IMAGE_MAX_PIXELS", "5e7", "a whole number greater than 0"),
        ("PIPELINE_IMAGE_MAX_BYTES", "0", "a whole number greater than 0"),
        ("PIPELINE_IMAGE_TIMEOUT", "inf", "a number greater than 0"),
        ("PIPELINE_IMAGE_CONCURRENCY", "0", "a whole number greater than 0"),
        ("PIPELINE_IMAGE_PROCESSES", "all", "a whole number, 0 or more"),
        ("PIPELINE_IMAGE_CACHE_CONTROL", "public\r\nX-Evil: 1", "a header value on one line"),
        ("PIPELINE_IMAGE_WEBP_METHOD", "7", "a whole number from 0 (fastest) to 6 (smallest)"),
        ("PIPELINE_IMAGE_WEBP_METHOD", "fast", "a whole number, 0 or more"),
        ("PIPELINE_IMAGE_RETRY_AFTER", "-5", "a number, 0 or more"),
        # live job events
        ("PIPELINE_QUEUE_NOTIFY", "maybe", "true or false"),
        ("PIPELINE_EVENTS_REPLAY", "-1", "a whole number greater than 0"),
        ("PIPELINE_EVENTS_REPLAY", "lots", "a whole number greater than 0"),
        ("PIPELINE_EVENTS_KEEP_HOURS", "0", "a number greater than 0"),
        ("PIPELINE_EVENTS_KEEP_HOURS", "week", "a number greater than 0"),
        # quality minimum
        ("PIPELINE_QUALITY_MINIMUM", "101", "scores from 0 to 100"),
        ("PIPELINE_QUALITY_MINIMUM", "visit-x=-1", "scores from 0 to 100"),
        ("PIPELINE_QUALITY_MINIMUM", "sixty", "a score from 0 to 100, or DMO=score pairs"),
        ("PIPELINE_QUALITY_MINIMUM", "60.5", "a score from 0 to 100, or DMO=score pairs"),
        ("PIPELINE_QUALITY_MINIMUM", "=50", "DMO=score pairs name their DMO; '=50' does not"),
        ("PIPELINE_QUALITY_MINIMUM", "60,70", "one score for every DMO, not two"),
        ("PIPELINE_QUALITY_MINIMUM", "d=50,d=60", "each DMO once; d is given twice"),
        # job timeouts
        ("PIPELINE_JOB_TIMEOUTS", "3600", "JOB_TYPE=SECONDS pairs, such as scrape=3600"),
        ("PIPELINE_JOB_TIMEOUTS", "=10", "JOB_TYPE=SECONDS pairs, such as scrape=3600"),
        ("PIPELINE_JOB_TIMEOUTS", "scrape=0", "scrape: seconds must be a number greater than 0"),
        ("PIPELINE_JOB_TIMEOUTS", "scrape=inf", "scrape: seconds must be a number greater"),
        ("PIPELINE_JOB_TIMEOUTS", "scrape=1,scrape=2", "each job type once; scrape is given"),
        # name servers
        ("PIPELINE_NAME_SERVERS", "dns.example.org", "IP addresses of name servers"),
        ("PIPELINE_NAME_SERVERS", "999.1.1.1", "not '999.1.1.1'"),
        ("PIPELINE_NAME_SERVERS", "[::1", "not '[::1'"),
        ("PIPELINE_NAME_SERVERS", "[::1]53", "not '[::1]53'"),
        ("PIPELINE_NAME_SERVERS", "1.2.3.4:dns", "not '1.2.3.4:dns'"),
        ("PIPELINE_NAME_SERVERS", "127.0.0.1:70000", "a port from 1 to 65535"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings({name: value})
    message = str(info.value)
    assert message.startswith(f"{name}={value!r} is not accepted: expected ")
    assert expected in message


def test_queues_need_a_queue_url() -> None:
    with pytest.raises(ConfigError, match="PIPELINE_JOBS_QUEUE_URL"):
        load_settings({"PIPELINE_ENABLE_QUEUES": "true"})


def test_webhook_url_is_masked_after_its_host() -> None:
    url = "https://hooks.example.org/services/T0/B1/tok3n"
    settings = load_settings({"PIPELINE_WEBHOOK_URL": url})
    assert settings.webhook_url == url
    assert settings.masked()["PIPELINE_WEBHOOK_URL"] == "https://hooks.example.org/***"
    with pytest.raises(ConfigError) as info:
        load_settings({"PIPELINE_WEBHOOK_URL": "ftp://hooks.example.org/tok3n"})
    assert "tok3n" not in str(info.value)


def test_password_is_masked_in_errors() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings({"PIPELINE_DATABASE_URL": "mysql://user:hunter2@db/x"})
    assert "hunter2" not in str(info.value)


def test_a_password_in_the_query_string_is_masked() -> None:
    url = (
        "postgresql://app@127.0.0.1:5432/dmo?sslmode=require&password=hunter2"
        "&sslkey=/etc/ssl/app.key&sslpassword=k3y-pass"
    )
    settings = load_settings({"PIPELINE_DATABASE_URL": url})
    assert settings.masked()["PIPELINE_DATABASE_URL"] == (
        "postgresql://app@127.0.0.1:5432/dmo?sslmode=require&password=***"
        "&sslkey=/etc/ssl/app.key&sslpassword=***"
    )
    assert (
        mask_url("postgresql://a:b@h/d?PassWord=c&x=1") == "postgresql://a:***@h/d?PassWord=***&x=1"
    )
    assert mask_url("sqlite:///data/pipeline.db?mode=ro") == "sqlite:///data/pipeline.db?mode=ro"
    with pytest.raises(ConfigError) as info:
        load_settings({"PIPELINE_DATABASE_URL": "mysql://user@db/x?password=hunter2"})
    assert "hunter2" not in str(info.value)
    assert "password=***" in str(info.value)


def test_settings_command_masks_secrets(tmp_path) -> None:
    env = {
        "PIPELINE_HOME": str(tmp_path),
        "PIPELINE_DATABASE_URL": "postgresql://app:s3cret@127.0.0.1:5432/dmo?sslpassword=s3cret2",
        "PIPELINE_BATCH_SIZE": "250",
        "PATH": "/usr/bin:/bin",
    }
    result = run_cli("settings", env=env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "PIPELINE_DATABASE_URL=postgresql://app:***@127.0.0.1:5432/dmo?sslpassword=***" in lines
    assert "PIPELINE_BATCH_SIZE=250" in lines
    assert "s3cret" not in result.stdout
    assert [line.split("=", 1)[0] for line in lines] == [s.name for s in SETTINGS]


def test_bad_setting_is_one_clear_line(tmp_path) -> None:
    env = {"PIPELINE_HOME": str(tmp_path), "PIPELINE_BATCH_SIZE": "x", "PATH": "/usr/bin:/bin"}
    result = run_cli("settings", env=env)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "Error: PIPELINE_BATCH_SIZE='x' is not accepted: expected a whole number greater than 0"
    )


def test_good_values_of_the_checked_settings_are_read() -> None:
    settings = load_settings(
        {
            "PIPELINE_IMAGE_VARIANTS": " small:200:PNG , big:2000:webp",
            "PIPELINE_IMAGE_JPEG_QUALITY": "100",
            "PIPELINE_IMAGE_CACHE_CONTROL": "",
            "PIPELINE_QUALITY_MINIMUM": "60, visit-x=75",
            "PIPELINE_JOB_TIMEOUTS": "scrape=3600,image=60.5",
            "PIPELINE_NAME_SERVERS": "[::1], 127.0.0.1:5353",
        }
    )
    assert [(v.name, v.size, v.format) for v in settings.images.variants] == [
        ("small", 200, "png"),
        ("big", 2000, "webp"),
    ]
    assert (settings.images.jpeg_quality, settings.images.cache_control) == (100, "")
    assert settings.job_timeouts == {"scrape": 3600.0, "image": 60.5}
    assert settings.name_servers == (("::1", 53), ("127.0.0.1", 5353))
