"""A PostgreSQL cluster of a test's own, so that it can be stopped and restarted without
disturbing any other test: ``initdb`` in a temporary folder, a port chosen at random in
56000-56999, listening on 127.0.0.1 only (no Unix socket), trust authentication.

The server binaries are found under ``/usr/lib/postgresql/*/bin`` (or on ``PATH``). PostgreSQL
refuses to run as root: when the tests run as root, the cluster runs as the ``postgres``
user (``setpriv``). Tests skip when no server binaries are installed.
"""

from __future__ import annotations

import glob
import os
import pwd
import random
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

PORTS = range(56000, 57000)


def binaries() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``, the newest version first."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), reverse=True)
    if found:
        return Path(found[0]).parent
    on_path = shutil.which("pg_ctl")
    return Path(on_path).parent if on_path else None


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class OwnPostgres:
    """One cluster: :meth:`start`, :meth:`stop`, :meth:`restart`, :meth:`remove`."""

    def __init__(self, max_connections: int = 80) -> None:
        folder = binaries()
        if folder is None:
            pytest.skip("no PostgreSQL server binaries (initdb, pg_ctl) installed")
        self.bin = folder
        self.home = Path(tempfile.mkdtemp(prefix="dmo-chaos-pg-"))
        self.data = self.home / "data"
        self.log = self.home / "server.log"
        self.port = random.choice([p for p in random.sample(PORTS, 50) if _free(p)] or [0])
        if not self.port:
            pytest.skip("no free port in 56000-56999")
        self._as: list[str] = []
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.home, user.pw_uid, user.pw_gid)
            self._as = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"]
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' "
            f"-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            f"-c max_connections={max_connections}"
        )
        self._options = options

    def _run(self, program: str, *args: str) -> None:
        subprocess.run(
            [*self._as, str(self.bin / program), *args],
            check=True,
            capture_output=True,
            timeout=120,
            cwd=self.home,
        )

    @property
    def admin_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", self._options, "-w", "start"
        )

    def stop(self) -> None:
        """A fast shutdown: every connection is cut, open transactions roll back."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def remove(self) -> None:
        if self.running():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.home, ignore_errors=True)


@pytest.fixture
def own_postgres() -> Iterator[OwnPostgres]:
    """A started cluster of this test's own, removed afterwards. A test module imports it::

    from own_postgres import own_postgres  # noqa: F401  (a fixture)
    """
    cluster = OwnPostgres()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.remove()
