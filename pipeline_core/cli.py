"""The ``dmo-pipeline`` command line. ``dmo-pipeline --help`` lists the commands."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import sqlalchemy as sa

from pipeline_core.config import SETTINGS, load_settings
from pipeline_core.exceptions import PipelineError

if TYPE_CHECKING:
    from pipeline_core.queue.scheduler import SourceSchedule, TickResult


def _fail(exc: Exception) -> None:
    raise click.ClickException(str(exc)) from None


class _Group(click.Group):
    """Turns dmo-pipeline's own errors into one clear line and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PipelineError as exc:
            _fail(exc)


@click.group(cls=_Group)
@click.version_option(package_name="dmo-pipeline")
def main() -> None:
    """dmo-pipeline: crawl DMO tourism listings, map, validate and stage them."""
    from pipeline_core.escaping import install_log_escaping

    install_log_escaping()


@main.command()
@click.option("--verbose", "-v", is_flag=True, help="Also print each setting's help text.")
def settings(verbose: bool) -> None:
    """Print the effective settings (from the environment), secrets masked."""
    values = load_settings().masked()
    for setting in SETTINGS:
        click.echo(f"{setting.name}={values[setting.name]}")
        if verbose:
            click.echo(f"    {setting.help}")


@main.command()
@click.option("--revision", default="head", show_default=True, help="Target revision.")
def migrate(revision: str) -> None:
    """Create or upgrade the database schema (Alembic migrations)."""
    from pipeline_core.db.migrate import current, upgrade

    url = load_settings().database_url
    upgrade(url, revision)
    click.echo(f"database at revision {current(url)}")


@main.command()
def plugins() -> None:
    """List the loaded plugins, built-in and installed, with the hooks they implement."""
    from pipeline_core.plugins import get_plugin_manager

    pm = get_plugin_manager()
    for info in pm.infos.values():
        click.echo(f"{info.name}  ({info.distribution} {info.version}, {info.module})")
        click.echo(f"    hooks: {', '.join(info.hooks) or '-'}")


@main.command()
@click.option(
    "--check",
    is_flag=True,
    help="Also compile every mapping; exit 1 naming each source left out or not compiling, "
    "with file and line.",
)
def sources(check: bool) -> None:
    """List every source: name, DMO, fetcher and where it is defined.

    A mapping file or stored configuration that is not valid is left out (its error is
    logged) and the others are listed; with ``--check`` every mapping is compiled as a crawl
    compiles it, each source left out or not compiling is named with its error (file and
    line), and the command fails."""
    from pipeline_core.escaping import shown
    from pipeline_core.scrapy.runtime import get_runtime

    runtime = get_runtime()
    found = runtime.sources
    if not found:
        click.echo("no sources")
    width = max((len(name) for name in found), default=0)
    for name, source in found.items():
        click.echo(f"{name:<{width}}  {source.dmo:<20} {source.fetcher:<10} {source.origin}")
    if not check:
        return
    from pipeline_core.mapping.compile_check import check_mappings

    problems = {name: broken.error for name, broken in found.broken.items()}
    documents = {name: runtime.pm.effective_mapping(source) for name, source in found.items()}
    for name, message in check_mappings(documents, runtime.transforms).items():
        if message is not None:
            problems[name] = message
    total = len(found) + len(found.broken)
    click.echo(f"{total - len(problems)} of {total} mappings compile")
    for name, error in sorted(problems.items()):
        click.echo(f"broken: {shown(name)}: {shown(error)}", err=True)
    if problems:
        raise click.ClickException(f"{len(problems)} source(s) cannot be crawled")


def _parse_pairs(pairs: Iterable[str], flag: str) -> dict[str, str]:
    out = {}
    for pair in pairs:
        if "=" not in pair:
            raise click.BadParameter(f"{pair!r} is not NAME=VALUE", param_hint=flag)
        name, value = pair.split("=", 1)
        out[name] = value
    return out


