"""URLs are checked before any request: private addresses refused unless allowed."""

from __future__ import annotations

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
        ("ftp://example.org/feed", "scheme 'ftp' is not fetched"),
        ("file:///etc/passwd", "file: URLs are allowed only"),
    ],
)
def test_refused(url: str, reason: str) -> None:
    with pytest.raises(URLPolicyError, match=reason.replace("[", r"\[")):
        check_url(url)


def test_allowed_hosts_and_file_sources() -> None:
    check_url("http://127.0.0.1:8000/feed", allowed_hosts=["127.0.0.1"])
    check_url("file:///srv/samples/page-1.json", allow_file=True)
    check_url("https://93.184.215.14/feed")  # a public literal address needs no lookup
