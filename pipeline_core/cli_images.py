"""``dmo-pipeline images``: queue (or run, or preview) the image jobs of sources."""

from __future__ import annotations

import click
import sqlalchemy as sa

from pipeline_core.config import Settings, load_settings


def _sources_with_images(engine: sa.Engine, named: tuple[str, ...]) -> list[str]:
    from pipeline_core.db.tables import staging

    listings, rows = staging["listings"], staging["listing_images"]
    with engine.connect() as conn:
        found = conn.execute(
            sa.select(listings.c.source)
            .join(rows, rows.c.listing_id == listings.c.id)
            .where(listings.c.status == "active")
            .distinct()
        ).scalars()
        having = sorted(found)
    unknown = [name for name in named if name not in having]
    if unknown:
        raise click.BadParameter(
            f"no staged listing with images in {', '.join(unknown)} "
            f"(sources with images: {', '.join(having) or 'none'})",
            param_hint="SOURCE",
        )
    return list(named) or having


def _delete_unused(
    engine: sa.Engine, settings: Settings, sources: tuple[str, ...], *, grace: float, dry_run: bool
) -> None:
    from pipeline_core.images.cleanup import delete_unused
    from pipeline_core.storage import get_storage

    if sources:
        raise click.UsageError("--delete-unused takes no SOURCE: stored images are shared")
    done = delete_unused(engine, get_storage(settings), grace=grace, dry_run=dry_run)
    if not dry_run:
        from pipeline_core.operations.audit import cli_actor, record_now

        counts = {"objects": done.objects, "bytes": done.bytes, "url_rows": done.url_rows}
        record_now(engine, cli_actor(), "images.deleted_unused", after=counts)
    verb = "would delete" if dry_run else "deleted"
    click.echo(
        f"{verb} {done.objects} stored images ({done.bytes:,} bytes) and {done.url_rows} "
        f"image URL rows no listing uses; kept {done.recent} unused ones written less than "
        f"{grace:g} s ago"
    )
    if dry_run:
        for key in sorted(done.keys):
            click.echo(f"  {key}")


@click.command()
@click.argument("sources", nargs=-1, metavar="[SOURCE]...")
@click.option("--dry-run", is_flag=True, help="Say what would be fetched; fetch and write nothing.")
@click.option("--now", is_flag=True, help="Run the image work in this process, not the queue.")
@click.option(
    "--pending",
    is_flag=True,
    help="Only the images not processed yet (as after an ingest), not every image.",
)
@click.option(
    "--delete-unused",
    is_flag=True,
    help="Delete the stored images (and URL rows) no staging or production listing, nor a "
    "promotion's snapshot, uses any more; with --dry-run only count them.",
)
@click.option(
    "--grace",
    type=click.FloatRange(min=0),
    default=3600.0,
    show_default=True,
    metavar="SECONDS",
    help="With --delete-unused: keep what was written less than SECONDS ago (a running "
    "image job's new objects).",
)
def images(
    sources: tuple[str, ...],
    dry_run: bool,
    now: bool,
    pending: bool,
    delete_unused: bool,
    grace: float,
) -> None:
    """Queue an image job for each SOURCE (default: every source with staged images).

    The job goes over every image of the source's active listings, asking each server
    with a conditional request, so only new or changed images are downloaded.
    """
    from pipeline_core.cli_queue import _engine
    from pipeline_core.db.engine import write_transaction
    from pipeline_core.images.run import ImageRun
    from pipeline_core.jobs.images import IMAGE
    from pipeline_core.operations.audit import cli_actor, record
    from pipeline_core.plugins import get_plugin_manager
    from pipeline_core.queue.enqueue import enqueue
    from pipeline_core.storage import get_storage

    settings = load_settings()
    engine = _engine()
    if delete_unused:
        _delete_unused(engine, settings, sources, grace=grace, dry_run=dry_run)
        return
    names = _sources_with_images(engine, sources)
    if dry_run:
        for name in names:
            planned = ImageRun(engine, settings, get_storage(settings), name).plan(
                refresh=not pending
            )
            counts = {
                a: sum(p.action == a for p in planned)
                for a in ("download", "conditional", "failed")
            }
            failed = (
                f", {counts['failed']} failed before (not fetched until "
                "PIPELINE_IMAGE_RETRY_AFTER has passed)"
                if counts["failed"]
                else ""
            )
            click.echo(
                f"{name}: {len(planned)} image URLs: {counts['download']} to download, "
                f"{counts['conditional']} to ask again (conditional request), "
                f"{len(planned) - sum(counts.values())} already stored{failed}"
            )
            for entry in planned:
                listings = ", ".join(entry.listings[:3]) + (" …" if len(entry.listings) > 3 else "")
                click.echo(f"  {entry.action:<11} {entry.url}  ({listings})")
        return
    if now:
        for name in names:
            run = ImageRun(engine, settings, get_storage(settings), name)
            stats = run.run(refresh=not pending)
            click.echo(f"{name}: " + ", ".join(f"{k} {v}" for k, v in stats.items()))
        return
    pm = get_plugin_manager(settings)
    if IMAGE not in pm.job_types():
        raise click.ClickException(
            "the image job type is not registered (is builtin-image-jobs disabled?)"
        )
    for name in names:
        with write_transaction(engine) as conn:
            job_id = enqueue(
                conn,
                IMAGE,
                {"source": name, "refresh": not pending},
                settings=settings,
                dedup_key=f"image-refresh:{name}" if not pending else f"image:{name}",
            )
            if job_id is not None:
                after = {"type": IMAGE, "payload": {"source": name, "refresh": not pending}}
                record(conn, cli_actor(), "job.queued", str(job_id), after=after)
        if job_id is None:
            click.echo(f"{name}: an image job is already queued")
        else:
            click.echo(f"{name}: queued image job {job_id}")
