"""Storage: a local folder and S3 (moto's server over HTTP) keep, read and name files alike."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import boto3
import pytest
from moto_server import moto_endpoint  # noqa: F401  (a fixture)

from pipeline_core.config import load_settings
from pipeline_core.exceptions import StorageError
from pipeline_core.storage import LocalStorage, S3Storage, Storage, archive_key, get_storage


@pytest.fixture
def bucket(moto_endpoint: str) -> str:  # noqa: F811
    name = f"archive-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=moto_endpoint).create_bucket(Bucket=name)
    return name


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    if request.param == "local":
        yield get_storage(load_settings({"PIPELINE_STORAGE_URL": str(tmp_path / "files")}))
        return
    endpoint = request.getfixturevalue("moto_endpoint")
    name = request.getfixturevalue("bucket")
    yield get_storage(
        load_settings(
            {"PIPELINE_STORAGE_URL": f"s3://{name}/archive", "PIPELINE_S3_ENDPOINT_URL": endpoint}
        )
    )


def test_put_read_exists_url_and_key(storage: Storage, tmp_path: Path) -> None:
    key = archive_key("raw", "lakeside-events", date(2026, 7, 1), "crawl-12.jsonl")
    assert key == "raw/lakeside-events/2026/07/01/crawl-12.jsonl"
    assert not storage.exists(key)
    local = tmp_path / "upload.jsonl"
    local.write_bytes(b'{"a": 1}\n{"a": 2}\n')
    url = storage.put_file(key, local)
    assert storage.exists(key)
    assert storage.url(key) == url
    assert storage.key_of(url) == key
    assert storage.read(key) == b'{"a": 1}\n{"a": 2}\n'
    with storage.open(key) as handle:
        assert list(handle) == [b'{"a": 1}\n', b'{"a": 2}\n']
    storage.put_bytes(key, b"replaced\n")  # a key is replaced whole
    assert storage.read(key) == b"replaced\n"
    if isinstance(storage, LocalStorage):
        assert url == (tmp_path / "files" / key).as_uri()
        assert [p.name for p in (tmp_path / "files" / key).parent.iterdir()] == ["crawl-12.jsonl"]
    else:
        assert isinstance(storage, S3Storage)
        assert url == f"s3://{storage.bucket}/archive/{key}"


def test_a_missing_key_is_a_clear_error(storage: Storage) -> None:
    with pytest.raises(StorageError, match=r"no (file|object) 'raw/x/none\.jsonl'"):
        storage.read("raw/x/none.jsonl")


@pytest.mark.parametrize(
    "key", ["../etc/passwd", "raw/../../x", "/abs/key", "raw//x", "raw/.hidden", "raw/a b", ""]
)
def test_unsafe_keys_are_refused(storage: Storage, key: str) -> None:
    with pytest.raises(StorageError, match="is not accepted"):
        storage.put_bytes(key, b"x")


def test_archive_key_checks_its_parts() -> None:
    with pytest.raises(StorageError) as raised:
        archive_key("raw", "../other", date(2026, 1, 1), "a.jsonl")
    assert str(raised.value) == (
        "storage key 'raw/../other/2026/01/01/a.jsonl' is not accepted: segments of letters, "
        "digits, '.', '_' and '-' starting with a letter or digit, separated by '/'"
    )
    with pytest.raises(StorageError) as raised:
        archive_key("Raw/..", "src", date(2026, 1, 1), "a.jsonl")
    assert str(raised.value) == "file kind 'Raw/..' is not accepted (lower-case letters, digits)"


def test_urls_of_other_places_are_refused(storage: Storage) -> None:
    for url in ("file:///etc/passwd", "s3://another-bucket/archive/raw/a.jsonl"):
        with pytest.raises(StorageError, match="is not in the storage"):
            storage.key_of(url)


def test_a_big_file_goes_to_s3_in_parts(
    moto_endpoint: str,  # noqa: F811
    bucket: str,
    tmp_path: Path,
) -> None:
    storage = S3Storage.from_url(
        f"s3://{bucket}/p",
        endpoint_url=moto_endpoint,
        multipart_threshold=5 * 1024 * 1024,
        multipart_chunksize=5 * 1024 * 1024,
    )
    data = b"".join(b'{"n": %d}\n' % n for n in range(700_000))  # about 7.5 MB
    local = tmp_path / "big.jsonl"
    local.write_bytes(data)
    storage.put_file("raw/big/1.jsonl", local)
    head = boto3.client("s3", endpoint_url=moto_endpoint).head_object(
        Bucket=bucket, Key="p/raw/big/1.jsonl"
    )
    assert head["ETag"].strip('"').endswith("-2")  # two parts
    assert head["ContentLength"] == len(data)
    assert head["ContentType"] == "application/x-ndjson"
    with storage.open("raw/big/1.jsonl") as handle:
        assert hashlib.sha256(handle.read()).hexdigest() == hashlib.sha256(data).hexdigest()


def test_a_missing_bucket_names_the_url(moto_endpoint: str) -> None:  # noqa: F811
    storage = S3Storage.from_url("s3://no-such-bucket/p", endpoint_url=moto_endpoint)
    with pytest.raises(
        StorageError,
        match=r"s3://no-such-bucket/p/raw/a.jsonl: there is no bucket 'no-such-bucket' at this "
        r"endpoint; check PIPELINE_STORAGE_URL",
    ):
        storage.put_bytes("raw/a.jsonl", b"x")
