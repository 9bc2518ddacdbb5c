"""URL policy: which URLs a fetcher may request, checked before any request is made.

Allowed: ``http``/``https`` URLs whose host resolves only to public addresses, hosts named
in ``PIPELINE_ALLOWED_HOSTS`` (for example ``127.0.0.1`` for a local fixture server), and
``file:`` URLs when the source itself starts from a ``file:`` URL (bundled samples), and
then only files in its mapping's own folder or ``PIPELINE_FILE_FOLDERS`` (never ``/proc``,
``/sys`` or ``/dev``).
Private, loopback, link-local, multicast and reserved addresses are refused otherwise, and
so is an IPv6 address that carries one of them as IPv4 (IPv4-mapped ``::ffff:0:0/96``, 6to4
``2002::/16``, NAT64 ``64:ff9b::/96``, Teredo ``2001::/32``).

A URL is checked before its request is sent (:func:`check_url`), and each address a name
resolves to is checked again when the connection is made (:func:`check_address`, called by
the crawler's name resolver), so a name that changes its answer in between is refused too.

Names are resolved by the system's resolver, or, with ``PIPELINE_NAME_SERVERS``, by the
DNS servers it names (:func:`resolve`; the check and the connection ask the same servers).
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

import dns.exception
import dns.nameserver
import dns.resolver

from pipeline_core.config import Settings
from pipeline_core.exceptions import UnresolvedHost, URLPolicyError

#: A name server: (IP address, port).
NameServer = tuple[str, int]
#: Seconds a lookup through ``PIPELINE_NAME_SERVERS`` may take, all servers tried.
LOOKUP_SECONDS = 5.0


#: Names that resolved, and their addresses, by (name, name servers): the most recent
#: :data:`_RESOLVED_MAX` (a name that did not resolve is not kept: it is asked again).
_resolved: dict[tuple[str, tuple[NameServer, ...]], tuple[str, ...]] = {}
_RESOLVED_MAX = 1024
_resolved_lock = threading.Lock()


def _addresses(
    host: str, name_servers: tuple[NameServer, ...] = (), lifetime: float | None = None
) -> tuple[str, ...]:
    try:
        return (str(ipaddress.ip_address(host)),)
    except ValueError:
        pass
    key = (host, name_servers)
    with _resolved_lock:
        found = _resolved.get(key)
    if found is not None:
        return found
    if name_servers:
        found = resolve(host, name_servers, ("A", "AAAA"), lifetime=lifetime or LOOKUP_SECONDS)
    else:
        found = tuple(sorted({str(info[4][0]) for info in system_lookup(host, None, lifetime)}))
    with _resolved_lock:
        if len(_resolved) >= _RESOLVED_MAX:
            _resolved.pop(next(iter(_resolved)))
        _resolved[key] = found
    return found


def system_lookup(host: str, port: int | None, lifetime: float | None = None) -> list[Any]:
    """``socket.getaddrinfo`` (TCP) of ``host``; :class:`UnresolvedHost` when it fails or,
    with ``lifetime``, takes longer than that many seconds. The system's resolver has no
    timeout of its own to set (its default is 5 s a try, several tries, when a name server
    does not answer): with ``lifetime`` the lookup runs in a thread of its own and is given
    up on, not stopped, when the time is out."""
    if lifetime is None:
        return _getaddrinfo(host, port)
    future: Future[list[Any]] = Future()

    def look_up() -> None:
        try:
            future.set_result(_getaddrinfo(host, port))
        except BaseException as exc:  # handed to the caller
            future.set_exception(exc)

    threading.Thread(target=look_up, name=f"lookup-{host}", daemon=True).start()
    try:
        return future.result(timeout=lifetime)
    except TimeoutError:
        raise UnresolvedHost(
            f"host {host!r} does not resolve: the system's resolver gave no answer within "
            f"{round(lifetime, 1):g} s"
        ) from None


def _getaddrinfo(host: str, port: int | None) -> list[Any]:
    try:
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnresolvedHost(f"host {host!r} does not resolve: {exc}") from None


def resolve(
    host: str,
    name_servers: Sequence[NameServer],
    kinds: Sequence[str] = ("A",),
    *,
    lifetime: float = LOOKUP_SECONDS,
) -> tuple[str, ...]:
    """The addresses ``name_servers`` give for ``host`` (records of ``kinds``, in that
    order), asked afresh (no cache), all within ``lifetime`` seconds;
    :class:`UnresolvedHost` when there are none."""
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [dns.nameserver.Do53Nameserver(ip, port) for ip, port in name_servers]
    resolver.lifetime = lifetime
    resolver.cache = None
    servers = ", ".join(f"{ip}:{port}" for ip, port in name_servers)
    found: list[str] = []
    for kind in kinds:
        try:
            answer = resolver.resolve(host, kind, search=False, raise_on_no_answer=False)
        except dns.resolver.NXDOMAIN:
            break
        except dns.exception.Timeout:
            raise UnresolvedHost(
                f"host {host!r} does not resolve: name servers {servers} gave no answer "
                f"within {round(lifetime, 1):g} s"
            ) from None
        except dns.exception.DNSException as exc:
            raise UnresolvedHost(f"host {host!r} does not resolve: {exc}") from None
        found.extend(str(record.address) for record in answer.rrset or ())
    if not found:
        raise UnresolvedHost(f"host {host!r} does not resolve (name servers {servers})")
    return tuple(found)


#: Prefixes whose last 32 bits are an IPv4 address: NAT64 (RFC 6052 well-known, RFC 8215
#: local use), IPv4-compatible (deprecated, ``::a.b.c.d``) and IPv4-translated (SIIT,
#: ``::ffff:0:a.b.c.d``).
_NAT64 = (
    ipaddress.IPv6Network("64:ff9b::/96"),
    ipaddress.IPv6Network("64:ff9b:1::/48"),
    ipaddress.IPv6Network("::/96"),
    ipaddress.IPv6Network("::ffff:0:0:0/96"),
)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (IPv4-mapped, 6to4, NAT64, IPv4-compatible,
    IPv4-translated, Teredo), if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if any(ip in network for network in _NAT64):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.is_site_local:  # fec0::/10, deprecated but routed on some networks
            return False
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            return _public(str(embedded))
    return ip.is_global and not ip.is_multicast


#: Folders no ``file:`` URL may read, whatever the settings: the kernel's views of processes
#: (``/proc/self/environ`` holds every secret of the process), its devices and settings.
FORBIDDEN_FOLDERS = (Path("/proc"), Path("/sys"), Path("/dev"))


def file_roots(base_dir: Path, settings: Settings) -> tuple[Path, ...]:
    """The folders a mapping file in ``base_dir`` may read with ``file:`` URLs: its own and
    those of ``PIPELINE_FILE_FOLDERS``, symlinks resolved."""
    folders: list[Path] = [base_dir, *(Path(p) for p in settings.file_folders)]
    return tuple(dict.fromkeys(p.expanduser().resolve() for p in folders))


def check_file_path(url: str, roots: Iterable[Path]) -> None:
    """Raise :class:`URLPolicyError` unless the file of the ``file:`` URL ``url`` lies, once
    symlinks and ``..`` are resolved, in one of ``roots``, and not in :data:`FORBIDDEN_FOLDERS`."""
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise URLPolicyError(f"{url}: a file: URL names no host (file:///path)")
    try:
        path = Path(url2pathname(unquote(parts.path))).resolve()
    except (OSError, RuntimeError, ValueError) as exc:
        raise URLPolicyError(f"{url}: not a readable path: {exc}") from None
    for folder in FORBIDDEN_FOLDERS:
        if path.is_relative_to(folder):
            raise URLPolicyError(f"{url}: file: URLs never read {folder}")
    resolved = [root.resolve() for root in roots]
    if not any(path.is_relative_to(root) for root in resolved):
        folders = ", ".join(str(r) for r in resolved) or "none"
        raise URLPolicyError(
            f"{url}: file: URLs may read only the mapping's own folder and "
            f"PIPELINE_FILE_FOLDERS ({folders}); {path} is outside them"
        )


def check_url(
    url: str,
    allowed_hosts: Iterable[str] = (),
    file_roots: Iterable[Path] | None = None,
    name_servers: Sequence[NameServer] = (),
    lifetime: float | None = None,
) -> None:
    """Raise :class:`URLPolicyError` unless ``url`` may be fetched (its host's names looked
    up with ``name_servers`` when given, else with the system's resolver; within
    ``lifetime`` seconds when given, else :data:`LOOKUP_SECONDS` for ``name_servers`` and
    the system's own timeouts). A host that does not resolve raises
    :class:`~pipeline_core.exceptions.UnresolvedHost`.

    ``file:`` URLs are refused unless ``file_roots`` is given (the folders of a source that
    starts from a ``file:`` URL); then the file must lie in one of them
    (:func:`check_file_path`)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "file":
        if file_roots is not None:
            check_file_path(url, file_roots)
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
    for address in _addresses(host, tuple(name_servers), lifetime):
        check_address(host, address, allowed, url)


def check_address(
    host: str, address: str, allowed_hosts: Iterable[str] = (), url: str = ""
) -> None:
    """Raise :class:`URLPolicyError` unless a connection to ``host`` may go to ``address``.

    This is the check made again when a connection is opened (the crawler's name resolver
    calls it with each answer), so a name that resolved to a public address when the URL
    was checked and to a private one a moment later (DNS rebinding) is still refused. Only
    the host's own name in ``allowed_hosts`` lets a name reach a non-public address.
    """
    if host.lower() in {h.lower() for h in allowed_hosts}:
        return
    if _public(address):
        return
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    embedded = _embedded_ipv4(ip) if isinstance(ip, ipaddress.IPv6Address) else None
    carries = f" (it carries {embedded})" if embedded is not None else ""
    raise URLPolicyError(
        f"{url + ': ' if url else ''}host {host} resolves to non-public address {address}"
        f"{carries}; add it to PIPELINE_ALLOWED_HOSTS to allow it"
    )


def connect_checked(
    host: str,
    port: int,
    timeout: float | None,
    allowed_hosts: Iterable[str] = (),
    name_servers: Sequence[NameServer] = (),
) -> socket.socket:
    """A TCP connection to ``host``:``port`` whose address obeys the policy.

    The name is resolved once here (by ``name_servers`` when given, as :func:`check_url`
    does; within ``timeout`` when given) and every answer is checked with
    :func:`check_address` before any is connected to, so the address connected to is the
    address checked (no second lookup for a rebinding name server to answer differently).
    For clients that open their own sockets (the webhook notifier, image downloads);
    Scrapy's are checked by its resolver.
    """
    infos: list[Any]
    try:
        ipaddress.ip_address(host)
        literal = True
    except ValueError:
        literal = False
    if name_servers and not literal:
        found = resolve(host, name_servers, ("A", "AAAA"), lifetime=timeout or LOOKUP_SECONDS)
        infos = [
            (
                socket.AF_INET6 if ":" in ip else socket.AF_INET,
                socket.SOCK_STREAM,
                socket.IPPROTO_TCP,
                "",
                (ip, port, 0, 0) if ":" in ip else (ip, port),
            )
            for ip in found
        ]
    else:
        infos = system_lookup(host, port, timeout)
    for *_, sockaddr in infos:
        check_address(host, str(sockaddr[0]), allowed_hosts)
    error: OSError | None = None
    for family, kind, proto, _, sockaddr in infos:
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(timeout)
            sock.connect(sockaddr)
        except OSError as exc:
            sock.close()
            error = exc
            continue
        return sock
    raise error or OSError(f"no address to connect to for {host}")
