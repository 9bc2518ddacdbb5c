"""A stage session runs map → hash → validate → stage-write for one source, in batches.

It is the plain object both drivers use: Scrapy item pipelines (``scrapy crawl``) call one
method each; queue jobs call the same methods over archived files. Unchanged records are
recognised right after hashing (the stored hashes are loaded when the session opens) and
cost neither validation nor a database write.
"""

from __future__ import annotations

import logging
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Literal

import sqlalchemy as sa

from pipeline_core.db.engine import database_away, write_transaction
from pipeline_core.exceptions import RecordError
from pipeline_core.items import ListingItem, RawRecord
from pipeline_core.mapping import CompiledMapping
from pipeline_core.mapping.memo import MemoStats
from pipeline_core.model import ValidationIssue, raw_hash, record_hash, validate_record
from pipeline_core.stages.crawl import (
    CrawlRecord,
    KnownListings,
    finish_crawl,
    load_known,
    load_repeating,
    start_crawl,
    withdraw,
)
from pipeline_core.stages.error_value import listing_warnings
from pipeline_core.stages.errors import ErrorSink
from pipeline_core.stages.map_processes import MapProcesses
from pipeline_core.stages.mapping_outcome import MapOutcome, map_record
from pipeline_core.stages.repeats import merge_records, merge_warnings, repeat_message
from pipeline_core.stages.seen import SeenIds
from pipeline_core.stages.writer import StageWriter, WriteResult
from pipeline_core.stages.writer_process import WriteFailed, WriterProcess, can_write_in_process

logger = logging.getLogger(__name__)


#: Failures of the writer process that say nothing about the records (its error's kind).
_TRANSIENT = frozenset(
    {"OperationalError", "InterfaceError", "DisconnectionError", "WriterProcessGone"}
)


def _transient(exc: BaseException) -> bool:
    """True when a write failed because the database or the writer went away, not because
    a record was refused."""
    if isinstance(exc, WriteFailed):
        return exc.kind in _TRANSIENT
    return database_away(exc) or isinstance(
        exc, sa.exc.InterfaceError | sa.exc.DisconnectionError | OSError
    )


def _reason(exc: BaseException) -> str:
    """``Kind: first line`` of a write failure (the driver's error, not SQLAlchemy's)."""
    if isinstance(exc, WriteFailed):
        kind, text = exc.kind, str(exc)
    else:
        orig = getattr(exc, "orig", None) or exc
        kind, text = type(orig).__name__, str(orig)
    return f"{kind}: {text.strip().splitlines()[0] if text.strip() else ''}"


STAT_KEYS = (
    "scraped",
    "inserted",
    "updated",
    "unchanged",
    "invalid",
    "duplicates",
    "withdrawn",
    "rows_written",
    "repeated",
)


