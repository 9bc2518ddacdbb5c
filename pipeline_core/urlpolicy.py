"""URL policy: which URLs a fetcher may request, checked before any request is made.

Allowed: ``http``/``https`` URLs whose host resolves only to public addresses, hosts named
in ``PIPELINE_ALLOWED_HOSTS`` (for example ``127.0.0.1`` for a local fixture server), and
``file:`` URLs when the source itself starts from a ``file:`` URL (bundled samples).
Private, loopback, link-local, multicast and reserved addresses are refused otherwise.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from functools import lru_cache
from urllib.parse import urlsplit

from pipeline_core.exceptions import URLPolicyError


@lru_cache(maxsize=1024)
def _addresses(host: str) -> tuple[str, ...]:
    try:
        return (str(ipaddress.ip_address(host)),)
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise URLPolicyError(f"host {host!r} does not resolve: {exc}") from None
    return tuple(sorted({str(info[4][0]) for info in infos}))


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    return ip.is_global and not ip.is_multicast


def check_url(url: str, allowed_hosts: Iterable[str] = (), allow_file: bool = False) -> None:
    """Raise :class:`URLPolicyError` unless ``url`` may be fetched."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "file":
        if allow_file:
            return
        raise URLPolicyError(f"{url}: file: URLs are allowed only for sources that start from one")
    if scheme not in ("http", "https"):
        raise URLPolicyError(f"{url}: scheme {scheme!r} is not fetched (http, https)")
    host = (parts.hostname or "").lower()
    if not host:
        raise URLPolicyError(f"{url}: no host")
    allowed = {h.lower() for h in allowed_hosts}
    if host in allowed:
        return
    for address in _addresses(host):
        if not _public(address):
            raise URLPolicyError(
                f"{url}: host {host} resolves to non-public address {address}; "
                "add it to PIPELINE_ALLOWED_HOSTS to allow it"
            )
