"""URLs are checked before any request: private addresses refused unless allowed."""

from __future__ import annotations

import re

import pytest

from pipeline_core.exceptions import URLPolicyError
from pipeline_core.urlpolicy import check_url


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:8000/feed", "non-public address 127.0.0.1"),
        ("http://10.1.2.3/feed", "non-public address 10.1.2.3"),
        ("http://192.168.0.10/feed", "non-public address 192.168.0.10"),
        ("http://169.254.169.254/latest/meta-data", "non-public address 169.254.169.254"),
        ("http://[::1]/feed", "non-public address ::1"),
        ("http://localhost/feed", "non-public address"),
        ("http://[::ffff:127.0.0.1]/", "non-public address ::ffff:7f00:1 (it carries 127.0.0.1)"),
        ("http://[::ffff:10.0.0.1]/", "non-public address ::ffff:a00:1 (it carries 10.0.0.1)"),
        (
            "http://[64:ff9b::a9fe:a9fe]/latest/meta-data",
            "non-public address 64:ff9b::a9fe:a9fe (it carries 169.254.169.254)",
        ),
        ("http://[64:ff9b:1::c0a8:1]/", "non-public address 64:ff9b:1::c0a8:1 (it carries"),
        ("http://[2002:a9fe:a9fe::]/", "non-public address 2002:a9fe:a9fe:: (it carries 169."),
        ("http://[2002:7f00:1::1]/", "non-public address 2002:7f00:1::1 (it carries 127.0.0.1)"),
        ("ftp://example.org/feed", "scheme 'ftp' is not fetched"),
        ("file:///etc/passwd", "file: URLs are allowed only"),
    ],
)
def test_refused(url: str, reason: str) -> None:
    with pytest.raises(URLPolicyError, match=re.escape(reason)):
        check_url(url)


def test_allowed_hosts_and_file_sources() -> None:
    check_url("http://127.0.0.1:8000/feed", allowed_hosts=["127.0.0.1"])
    check_url("file:///srv/samples/page-1.json", allow_file=True)
    check_url("https://93.184.215.14/feed")  # a public literal address needs no lookup
    # IPv6 forms that carry a public IPv4 are public
    for url in (
        "http://[::ffff:93.184.215.14]/",
        "http://[64:ff9b::5db8:d70e]/",
        "http://[2002:5db8:d70e::1]/",
        "http://[2606:4700::1111]/",
    ):
        check_url(url)
