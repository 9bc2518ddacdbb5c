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

from pipeline_core.urlpolicy import NameServer, connect_checked


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a redirect is an answer, not a new URL to post to


class _CheckedHTTPConnection(http.client.HTTPConnection):
    """Connects only to an address the URL policy allows (see ``connect_checked``)."""

    def __init__(
        self,
        *args: Any,
        allowed_hosts: tuple[str, ...] = (),
        name_servers: tuple[NameServer, ...] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.allowed_hosts = allowed_hosts
        self.name_servers = name_servers

    def connect(self) -> None:
        self.sock = connect_checked(
            self.host, self.port, self.timeout, self.allowed_hosts, self.name_servers
        )


class _CheckedHTTPSConnection(http.client.HTTPSConnection):
    """TLS over a connection the URL policy allows; the certificate is checked for the
    URL's host name."""

    def __init__(
        self,
        *args: Any,
        allowed_hosts: tuple[str, ...] = (),
        name_servers: tuple[NameServer, ...] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.allowed_hosts = allowed_hosts
        self.name_servers = name_servers

    def connect(self) -> None:
        sock = connect_checked(
            self.host, self.port, self.timeout, self.allowed_hosts, self.name_servers
        )
        context: ssl.SSLContext = self._context  # type: ignore[attr-defined]
        self.sock = context.wrap_socket(sock, server_hostname=self.host)


class _CheckedHTTPHandler(urllib.request.HTTPHandler):
    def __init__(
        self, allowed_hosts: tuple[str, ...], name_servers: tuple[NameServer, ...] = ()
    ) -> None:
        super().__init__()
        self.allowed_hosts = allowed_hosts
        self.name_servers = name_servers

    def http_open(self, req: urllib.request.Request) -> Any:
        connection = partial(
            _CheckedHTTPConnection,
            allowed_hosts=self.allowed_hosts,
            name_servers=self.name_servers,
        )
        return self.do_open(connection, req)  # type: ignore[arg-type]


class _CheckedHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(
        self, allowed_hosts: tuple[str, ...], name_servers: tuple[NameServer, ...] = ()
    ) -> None:
        super().__init__()
        self.allowed_hosts = allowed_hosts
        self.name_servers = name_servers

    def https_open(self, req: urllib.request.Request) -> Any:
        connection = partial(
            _CheckedHTTPSConnection,
            allowed_hosts=self.allowed_hosts,
            name_servers=self.name_servers,
        )
        context = self._context  # type: ignore[attr-defined]
        return self.do_open(connection, req, context=context)  # type: ignore[arg-type]


def checked_opener(
    allowed_hosts: tuple[str, ...], name_servers: tuple[NameServer, ...] = ()
) -> urllib.request.OpenerDirector:
    """An opener that follows no redirect, uses no proxy from the environment, and connects
    only where the URL policy allows (the address connected to is the one checked; names
    looked up by ``name_servers`` when given, else by the system's resolver). A host that
    does not resolve, or resolves to a refused address, raises
    :class:`~pipeline_core.exceptions.URLPolicyError` from ``open``."""
    return urllib.request.build_opener(
        urllib.request.ProxyHandler({}),
        NoRedirect,
        _CheckedHTTPHandler(allowed_hosts, name_servers),
        _CheckedHTTPSHandler(allowed_hosts, name_servers),
    )