def run_crawls(
    names: list[str],
    scrapy_settings: dict[str, Any] | None = None,
    spider_args: dict[str, str] | None = None,
    output: str | None = None,
    progress: bool = True,
) -> dict[str, dict[str, Any]]:
    """Crawl ``names`` in this process (one Twisted reactor); return each crawl's stats."""
    from scrapy.crawler import CrawlerProcess
    from scrapy.settings import Settings
    from tqdm import tqdm
    from twisted.internet import task

    from pipeline_core.scrapy.runtime import get_runtime

    runtime = get_runtime()
    for name in names:
        runtime.compiled(name)  # unknown sources and broken mappings fail before any crawl
    runtime.ensure_database()
    settings = Settings()
    settings.setmodule("pipeline_core.scrapy.settings", priority="project")
    settings.update(scrapy_settings or {}, priority="cmdline")
    if output:  # like scrapy's -O: the file is overwritten
        feed_format = Path(output).suffix.lstrip(".") or "jsonl"
        settings.set("FEEDS", {output: {"format": feed_format, "overwrite": True}})
    from pipeline_core.scrapy.quiet_logs import quiet_scrapy_dumps

    quiet_scrapy_dumps()  # settings and stats dumps only at DEBUG
    from pipeline_core.log_context import adopt_environment
    from pipeline_core.log_format import configure_logging

    adopt_environment()  # a scrape job's crawl: its lines carry the job's correlation id
    as_json = runtime.settings.log_format == "json"
    process = CrawlerProcess(settings, install_root_handler=not as_json)
    if as_json:  # Scrapy's handler writes text: this process logs JSON lines instead
        configure_logging(str(settings.get("LOG_LEVEL")), "json")
    crawlers = []
    for name in names:
        crawler = process.create_crawler(name)
        crawlers.append(crawler)
        process.crawl(crawler, **(spider_args or {}))
    bar = tqdm(desc="records", unit=" rec", disable=None if progress else True, file=sys.stderr)

    def tick() -> None:
        total = 0
        for crawler in crawlers:
            session = getattr(crawler, "dmo_session", None)
            total += session.stats["scraped"] if session is not None else 0
        bar.update(total - bar.n)

    loop = task.LoopingCall(tick)
    loop.start(0.5)
    process.start()
    if loop.running:
        loop.stop()
    tick()
    bar.close()
    results = {}
    for name, crawler in zip(names, crawlers, strict=True):
        stats = crawler.stats.get_stats() if crawler.stats else {}
        results[name] = {
            key[4:]: value for key, value in stats.items() if key.startswith("dmo/")
        } | {"finish_reason": stats.get("finish_reason")}
    return results


def _print_stats(results: dict[str, dict[str, Any]]) -> None:
    keys = ("scraped", "inserted", "updated", "unchanged", "invalid", "duplicates", "withdrawn")
    for name, stats in results.items():
        counts = ", ".join(f"{k} {stats.get(k, 0)}" for k in keys)
        if stats.get("repeated"):
            counts += f", repeated {stats['repeated']}"
        if "archived" in stats:  # archive mode: nothing was staged
            counts = f"archived {stats['archived']} raw records"
        state = "complete" if stats.get("complete") else "INCOMPLETE"
        click.echo(
            f"{name}: {counts} ({stats.get('finish_reason')}, {state}, "
            f"{stats.get('errors', 0)} errors in pipeline.errors)"
        )


@main.command(context_settings={"ignore_unknown_options": False})
@click.argument("source_names", nargs=-1, required=True, metavar="SOURCE...")
@click.option("-s", "--set", "sets", multiple=True, metavar="NAME=VALUE", help="Scrapy setting.")
@click.option("-a", "args", multiple=True, metavar="NAME=VALUE", help="Spider argument.")
@click.option(
    "-O", "--output", help="Also write the items to this feed file (.jsonl, .json, .csv)."
)
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def crawl(
    source_names: tuple[str, ...],
    sets: tuple[str, ...],
    args: tuple[str, ...],
    output: str | None,
    no_progress: bool,
) -> None:
    """Crawl sources end to end: fetch, map, validate, hash and stage (like `scrapy crawl`)."""
    results = run_crawls(
        list(source_names),
        _parse_pairs(sets, "-s"),
        _parse_pairs(args, "-a"),
        output,
        progress=not no_progress,
    )
    _print_stats(results)
    incomplete = [name for name, r in results.items() if not r.get("complete")]
    if incomplete:
        click.echo(
            "not complete (a page failed or the crawl was cut short; nothing was withdrawn): "
            + ", ".join(incomplete),
            err=True,
        )
        sys.exit(1)


def table_counts(engine: sa.Engine) -> dict[str, int]:
    """Rows in every table of the three schemas."""
    from pipeline_core.db import metadata

    counts = {}
    with engine.connect() as conn:
        for table in sorted(metadata.tables.values(), key=lambda t: t.fullname):
            counts[table.fullname] = conn.execute(
                sa.select(sa.func.count()).select_from(table)
            ).scalar_one()
    return counts