class StageSession:
    """Stages of one crawl of one source.

    ``hook`` is the plugin manager's hook relay (or None): ``records_staged`` fires after
    each committed batch and ``crawl_finished`` when the session closes.
    """

    def __init__(
        self,
        engine: sa.Engine,
        mapping: CompiledMapping | None,
        *,
        source: str | None = None,
        fetcher: str,
        origin: str,
        batch_size: int = 500,
        hook: Any = None,
        raw_salt: bytes | None = None,
        background: bool | Literal["thread", "process"] = False,
        withdraw_limit: float = 1.0,
        hold_errors: bool = False,
        on_repeat: str | None = None,
    ) -> None:
        self.engine = engine
        self.mapping = mapping
        if mapping is None and source is None:
            raise ValueError("a stage session needs a mapping or a source name")
        #: Without a mapping (records mapped already, e.g. by a transform job) only hash,
        #: validate and stage-write work.
        self.source: str = mapping.source if mapping is not None else str(source)
        self.fetcher = fetcher
        self.origin = origin
        self.batch_size = batch_size
        #: Keep every error row until the caller writes them (a transform job writes its
        #: own, replacing an earlier attempt's); otherwise they go a batch's worth at a time.
        self.hold_errors = hold_errors
        self.hook = hook
        self.writer = StageWriter(engine.dialect.name)
        self.stats: Counter[str] = Counter({key: 0 for key in STAT_KEYS})
        self.known = KnownListings()
        #: Active staged listings not seen yet in this crawl (withdrawn if still unseen at
        #: the end of a complete crawl).
        self.unseen: set[str] = set()
        #: The next batch, by external id (one record per listing; a later record of an id
        #: takes the earlier one's place).
        self.pending: dict[str, ListingItem] = {}
        self.page_errors = 0
        self.idless = 0
        #: Records a fetcher could not read or an item pipeline failed on.
        self.unreadable = 0
        self.cut_short: str | None = None
        self.batch_failures = 0
        self.crawl: CrawlRecord | None = None
        self.errors = ErrorSink(self.source)
        #: Fingerprint of the mapping (and plugin versions) mixed into raw hashes; None turns
        #: the raw-hash skip off.
        self.raw_salt = raw_salt
        #: Largest share of the active listings one complete crawl may withdraw.
        self.withdraw_limit = withdraw_limit
        self.active_at_open = 0
        #: With ``background``, batches are written while the crawl goes on: by one writer
        #: thread (``True`` or ``"thread"``), or by one writer process (``"process"``, started
        #: when the first full batch is staged) so that writing does not compete with the
        #: crawl for its GIL. An in-memory SQLite database falls back to the thread.
        self._use_process = background == "process" and can_write_in_process(engine)
        self._executor = (
            ThreadPoolExecutor(1, thread_name_prefix=f"stage-write-{self.source}")
            if background and not self._use_process
            else None
        )
        self._process: WriterProcess | None = None
        self._inflight: (
            tuple[Future[WriteResult] | WriterProcess, list[ListingItem], list[Any]] | None
        ) = None
        #: Record hashes queued for writing but not yet written, by external id: the truth
        #: for a record that appears again before its batch is written.
        self.queued: dict[str, str] = {}
        #: Error rows of this crawl written before this session (by earlier jobs of a chain),
        #: added to the ``errors`` count at close.
        self.prior_errors = 0
        #: What a row repeating an id of this crawl does (``on_repeat``, see
        #: :mod:`pipeline_core.stages.repeats`): the mapping's rule, else ``merge``.
        self.on_repeat = on_repeat or (mapping.on_repeat if mapping is not None else "merge")
        #: Ids seen in this crawl: (position of the first record, its URL, staged or not).
        self.seen = SeenIds()
        #: Records of repeated ids, resolved by ``on_repeat``, compared with staging and
        #: written (if changed) when the crawl ends: id → (record, the first row's count
        #: still owed). Repeats are few; holding them makes an unchanged feed write nothing.
        self.deferred: dict[str, tuple[ListingItem, bool]] = {}
        #: Ids whose staged listing came from repeated rows (a warning on ``external_id``):
        #: a changed first row of one is deferred too, as its repeats may follow.
        self.repeating: set[str] = set()
        #: Records read by the fetcher so far (skipped or not): a record's position.
        self.read = 0
        #: The worker processes mapping this crawl's records, if any (set by the driver).
        self.map_processes: MapProcesses | None = None

    # ------------------------------------------------------------------ lifecycle
    def open(self, crawl: CrawlRecord | None = None) -> None:
        """Open the crawl row (or continue ``crawl``, opened earlier, e.g. by a scrape job)
        and load the hashes of what is staged."""
        if crawl is None:
            if self.mapping is None:
                raise ValueError("a stage session without a mapping needs its crawl")
            # start_crawl reads, then writes: on SQLite the write lock is taken first, or a
            # commit by another connection in between (a worker's heartbeat) fails it.
            with write_transaction(self.engine) as conn:
                crawl = start_crawl(conn, self.source, self.mapping.dmo, self.fetcher, self.origin)
        self.crawl = crawl
        if self.mapping is not None:  # each crawl pays once for each distinct value
            self.mapping.reset_memos()
        with self.engine.connect() as conn:
            self.known = load_known(conn, self.source)
            if self.on_repeat in ("merge", "last"):
                self.repeating = load_repeating(conn, self.source)
        self.unseen = self.known.active_ids()
        self.active_at_open = len(self.unseen)
        self.errors.crawl_id = self.crawl.id
        logger.info(
            "%s: crawl %s opened; %d listings already staged",
            self.source,
            self.crawl.id,
            len(self.known),
        )

    def close(
        self,
        finish_reason: str = "finished",
        *,
        source_complete: bool = True,
        update_source: bool = True,
        extra_stats: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Write what is pending, withdraw listings not seen in a complete crawl, finish.

        ``source_complete`` false says the records came from a crawl that was not complete
        (nothing is withdrawn); ``update_source`` false leaves ``pipeline.sources`` as it is;
        ``extra_stats`` are added to the crawl row's stats.
        """
        try:
            self.flush()
            self.drain()
            if self._settle_deferred():
                self.flush()
                self.drain()
        finally:
            if self._executor is not None:
                self._executor.shutdown(wait=True)
            if self._process is not None:
                self._process.close()
                self._process = None
        complete = (
            source_complete
            and finish_reason == "finished"
            and self.page_errors == 0
            and self.idless == 0
            and self.unreadable == 0
            and self.cut_short is None
            and self.batch_failures == 0
        )
        with self.engine.begin() as conn:
            if complete:
                gone = self.known.active_among(self.unseen)
                if len(gone) > max(2, self.withdraw_limit * self.active_at_open):
                    # A feed that suddenly lists far fewer records is more likely broken
                    # than emptied: withdraw nothing and say so.
                    complete = False
                    self.errors.add(
                        "withdraw",
                        f"this crawl would withdraw {len(gone)} of {self.active_at_open} active "
                        f"listings, more than PIPELINE_WITHDRAW_LIMIT={self.withdraw_limit:g} "
                        "allows; nothing was withdrawn",
                    )
                elif gone:
                    self.stats["withdrawn"] = withdraw(conn, self.source, gone)
                    self.stats["rows_written"] += self.stats["withdrawn"]
                    # no listing may point at a withdrawn one as its original
                    self.stats["rows_written"] += self.writer.regroup_withdrawn(
                        conn, self.source, sorted(gone)
                    )
            stats: dict[str, Any] = dict(self.stats)
            stats["errors"] = self.errors.count + self.prior_errors
            stats["finish_reason"] = finish_reason
            stats["complete"] = complete
            stats.update(extra_stats or {})
            self.errors.flush(conn)
            if self.crawl is not None:
                finish_crawl(
                    conn, self.crawl, finish_reason, complete, stats, update_source=update_source
                )
        self.errors.log_summary()
        logger.info(
            "%s: crawl finished (%s): %s",
            self.source,
            finish_reason,
            ", ".join(
                f"{key} {stats[key]}"
                for key in STAT_KEYS
                if key != "rows_written" and (key != "repeated" or stats[key])
            ),
        )
        if self.hook is not None:
            self.hook.crawl_finished(
                source=self.source, stats=stats, crawl_id=self.crawl.id if self.crawl else None
            )
        return stats

    def memo_stats(self) -> MemoStats:
        """Hits and misses of the pure transforms' caches in this crawl (here and in its
        map processes)."""
        stats = self.mapping.memo_stats() if self.mapping is not None else MemoStats()
        if self.map_processes is not None:
            stats.hits += self.map_processes.memo.hits
            stats.misses += self.map_processes.memo.misses
        return stats

    # ------------------------------------------------------------------ stages
    def raw_hash(self, payload: Any) -> str | None:
        """Hash of a record as fetched, or None when the raw-hash skip is off."""
        return None if self.raw_salt is None else raw_hash(payload, self.raw_salt)

    def skip_unchanged_raw(self, external_id: str | None, raw: str | None) -> bool:
        """True (and counted as scraped and unchanged) when the record as fetched is the one
        staged, under the same mapping: the earliest skip, before mapping. Fetchers call it
        through :meth:`FetcherSpider.record` so unchanged records are never even yielded."""
        if raw is None or external_id is None or external_id in self.queued:
            self.read += raw is not None
            return False
        self.read += 1
        if external_id in self.seen or external_id in self.repeating:
            return False  # rows of a repeated id are mapped, in order, for on_repeat
        if not self.known.same_raw(external_id, raw):
            return False
        self.unseen.discard(external_id)
        self.stats["scraped"] += 1
        self.seen.set(external_id, self.read, "", True)
        self.stats["unchanged"] += 1
        if external_id in self.known.duplicates:
            self.stats["duplicates"] += 1
        return True

    def map(self, raw: RawRecord) -> ListingItem | None:
        """Map a raw record; on a record error, log it and return None."""
        assert self.mapping is not None, "map needs the session's mapping"
        return self.take_mapped(raw, map_record(self.mapping, raw.payload, raw.external_id))

    def take_mapped(self, raw: RawRecord, out: MapOutcome) -> ListingItem | None:
        """Count a record mapped here or by a map process (:func:`map_record`): its errors
        and kept values become error rows naming source, record and field; None when it
        could not be mapped."""
        self.stats["scraped"] += 1
        if out.id_read:
            if out.external_id is None:
                self.idless += 1
            else:
                self.unseen.discard(out.external_id)
        if out.error is not None:
            external_id, field, message, value = out.error
            self.stats["invalid"] += 1
            self.errors.add(
                "map", message, external_id=external_id, field=field, value=value, url=raw.url
            )
            self._flush_errors_when_full()
            return None
        record = out.take_record()
        if out.failure is not None or record is None:
            message, external_id = out.failure or ("the record could not be mapped", None)
            self.stats["invalid"] += 1
            self.errors.add("map", message, external_id=external_id, url=raw.url)
            self._flush_errors_when_full()
            return None
        kept = [RecordError(self.source, *reason) for reason in out.kept or ()]
        for reason in kept:  # values kept as published: reported, the record still staged
            self.errors.add(
                "map",
                reason.message,
                external_id=reason.external_id,
                field=reason.field,
                value=reason.value,
                url=raw.url,
            )
        if kept:
            self._flush_errors_when_full()
        return ListingItem(
            self.source,
            record["external_id"],
            record,
            raw.url,
            raw_hash=raw.raw_hash,
            warnings=listing_warnings(kept),
            position=raw.position or self.stats["scraped"],
            checked=out.checked,
        )

    def hash(self, item: ListingItem) -> ListingItem:
        """Hash the record and compare with what is staged: ``changed`` or ``unchanged``
        (or ``invalid``, counted and recorded, when the record has no canonical JSON form:
        a lone surrogate in a text, an integer beyond 64 bits)."""
        if item.state == "new" and not self._resolve_repeat(item):
            return item  # ignored or invalid by the source's on_repeat
        if not self.compute_hash(item):
            return item
        if item.repeat:  # compared with what is staged when the crawl ends
            item.state = "changed"
            return item
        queued = self.queued.get(item.external_id)
        if queued is not None:  # seen earlier in this crawl, its batch not written yet
            same = queued == item.record_hash
        else:
            same = self.known.same_record(item.external_id, item.record_hash)
        if same:
            item.state = "unchanged"
            self.stats["unchanged"] += 1
            if item.external_id in self.known.duplicates:
                self.stats["duplicates"] += 1
        else:
            item.state = "changed"
        return item

    def _resolve_repeat(self, item: ListingItem) -> bool:
        """Apply ``on_repeat`` to a record whose id came earlier in this crawl: merge it
        with the earlier record, or mark it ``unchanged`` (``first``) or ``invalid``.
        False when the record is not to be staged."""
        external_id = item.external_id
        seen = self.seen.get(external_id)
        if seen is None:
            self.seen.set(external_id, item.position, item.url, False)
            return True
        rule = self.on_repeat
        message = self._report_repeat(external_id, item.position, seen, item.url)
        if rule == "invalid":
            item.state = "invalid"
            self.stats["invalid"] += 1
            return False
        if rule == "first" and seen[2]:
            item.state = "unchanged"
            self.stats["repeated"] += 1
            return False
        if not seen[2]:  # the earlier record was not staged (invalid): this one stands alone
            self.seen.set(external_id, item.position, item.url, False)
            return True
        item.repeat = True
        earlier = self._earlier(external_id)
        warning = {"field": "external_id", "message": message, "value": None}
        if earlier is not None and rule == "merge":
            record, raw, warnings = earlier
            item.record = merge_records(record, item.record)
            item.checked = None  # a new record: hashed and validated afresh
            item.raw_hash = raw  # the first row's: an unchanged feed skips it next time
            item.warnings = merge_warnings(warnings, item.warnings, [warning])
        else:
            item.warnings = merge_warnings(item.warnings, [warning])
        return True

    def _settle_deferred(self) -> bool:
        """Compare the records of repeated ids with what is staged now; queue the changed
        ones for writing. True when any was queued."""
        queued = False
        for external_id, (item, owed) in self.deferred.items():
            if self.known.same_record(external_id, item.record_hash):
                if owed:  # the first row's count: its record was staged already
                    self.stats["unchanged"] += 1
                continue
            self.queued[external_id] = item.record_hash
            self.pending[external_id] = item
            if not owed:  # the last repeat owns the write, counted by the writer
                self.stats["repeated"] -= 1
            queued = True
        self.deferred = {}
        return queued

    def _report_repeat(
        self, external_id: str, position: int, seen: tuple[int, str, bool], url: str
    ) -> str:
        message = repeat_message(position, seen[0], seen[1], self.on_repeat)
        self.errors.add(
            "repeat", message, external_id=external_id, field="external_id", url=url or None
        )
        self._flush_errors_when_full()
        return message

    def _earlier(
        self, external_id: str
    ) -> tuple[dict[str, Any], str | None, list[dict[str, Any]] | None] | None:
        """The record staged (or about to be) for ``external_id`` by this crawl: from the
        batch pending, the batch in flight, or staging."""
        deferred = self.deferred.get(external_id)
        pending = deferred[0] if deferred else self.pending.get(external_id)
        if pending is not None:
            return pending.record, pending.raw_hash, pending.warnings
        if self._inflight is not None:
            for item in reversed(self._inflight[1]):
                if item.external_id == external_id:
                    return item.record, item.raw_hash, item.warnings
        listings = self.writer.listings
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(listings.c.record, listings.c.raw_hash, listings.c.warnings).where(
                    listings.c.source == self.source, listings.c.external_id == external_id
                )
            ).first()
        return None if row is None else (row.record, row.raw_hash, row.warnings)

    def compute_hash(self, item: ListingItem) -> bool:
        """Set ``item.record_hash``; False, with ``item`` counted invalid (state
        ``invalid``, an error row of stage ``hash``), when the record has no canonical JSON
        form."""
        checked = item.checked
        if checked is not None:  # hashed where it was mapped
            if checked.record_hash is not None:
                item.record_hash = checked.record_hash
                return True
            reason: str = checked.hash_error or ""
        else:
            try:
                item.record_hash = record_hash(item.record)
                return True
            except (TypeError, ValueError) as exc:
                reason = str(exc)
        item.state = "invalid"
        self.invalid(item, "hash", f"the record has no canonical JSON form: {reason}")
        self._flush_errors_when_full()
        return False

    def invalid(self, item: ListingItem, stage: str, message: str) -> None:
        """Count ``item`` invalid, with an error row of ``stage`` naming it."""
        self.stats["invalid"] += 1
        self.errors.add(stage, message, external_id=item.external_id, url=item.url)

    def validate(self, item: ListingItem) -> bool:
        """Check a changed record against the schema; record each issue as an error."""
        if item.state == "unchanged":
            return True
        if item.state == "invalid":  # counted and recorded where it was found
            return False
        checked = item.checked
        issues = (
            validate_record(item.record)
            if checked is None
            else [ValidationIssue(field, message) for field, message in checked.issues]
        )
        if not issues:
            return True
        self.stats["invalid"] += 1
        for issue in issues:
            value: Any = item.record
            for part in issue.field.split("."):
                value = (
                    value.get(part)
                    if isinstance(value, dict)
                    else (value[int(part)] if isinstance(value, list) and part.isdigit() else None)
                )
            self.errors.add(
                "validate",
                issue.message,
                external_id=item.external_id,
                field=issue.field,
                value=value,
                url=item.url,
            )
        self._flush_errors_when_full()
        return False

    def stage(self, item: ListingItem) -> None:
        """Queue a changed record for the next batch write."""
        external_id = item.external_id
        if item.state in ("changed", "unchanged"):
            self.seen.mark_staged(external_id)  # staged: repeats merge
        if item.state != "changed":
            return
        if item.repeat:
            before = self.deferred.get(external_id)
            self.deferred[external_id] = (item, before[1] if before else False)
            self.stats["repeated"] += 1
            return
        if external_id in self.repeating and self.on_repeat in ("merge", "last"):
            self.deferred[external_id] = (item, True)
            return
        self.queued[item.external_id] = item.record_hash
        if item.external_id in self.pending:
            # A repeat of an id whose record waits in this batch: the record resolved by
            # on_repeat takes its place; the write is counted for the earlier row, and this
            # one as ``repeated``.
            self.pending[item.external_id] = item
            self.stats["repeated"] += 1
            return
        self.pending[item.external_id] = item
        if len(self.pending) >= self.batch_size:
            self.flush(start_process=True)

    def page_error(self, message: str, url: str) -> None:
        """A page could not be fetched or parsed: recorded; the crawl is not complete."""
        self.page_errors += 1
        self.errors.add("fetch", message, url=url)
        self._flush_errors_when_full()

    def record_error(
        self,
        message: str,
        url: str,
        *,
        external_id: str | None = None,
        field: str | None = None,
        value: Any = None,
    ) -> None:
        """A fetcher could not read one record (stage ``fetch``): counted scraped and
        invalid. ``external_id`` (the id as far as the record could be read) names it in the
        error row; as that may be wrong, the crawl is not complete, so nothing is withdrawn."""
        self.stats["scraped"] += 1
        self.stats["invalid"] += 1
        self.unreadable += 1
        self.errors.add(
            "fetch", message, external_id=external_id, field=field, value=value, url=url
        )
        self._flush_errors_when_full()

    def item_error(self, message: str, url: str, *, external_id: str | None = None) -> None:
        """An item pipeline raised on one record (stage ``pipeline``; Scrapy's ``item_error``,
        which names the item the chain started with): counted invalid, as it was counted
        scraped when mapped. The record may be neither staged nor seen, so the crawl is not
        complete and nothing is withdrawn. (A plugin pipeline placed before the map stage, or
        after the stage-write, makes the counts one off: Scrapy does not say which pipeline
        raised.)"""
        self.stats["invalid"] += 1
        self.unreadable += 1
        self.errors.add("pipeline", message, external_id=external_id, url=url)
        self._flush_errors_when_full()

    def mark_cut_short(self, reason: str) -> None:
        """The fetcher stopped before the end of the source (``max_pages``): the crawl is not
        complete, so nothing is withdrawn."""
        self.cut_short = reason
        logger.info("%s: crawl cut short: %s", self.source, reason)

    def flush(self, start_process: bool = False) -> None:
        """Write pending records and errors in one transaction.

        With ``background`` the transaction runs in the session's writer thread or process
        while the crawl goes on (at most one batch in flight); its counts are taken in at
        the next flush or at close. A failed batch raises here, at the next flush, or at
        close. The writer process is started by the first flush of a full batch
        (``start_process``); a crawl whose records fit one batch writes them here.
        """
        batch, self.pending = list(self.pending.values()), {}
        error_rows = self.errors.take()
        if not batch and not error_rows:
            return
        if self._use_process and self._process is None and start_process:
            self._process = WriterProcess(self.engine, self.source)
        if self._process is not None:
            self.drain()
            if self._process is None:  # it ended while writing the batch before
                self._process = WriterProcess(self.engine, self.source)
            try:
                self._process.submit(batch, error_rows, self.crawl.id if self.crawl else None)
            except WriteFailed as exc:
                self._unqueue(batch)
                self._batch_failed(exc, error_rows, batch)
                return
            self._inflight = (self._process, batch, error_rows)
            return
        if self._executor is None:
            try:
                result = self._write(batch, error_rows)
            except Exception as exc:
                if _transient(exc) or not batch:
                    self.errors.pending[:0] = error_rows  # not lost: written later or at close
                    raise
                self._write_apart(batch, error_rows, exc)  # the database refused a record
                return
            except BaseException:
                self.errors.pending[:0] = error_rows
                raise
            finally:
                self._unqueue(batch)
            self._take_result(result)
            return
        self.drain()
        future = self._executor.submit(self._write, batch, error_rows)
        self._inflight = (future, batch, error_rows)

    def _flush_errors_when_full(self) -> None:
        """Write the error rows once a batch's worth is pending (with the listings pending
        then), so a crawl of mostly bad or unchanged records does not hold them all."""
        if not self.hold_errors and len(self.errors.pending) >= self.batch_size:
            self.flush(start_process=True)

    def _unqueue(self, batch: list[ListingItem]) -> None:
        for item in batch:
            if self.queued.get(item.external_id) == item.record_hash:
                del self.queued[item.external_id]

    def drain(self) -> None:
        """Wait for the batch in flight, if any, and take in its counts.

        A batch the database refused (a value or constraint, not a lost connection) is
        written again one record at a time: only the records refused are left out, each
        counted invalid with an error row (stage ``stage-write``) naming it. A batch that
        failed otherwise (the database or the writer process went away) was rolled back
        whole: its records are not staged, the failure becomes one error row, the crawl is
        not complete (so nothing is withdrawn), and the crawl goes on.
        """
        if self._inflight is None:
            return
        (future, batch, error_rows), self._inflight = self._inflight, None
        try:
            result = future.result()
        except Exception as exc:
            self._batch_failed(exc, error_rows, batch)
            return
        finally:
            self._unqueue(batch)
        self._take_result(result)

    def _batch_failed(
        self,
        exc: Exception,
        error_rows: list[dict[str, Any]],
        batch: list[ListingItem] | None = None,
    ) -> None:
        if self._process is not None and not self._process.alive:
            self._process.close()  # started again by the next flush
            self._process = None
        if batch and not _transient(exc):
            self._write_apart(batch, error_rows, exc)
            return
        self.batch_failures += 1
        self.errors.pending[:0] = error_rows  # written with a later batch or at close
        logger.error("%s: a stage-write batch failed and was rolled back: %s", self.source, exc)
        kind = exc.kind if isinstance(exc, WriteFailed) else type(exc).__name__
        self.errors.add(
            "stage-write",
            f"a batch was rolled back, its records are not staged: "
            f"{kind}: {str(exc).splitlines()[0] if str(exc) else ''}",
        )

    def _write_apart(
        self, batch: list[ListingItem], error_rows: list[dict[str, Any]], exc: Exception
    ) -> None:
        """Write a refused batch one record a transaction, in this thread: a record the
        database refuses again is invalid, with an error row naming it; the others are
        staged. Should the database go away meanwhile, the rest of the batch fails as a
        whole (:meth:`_batch_failed`)."""
        logger.warning(
            "%s: the database refused a batch of %d records (%s); writing them one by one",
            self.source,
            len(batch),
            _reason(exc),
        )
        self.errors.pending[:0] = error_rows  # written with a later batch or at close
        for item in batch:
            try:
                result = self._write([item], [])
            except Exception as refused:
                if _transient(refused):  # the rest of the batch is not staged
                    self._batch_failed(refused, [])
                    return
                self.invalid(
                    item, "stage-write", f"the database refused the record: {_reason(refused)}"
                )
                continue
            self._take_result(result)

    def _write(self, batch: list[ListingItem], error_rows: list[dict[str, Any]]) -> WriteResult:
        with self.engine.begin() as conn:
            result = self.writer.write(conn, batch, self.crawl.id if self.crawl else None)
            ErrorSink.write(conn, error_rows)
        return result

    def _take_result(self, result: WriteResult) -> None:
        self.stats["inserted"] += result.inserted
        self.stats["updated"] += result.updated
        self.stats["duplicates"] += result.duplicates
        self.stats["rows_written"] += result.rows_written
        for row in result.staged:
            self.known.put(row["external_id"], row["record_hash"], row["raw_hash"])
        if result.staged and self.hook is not None:
            self.hook.records_staged(
                source=self.source,
                records=result.staged,
                crawl_id=self.crawl.id if self.crawl else None,
            )
