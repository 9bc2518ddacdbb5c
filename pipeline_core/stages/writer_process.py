"""Stage-write in a separate process, so that a crawl's batches are written off its GIL.

A crawl's process maps, hashes and validates; writing a batch (building the rows, the
``COPY`` data and the child rows, and waiting for the database) is Python work of the
same size. :class:`WriterProcess` hands each batch, serialized once (orjson), to a child
process (``multiprocessing``, spawn) that writes it in one transaction with its own
engine and sends back the counts and the ids it wrote. The crawl's process keeps the
records: it rebuilds what ``records_staged`` needs from its own batch, after the commit.
"""

from __future__ import annotations

import logging
import multiprocessing
import pickle
import signal
from concurrent.futures import Future, ThreadPoolExecutor
from multiprocessing.connection import Connection
from typing import Any

import orjson
import sqlalchemy as sa

from pipeline_core.items import ListingItem
from pipeline_core.stages.errors import ErrorSink
from pipeline_core.stages.writer import StageWriter, WriteResult

logger = logging.getLogger(__name__)


class WriteFailed(Exception):
    """A batch the writer process rolled back; ``kind`` is the name of the original error."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def can_write_in_process(engine: sa.Engine) -> bool:
    """False for an in-memory SQLite database, which another process cannot open."""
    url = engine.url
    return not (url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"))


def _encode(batch: list[ListingItem]) -> tuple[str, bytes]:
    rows = [
        (item.external_id, item.record_hash, item.raw_hash, item.record, item.warnings)
        for item in batch
    ]
    try:
        return "json", orjson.dumps(rows)
    except TypeError:  # what orjson cannot write (an integer beyond 64 bits): pickle it
        return "pickle", pickle.dumps(rows, pickle.HIGHEST_PROTOCOL)


def _serve(conn: Connection, url: str, source: str) -> None:
    """The writer process: write each batch it is sent, reply with counts or the error.

    It ignores SIGINT and SIGTERM, which a terminal or a service manager sends to the whole
    process group: the crawl's process shuts down gracefully, and its last batches still
    need writing. The writer process ends when told to, or when the crawl's process is gone.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    from pipeline_core.db.engine import make_engine

    engine = make_engine(url)
    writer = StageWriter(engine.dialect.name)
    try:
        while True:
            try:
                message = conn.recv()
            except EOFError:  # the crawl's process is gone
                return
            if message is None:
                return
            crawl_id, error_rows, encoding, payload = message
            try:
                rows = orjson.loads(payload) if encoding == "json" else pickle.loads(payload)
                items = [
                    ListingItem(
                        source,
                        eid,
                        record,
                        record_hash=record_hash,
                        raw_hash=raw_hash,
                        warnings=warnings,
                    )
                    for eid, record_hash, raw_hash, record, warnings in rows
                ]
                with engine.begin() as db:
                    result = writer.write(db, items, crawl_id)
                    ErrorSink.write(db, error_rows)
            except Exception as exc:
                reply: tuple[Any, ...] = ("error", type(exc).__name__, str(exc))
            else:
                staged = [(row["id"], row["external_id"], row["action"]) for row in result.staged]
                counts = (result.inserted, result.updated, result.duplicates, result.rows_written)
                reply = ("ok", counts, staged)
            conn.send(reply)
    finally:
        engine.dispose()


class WriterProcess:
    """One writer child process for one crawl; at most one batch in flight."""

    def __init__(self, engine: sa.Engine, source: str) -> None:
        self.source = source
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        url = engine.url.render_as_string(hide_password=False)
        self._process = context.Process(
            target=_serve, args=(child, url, source), name=f"stage-write-{source}", daemon=True
        )
        self._process.start()
        child.close()
        self._batch: list[ListingItem] | None = None
        self._sender = ThreadPoolExecutor(1, thread_name_prefix=f"stage-send-{source}")
        self._sent: Future[None] | None = None

    def submit(
        self, batch: list[ListingItem], error_rows: list[dict[str, Any]], crawl_id: int | None
    ) -> None:
        """Send a batch to be written; :meth:`result` waits for it.

        The batch is serialised here and sent by a thread: writing a few megabytes into
        the pipe, while the writer process reads them, waits on the kernel with the GIL
        released, so the crawl goes on meanwhile.
        """
        assert self._batch is None, "one batch at a time"
        encoding, payload = _encode(batch)
        self._batch = batch
        self._sent = self._sender.submit(self._conn.send, (crawl_id, error_rows, encoding, payload))

    def result(self) -> WriteResult:
        """Wait for the batch in flight; raise :class:`WriteFailed` when it was rolled back."""
        batch, self._batch = self._batch, None
        assert batch is not None, "no batch in flight"
        sent, self._sent = self._sent, None
        try:
            if sent is not None:
                sent.result()
        except (OSError, ValueError) as exc:
            raise WriteFailed("WriterProcessGone", f"the writer process is gone: {exc}") from None
        try:
            reply = self._conn.recv()
        except (EOFError, OSError) as exc:
            raise WriteFailed(
                "WriterProcessGone",
                f"the writer process ended (exit code {self._process.exitcode}): {exc}",
            ) from None
        if reply[0] == "error":
            raise WriteFailed(reply[1], reply[2])
        _, (inserted, updated, duplicates, rows_written), staged = reply
        result = WriteResult(inserted, updated, duplicates, rows_written)
        by_id = {item.external_id: item for item in batch}  # the last of one id was written
        for listing_id, external_id, action in staged:
            item = by_id[external_id]
            result.staged.append(
                {
                    "id": listing_id,
                    # the batch's own text, not the copy the reply brought: the session keeps
                    # it (its staged hashes), beside the same id in its seen ids (issue 16)
                    "external_id": item.external_id,
                    "record_hash": item.record_hash,
                    "raw_hash": item.raw_hash,
                    "action": action,
                    "record": item.record,
                }
            )
        return result

    @property
    def pid(self) -> int | None:
        """The child process's id."""
        return self._process.pid

    @property
    def alive(self) -> bool:
        """Whether the child process is running."""
        return self._process.is_alive()

    def close(self) -> None:
        """Ask the child to stop and wait for it (a stuck child is terminated)."""
        self._sender.shutdown(wait=True)
        try:
            self._conn.send(None)
        except (OSError, ValueError):
            pass
        self._process.join(timeout=30)
        if self._process.is_alive():
            logger.error("%s: the writer process did not stop; killing it", self.source)
            self._process.kill()
            self._process.join(timeout=5)
        self._conn.close()
