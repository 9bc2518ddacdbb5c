"""The crawler's name resolver: Scrapy's caching resolver, with the URL policy on each answer.

:class:`URLPolicyMiddleware` checks a URL before its request is sent, resolving its host.
The connection resolves the host again; an attacker's name server can answer a public
address the first time and a private one the second (DNS rebinding). This resolver checks
every answer it hands to a connection with :func:`pipeline_core.urlpolicy.check_address`,
so the address actually connected to obeys the policy. Literal IP addresses in URLs are
not resolved: the address is the answer, checked as any other (never sent to a name server
as a name). With ``PIPELINE_NAME_SERVERS`` the
names are asked of those DNS servers (afresh for each connection, no cache), as the
middleware's check asks them.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Sequence
from typing import Any

from scrapy.resolver import CachingThreadedResolver
from twisted.internet.defer import Deferred, succeed
from twisted.internet.error import DNSLookupError
from twisted.internet.threads import deferToThreadPool

from pipeline_core.exceptions import URLPolicyError
from pipeline_core.urlpolicy import NameServer, check_address, resolve

logger = logging.getLogger(__name__)


#: Why the policy refused a host's answer, by host name: Twisted reports a refused lookup
#: only as "no results", so fetchers look the reason up here for their page error.
refusals: dict[str, str] = {}


def refusal(host: str | None) -> str | None:
    """The URL policy's reason for refusing ``host``'s last answer in this process, if any."""
    return refusals.get((host or "").lower())


def _ip_literal(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class PolicyResolver(CachingThreadedResolver):
    """Scrapy's ``CachingThreadedResolver``; an answer the URL policy refuses fails the
    lookup (``DNSLookupError`` naming host, address and the setting to change), so the
    request fails as a page error before any connection is made."""

    allowed_hosts: tuple[str, ...] = ()
    name_servers: tuple[NameServer, ...] = ()

    @classmethod
    def from_crawler(cls, crawler: Any, reactor: Any) -> PolicyResolver:
        from pipeline_core.scrapy.runtime import get_runtime

        resolver = super().from_crawler(crawler, reactor)
        settings = get_runtime().settings
        resolver.allowed_hosts = tuple(settings.allowed_hosts)
        resolver.name_servers = settings.name_servers
        return resolver

    def getHostByName(self, name: str, timeout: Sequence[int] = ()) -> Deferred[str]:
        if _ip_literal(name):
            # an address is its own answer: no name server is asked for "127.0.0.1."
            deferred: Deferred[str] = succeed(name)
        elif self.name_servers:
            # the running reactor provides IReactorFromThreads; its stub type says less
            deferred = deferToThreadPool(
                self.reactor,  # type: ignore[arg-type]
                self.reactor.getThreadPool(),
                self._ask_servers,
                name,
            )
        else:
            deferred = super().getHostByName(name, timeout)
        deferred.addCallback(self._checked, name)
        return deferred

    def _ask_servers(self, name: str) -> str:
        """The first IPv4 address ``PIPELINE_NAME_SERVERS`` give for ``name``."""
        try:
            return resolve(name, self.name_servers, ("A",))[0]
        except URLPolicyError as exc:
            raise DNSLookupError(str(exc)) from None

    def _checked(self, address: str, name: str) -> str:
        try:
            check_address(name, address, self.allowed_hosts)
        except URLPolicyError as exc:
            refusals[name.lower()] = str(exc)
            logger.warning("refused a connection: %s", exc)
            raise DNSLookupError(str(exc)) from None
        refusals.pop(name.lower(), None)
        return address