@main.command()
def quickstart() -> None:
    """Migrate the embedded database, crawl the bundled example sources, print counts."""
    from pipeline_core.db.engine import sqlite_schema_files
    from pipeline_core.db.migrate import current, upgrade
    from pipeline_core.scrapy.runtime import get_runtime

    runtime = get_runtime()
    url = runtime.settings.database_url
    upgrade(url)
    click.echo(f"database migrated to revision {current(url)}")
    bundled = [
        name
        for name, source in runtime.sources.items()
        if (source.mapping.resolved_url() or "").startswith("file:")
    ]
    # the small made-up examples; the bundled real sources take longer and are listed
    examples = [name for name in bundled if name.startswith("example-")]
    if not examples:
        raise click.ClickException("no bundled example sources (file: URLs) were found")
    click.echo("crawling bundled example sources: " + ", ".join(examples))
    results = run_crawls(examples, {"LOG_LEVEL": "WARNING"})
    _print_stats(results)
    click.echo("\nrows per table:")
    for table, count in table_counts(runtime.engine).items():
        click.echo(f"  {table:<28} {count}")
    click.echo("\nthe data is in:")
    if runtime.engine.dialect.name == "sqlite":
        database = runtime.engine.url.database or ""
        click.echo(f"  {database} (main)")
        for schema, path in sqlite_schema_files(database).items():
            click.echo(f"  {path} (schema {schema})")
    else:
        click.echo(f"  {runtime.engine.url.render_as_string(hide_password=True)}")
    click.echo(f"  archive: {runtime.settings.storage_url}")
    real = [name for name in bundled if name not in examples]
    if real:
        click.echo("\nbundled real sources (docs/reference/sources.md), not crawled here:")
        click.echo("  dmo-pipeline crawl " + " ".join(real))
    click.echo("\nnext: dmo-pipeline sources; scrapy crawl SOURCE; docs/tutorial.md")


def _preview_runtime() -> None:
    """Build the runtime so a preview creates no file: with an embedded database that does
    not exist yet, stored configurations are not looked for (there can be none)."""
    import os

    from pipeline_core.scrapy.runtime import get_runtime, reset_runtime

    environ = dict(os.environ)
    settings = load_settings(environ)
    url = sa.make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and not Path(url.database or "").is_file():
        blocked = [*settings.disable_plugins, "builtin-config-sources"]
        environ["PIPELINE_DISABLE_PLUGINS"] = ",".join(blocked)
        settings = load_settings(environ)
    reset_runtime()
    get_runtime(settings)


def _shown(value: Any, width: int = 34) -> str:
    """A value as compact JSON, cut to ``width`` characters."""
    import orjson

    if value is None:
        return "-"
    text = orjson.dumps(value).decode()
    return text if len(text) <= width else text[: width - 1] + "…"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


