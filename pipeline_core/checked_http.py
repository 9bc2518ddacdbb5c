"""HTTP through urllib that connects only where the URL policy allows.

:func:`checked_opener` follows no redirect (a 3xx is an answer the caller reads as an
:class:`urllib.error.HTTPError`, checking the next URL itself), uses no proxy from the
environment, and opens its sockets with :func:`~pipeline_core.urlpolicy.connect_checked`,
so the address connected to is the address checked. Used by the webhook notifier and the
image downloads.
"""

from __future__ import annotations

import http.client
import ssl
import urllib.request
from functools import partial
from typing import Any

from pipeline_core.urlpolicy import connect_checked


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a redirect is an answer, not a new URL to post to


class _CheckedHTTPConnection(http.client.HTTPConnection):
    """Connects only to an address the URL policy allows (see ``connect_checked``)."""

    def __init__(self, *args: Any, allowed_hosts: tuple[str, ...] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.allowed_hosts = allowed_hosts

    def connect(self) -> None:
        self.sock = connect_checked(self.host, self.port, self.timeout, self.allowed_hosts)


class _CheckedHTTPSConnection(http.client.HTTPSConnection):
    """TLS over a connection the URL policy allows; the certificate is checked for the
    URL's host name."""

    def __init__(self, *args: Any, allowed_hosts: tuple[str, ...] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.allowed_hosts = allowed_hosts

    def connect(self) -> None:
        sock = connect_checked(self.host, self.port, self.timeout, self.allowed_hosts)
        context: ssl.SSLContext = self._context  # type: ignore[attr-defined]
        self.sock = context.wrap_socket(sock, server_hostname=self.host)


class _CheckedHTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, allowed_hosts: tuple[str, ...]) -> None:
        super().__init__()
        self.allowed_hosts = allowed_hosts

    def http_open(self, req: urllib.request.Request) -> Any:
        connection = partial(_CheckedHTTPConnection, allowed_hosts=self.allowed_hosts)
        return self.do_open(connection, req)  # type: ignore[arg-type]


class _CheckedHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, allowed_hosts: tuple[str, ...]) -> None:
        super().__init__()
        self.allowed_hosts = allowed_hosts

    def https_open(self, req: urllib.request.Request) -> Any:
        connection = partial(_CheckedHTTPSConnection, allowed_hosts=self.allowed_hosts)
        context = self._context  # type: ignore[attr-defined]
        return self.do_open(connection, req, context=context)  # type: ignore[arg-type]


def checked_opener(allowed_hosts: tuple[str, ...]) -> urllib.request.OpenerDirector:
    """An opener that follows no redirect, uses no proxy from the environment, and connects
    only where the URL policy allows (the address connected to is the one checked)."""
    return urllib.request.build_opener(
        urllib.request.ProxyHandler({}),
        NoRedirect,
        _CheckedHTTPHandler(allowed_hosts),
        _CheckedHTTPSHandler(allowed_hosts),
    )
