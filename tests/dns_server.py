"""A DNS server on 127.0.0.1 (UDP, a random port) whose answers a test scripts: each name
has a list of IPv4 answers, the n-th ``A`` query of a name gets the n-th (the last one
repeats), ``AAAA`` queries get no record, unknown names ``NXDOMAIN``. It records every
query, so a test sees how often a name was looked up."""

from __future__ import annotations

import socket
import threading
from collections.abc import Mapping, Sequence

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset


class ScriptedDNS:
    """Use as a context manager; ``address`` is ``127.0.0.1:PORT``."""

    def __init__(self, answers: Mapping[str, Sequence[str]]) -> None:
        self.answers = {name.lower().rstrip("."): list(ips) for name, ips in answers.items()}
        self.queries: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.settimeout(0.2)
        self.port = int(self._socket.getsockname()[1])
        self.address = f"127.0.0.1:{self.port}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> ScriptedDNS:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._socket.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, client = self._socket.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            self._socket.sendto(self._answer(data), client)

    def _answer(self, data: bytes) -> bytes:
        query = dns.message.from_wire(data)
        response = dns.message.make_response(query)
        question = query.question[0]
        name = question.name.to_text(omit_final_dot=True).lower()
        kind = dns.rdatatype.to_text(question.rdtype)
        with self._lock:
            asked = sum(1 for n, k in self.queries if n == name and k == kind)
            self.queries.append((name, kind))
        ips = self.answers.get(name)
        if ips is None:
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif kind == "A":
            ip = ips[min(asked, len(ips) - 1)]
            response.answer.append(dns.rrset.from_text(question.name, 0, "IN", "A", ip))
        return response.to_wire()