def _print_preview(name: str, session: Any) -> None:
    from pipeline_core.escaping import shown

    for record in session.records:
        state = "ok" if record.valid else "INVALID"
        if record.warning_count:
            state += f" ({_count(record.warning_count, 'warning')})"
        click.echo(f"record {shown(record.external_id or '?')}  {state}  {shown(record.url)}")
        rows = [("field", "from", "raw", "mapped")] + [
            (f.field, shown(f.source_path), _shown(f.raw), _shown(f.mapped)) for f in record.fields
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        for index, row in enumerate(rows if record.fields else []):
            line = "  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))
            field = record.fields[index - 1] if index else None
            notes = (
                [f"!! {shown(e)}" for e in field.errors]
                + [f"~  {shown(w)}" for w in field.warnings]
                if field
                else []
            )
            click.echo((line + ("  " + notes[0] if notes else "")).rstrip())
            pad = " " * len(line)
            for note in notes[1:]:
                click.echo(f"{pad}  {note}")
        for field_path, message in record.other_errors:
            named = field_path in message  # "line 3: 3 fields where …" names its line
            text = message if named else f"{field_path}: {message}"
            click.echo(f"  !! {shown(text)}")
        for field_path, message in record.other_warnings:
            click.echo(f"  ~  {shown(field_path + ': ' + message)}")
        click.echo("")
    for url, message in session.page_errors:
        click.echo(f"page error: {shown(url)}: {shown(message)}")
    invalid = sum(not r.valid for r in session.records)
    warnings = sum(r.warning_count for r in session.records)
    click.echo(
        f"{name}: {len(session.records)} records previewed, {len(session.records) - invalid} "
        f"valid, {invalid} invalid, "
        + (f"{_count(warnings, 'warning')}, " if warnings else "")
        + f"{len(session.page_errors)} page errors; nothing was written"
    )


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment is not None else "-"


def _print_schedule(entries: list[SourceSchedule]) -> None:
    rows = [("SOURCE", "FREQUENCY", "DUE", "LAST SLOT", "NEXT SLOT", "LAST SCRAPE")]
    for e in entries:
        due = _when(e.slot_at) if e.due else "-"
        last, following, scraped = (
            _when(e.last_slot_at),
            _when(e.next_slot_at),
            _when(e.last_scrape_at),
        )
        rows.append((e.source, e.frequency, due, last, following, scraped))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
    click.echo("times in UTC; nothing was enqueued")
    for e in entries:
        if e.error:
            click.echo(f"error: {e.error}", err=True)


def _print_tick(result: TickResult) -> None:
    for done in result.enqueued:
        job = f"job {done.job_id}" if done.job_id is not None else "a scrape was already queued"
        click.echo(f"{done.source}: slot {_when(done.slot_at)} UTC: {job}")
    added = sum(1 for done in result.enqueued if done.job_id is not None)
    click.echo(
        f"{len(result.enqueued)} slots due: {added} scrape jobs enqueued, "
        f"{len(result.errors)} errors"
    )


@main.command()
@click.argument("source_name", metavar="SOURCE")
@click.option(
    "--limit", type=click.IntRange(min=1), default=None, metavar="N", help="Stop after N records."
)
@click.option(
    "--url",
    default=None,
    help="Start from this URL instead of the source's own (a saved page: file:///...).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the preview as JSON.")
@click.option("--log-level", default="WARNING", show_default=True, help="Scrapy's log level.")
def preview(
    source_name: str, limit: int | None, url: str | None, as_json: bool, log_level: str
) -> None:
    """Crawl a source without writing anything; show raw and mapped values and errors."""
    import orjson

    from pipeline_core.scrapy.preview import run_preview

    _preview_runtime()
    session = run_preview(source_name, limit, url, log_level.upper())
    records = session.records[:limit] if limit else session.records
    session.records = records
    failed = [r for r in records if not r.valid]
    if as_json:
        document = {
            "source": source_name,
            "records": [r.as_json() for r in records],
            "page_errors": [{"url": u, "message": m} for u, m in session.page_errors],
            "previewed": len(records),
            "invalid": len(failed),
        }
        click.echo(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode())
    else:
        _print_preview(source_name, session)
    if failed or session.page_errors:
        sys.exit(1)


@main.command("new-source")
@click.argument("name", metavar="NAME")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "xml", "csv", "html", "jsonld"]),
    default=None,
    help="Feed format: the fetcher, mapping, sample feed and test to generate (default "
    "json); with --from, the format to read the feed as (default: sniffed).",
)
@click.option(
    "--from",
    "source",
    metavar="URL|FILE",
    default=None,
    help="Draft the mapping from this feed instead of scaffolding a plugin package.",
)
@click.option(
    "--sample",
    type=click.IntRange(min=1, max=10_000),
    default=200,
    show_default=True,
    help="With --from: records of the first page the draft is made from and previewed on.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="With --from: the mapping file to write (default: ./NAME.yaml); must not exist.",
)
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder of the new package (default: ./dmo-pipeline-NAME); must be new or empty.",
)
@click.option("--dmo", default=None, help="Slug of the DMO publishing the source (default: NAME).")
def new_source(
    name: str,
    fmt: str | None,
    source: str | None,
    sample: int,
    out: Path | None,
    directory: Path | None,
    dmo: str | None,
) -> None:
    """Scaffold a plugin package for a new source: mapping, sample feed, test, pyproject.

    With --from URL|FILE, write a draft mapping instead: the feed's first page is fetched
    (under the URL policy), its format, records, pagination and fields recognised, and
    every line of the mapping proposed with the reason beside it; the draft is then
    checked and previewed on the sample.
    """
    from pipeline_core.plugins import get_plugin_manager
    from pipeline_core.scaffold import scaffold, template_values

    if source is not None:
        _draft_source(name, source, fmt, sample, out, dmo)
        return
    fmt = fmt or "json"

    values = template_values(name, fmt, dmo)
    if values["fetcher"] not in get_plugin_manager().fetchers():
        raise click.ClickException(
            f"the {fmt} format needs the {values['fetcher']} fetcher, which is not registered "
            "(`dmo-pipeline plugins` lists the loaded plugins)"
        )
    target = directory or Path(values["distribution"])
    written = scaffold(name, fmt, target, dmo)
    click.echo(f"created {target} ({fmt} source {name}, package {values['package']}):")
    for path in written:
        click.echo(f"  {path.relative_to(target)}")
    click.echo("next:")
    click.echo(f"  pip install -e '{target}[test]'")
    click.echo(f"  cd {target} && pytest")
    first = (target / "tests" / "fixtures" / values["first_page"]).resolve()
    click.echo(f"  dmo-pipeline preview {name} --url {first.as_uri()}")


def _draft_source(
    name: str, source: str, fmt: str | None, sample: int, out: Path | None, dmo: str | None
) -> None:
    """``new-source NAME --from URL|FILE``: write the draft mapping and say how it did."""
    from pipeline_core.drafting import DraftError, draft_source

    target = out or Path(f"{name}.yaml")
    if target.exists():
        raise click.ClickException(f"{target} exists; choose another --out")
    try:
        draft = draft_source(
            name,
            source,
            fmt=fmt,
            sample_size=sample,
            dmo=dmo,
            allowed_hosts=load_settings().allowed_hosts,
            mapping_dir=target.resolve().parent,
        )
    except DraftError as exc:
        raise click.ClickException(str(exc)) from None
    target.write_text(draft.text, encoding="utf-8")
    click.echo(f"wrote {target} (draft mapping of {name}, {draft.fmt})")
    for line in draft.summary():
        click.echo(line)
    click.echo(
        f"next: edit {target}, put it in mappings/ (or a folder of PIPELINE_SOURCES_PATH), "
        f"then: dmo-pipeline preview {name}"
    )


@main.command()
@click.option("--once", is_flag=True, help="Run one tick and exit.")
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    default=60.0,
    show_default=True,
    metavar="SECONDS",
    help="Longest wait between ticks.",
)
@click.option("--dry-run", is_flag=True, help="Print each source's schedule; enqueue nothing.")
def scheduler(once: bool, interval: float, dry_run: bool) -> None:
    """Enqueue scrape jobs when sources are due (scrape_frequency)."""
    import signal
    import threading

    from pipeline_core.log_format import configure_logging
    from pipeline_core.queue import scheduler as sched
    from pipeline_core.scrapy.runtime import get_runtime

    runtime = get_runtime()
    configure_logging(runtime.settings.log_level, runtime.settings.log_format)  # one log format
    runtime.ensure_database()
    engine, settings = runtime.engine, runtime.settings
    log = logging.getLogger(sched.__name__)
    if dry_run:
        entries = sched.schedule(engine, runtime.sources, sched.utc_now())
        _print_schedule(entries)
        sys.exit(1 if any(e.error for e in entries) else 0)
    if sched.SCRAPE_JOB not in runtime.pm.job_types():
        log.warning(
            "no job type %r is registered here: scheduled scrapes wait in the queue for a "
            "worker that has one",
            sched.SCRAPE_JOB,
        )
    from pipeline_core.queue.runner import max_attempts_of

    attempts = max_attempts_of(runtime.pm.job_types(), sched.SCRAPE_JOB, settings)
    if once:
        result = sched.tick(engine, runtime.sources, settings=settings, max_attempts=attempts)
        _print_tick(result)
        sys.exit(1 if result.errors else 0)

    stop = threading.Event()

    def _stop(signum: int, _frame: object) -> None:
        log.info("%s received; stopping after this tick", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    log.info("scheduler started: a tick at least every %g s", interval)
    ticks = sched.run(
        engine,
        runtime.pm.sources,
        settings=settings,
        interval=interval,
        stop=stop,
        max_attempts=attempts,
    )
    log.info("scheduler stopped after %d ticks", ticks)


def _add_queue_commands() -> None:
    from pipeline_core.cli_queue import queue, worker

    main.add_command(worker)
    main.add_command(queue)
    from pipeline_core.cli_operations import crawls, errors

    main.add_command(errors)
    main.add_command(crawls)


def _add_image_commands() -> None:
    from pipeline_core.cli_images import images

    main.add_command(images)


_add_queue_commands()
_add_image_commands()


def _add_api_commands() -> None:
    from pipeline_core.cli_api import configs, keys, serve

    main.add_command(serve)
    main.add_command(keys)
    main.add_command(configs)


_add_api_commands()


def _add_promotion_commands() -> None:
    from pipeline_core.cli_promote import register

    register(main)


_add_promotion_commands()


def _add_operating_commands() -> None:
    from pipeline_core.cli_audit import audit
    from pipeline_core.cli_doctor import doctor

    main.add_command(audit)
    main.add_command(doctor)


_add_operating_commands()

if __name__ == "__main__":
    main()
