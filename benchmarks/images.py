"""``python -m benchmarks.images``: the image job against a naive Pillow loop.

200 photo-like JPEGs of 1600 x 1200 (``benchmarks.imagegen``) are served on 127.0.0.1 by a
separate process. Two contenders make the same outputs of every image, each in a fresh
(spawned) process:

- **naive**: one image after the other, Pillow's defaults: download, open, EXIF
  orientation, optimised progressive original (quality 75), a 400 px JPEG thumbnail
  (``thumbnail``), a 1200 px WebP (quality 80), written to a folder;
- **job**: :class:`pipeline_core.images.run.ImageRun` with the default settings (concurrent
  downloads, conversion in a process pool of one process per CPU, ``Image.draft`` where it
  applies, outputs to local storage, rows in a SQLite database), over 200 staged listings.

Each contender runs ``--rounds`` times (default 2), alternating, and its best run counts
(the machine is shared and its load changes). It prints images/s of each and their ratio,
the peak RSS of each (``VmHWM``; for the job also its process and pool together, sampled),
and compares the outputs: their pixel sizes (must be equal), their bytes, and their quality
as PSNR against a reference made from the source (decoded, oriented, resized with Lanczos),
and the PSNR of each job output against the naive loop's.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import math
import multiprocessing
import os
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from benchmarks.imagegen import photos

OUTPUTS = ("original", "thumb", "large")


def serve(folder: str, conn: Connection) -> None:
    """Serve the files of ``folder`` on 127.0.0.1 (ETag, Last-Modified) until told to stop."""
    root = Path(folder)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = root / self.path.lstrip("/")
            if not path.is_file():
                self.send_error(404)
                return
            body = path.read_bytes()
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("ETag", etag)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    conn.send(server.server_address[1])
    try:
        conn.recv()
    except EOFError:
        pass
    server.shutdown()


def _status_mb(pid: int | str, field: str) -> float:
    """``VmHWM`` (peak) or ``VmRSS`` of a process, in MB, from ``/proc`` (Linux). Not
    ``ru_maxrss``: a spawned process inherits its parent's peak across ``exec``."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _tree_mb(pid: int) -> float:
    """RSS of a process and all its descendants, in MB."""
    total = _status_mb(pid, "VmRSS")
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            total += sum(_tree_mb(int(child)) for child in children.read_text().split())
        except OSError:
            pass
    return total


class _TreeSampler(threading.Thread):
    """Samples the RSS of this process and its children (the pool) every 50 ms."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = 0.0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.05):
            self.peak = max(self.peak, _tree_mb(os.getpid()))


def _cpu() -> float:
    """CPU seconds (user + system) of this process and of its waited-for children."""
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def naive(urls: list[str], out: str, conn: Connection) -> None:
    """The naive loop, in its own process; sends seconds and peak RSS."""
    from PIL import Image, ImageOps

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    folder = Path(out)
    cpu = _cpu()
    started = time.perf_counter()
    for index, url in enumerate(urls):
        with opener.open(url) as response:
            data = response.read()
        image = ImageOps.exif_transpose(Image.open(io.BytesIO(data)))
        image.save(folder / f"{index}-original.jpg", "JPEG", optimize=True, progressive=True)
        thumb = image.copy()
        thumb.thumbnail((400, 400))
        thumb.save(folder / f"{index}-thumb.jpg", "JPEG")
        large = image.copy()
        large.thumbnail((1200, 1200))
        large.save(folder / f"{index}-large.webp", "WEBP")
    seconds = time.perf_counter() - started
    conn.send({"seconds": seconds, "cpu": _cpu() - cpu, "rss": _status_mb("self", "VmHWM")})


def job(urls: list[str], work: str, conn: Connection) -> None:
    """The image job over ``urls`` staged as one listing each; sends seconds, peak RSS and
    where each listing's outputs are."""
    import sqlalchemy as sa

    from pipeline_core.config import load_settings
    from pipeline_core.db.engine import make_engine
    from pipeline_core.db.ensure import ensure_schema
    from pipeline_core.db.tables import staging
    from pipeline_core.images.run import ImageRun
    from pipeline_core.items import ListingItem
    from pipeline_core.stages.writer import StageWriter
    from pipeline_core.storage import get_storage

    folder = Path(work)
    settings = load_settings(
        {
            "PIPELINE_DATABASE_URL": f"sqlite:///{folder / 'bench.db'}",
            "PIPELINE_STORAGE_URL": str(folder / "files"),
            "PIPELINE_ALLOWED_HOSTS": "127.0.0.1",
        }
    )
    engine = make_engine(settings.database_url)
    ensure_schema(engine)
    items = [
        ListingItem(
            "bench",
            f"B{index:04d}",
            {"dmo": "bench", "category": "attraction", "images": [{"url": url}]},
            record_hash=f"{index:064d}",
        )
        for index, url in enumerate(urls)
    ]
    with engine.begin() as db:
        StageWriter(engine.dialect.name).write(db, items)
    run = ImageRun(engine, settings, get_storage(settings), "bench")
    sampler = _TreeSampler()
    sampler.start()
    cpu = _cpu()
    started = time.perf_counter()
    stats = run.run()  # its pool is shut down and waited for: its CPU time is counted
    seconds = time.perf_counter() - started
    cpu = _cpu() - cpu
    sampler.stop.set()
    table, listings = staging["listing_images"], staging["listings"]
    with engine.connect() as db:
        found = db.execute(
            sa.select(listings.c.external_id, table.c.original_key, table.c.variants).join(
                listings, listings.c.id == table.c.listing_id
            )
        ).all()
    keys = {
        int(external_id[1:]): {"original": original}
        | {name: v["key"] for name, v in (variants or {}).items()}
        for external_id, original, variants in found
    }
    conn.send(
        {
            "seconds": seconds,
            "cpu": cpu,
            "rss": _status_mb("self", "VmHWM"),
            "tree_rss": sampler.peak,
            "stats": stats,
            "keys": keys,
            "root": str(folder / "files"),
        }
    )


def _in_child(target: Any, *args: Any) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=target, args=(*args, child))
    process.start()
    result: dict[str, Any] = parent.recv()
    process.join()
    return result


def _psnr(a: Any, b: Any) -> float:
    from PIL import ImageChops, ImageStat

    diff = ImageChops.difference(a.convert("RGB"), b.convert("RGB"))
    mse = sum(ImageStat.Stat(diff).sum2) / (3 * a.size[0] * a.size[1])
    return 99.0 if mse == 0 else 10 * math.log10(255**2 / mse)


def compare(
    sources: list[bytes], naive_dir: Path, job_root: Path, keys: dict[int, dict[str, str]],
    sample: int,
) -> dict[str, Any]:  # fmt: skip
    """Pixel sizes of every output, bytes of every output, PSNR of a sample."""
    from PIL import Image, ImageOps

    sizes_equal = 0
    total = {(who, name): 0 for who in ("naive", "job") for name in OUTPUTS}
    psnr = {(who, name): 0.0 for who in ("naive", "job", "between") for name in OUTPUTS}
    ext = {"original": "jpg", "thumb": "jpg", "large": "webp"}
    step = max(1, len(sources) // sample)
    measured = 0
    for index, source in enumerate(sources):
        reference = None
        if index % step == 0 and measured < sample:
            reference = ImageOps.exif_transpose(Image.open(io.BytesIO(source))).convert("RGB")
            measured += 1
        for name in OUTPUTS:
            naive_data = (naive_dir / f"{index}-{name}.{ext[name]}").read_bytes()
            job_data = (job_root / keys[index][name]).read_bytes()
            total[("naive", name)] += len(naive_data)
            total[("job", name)] += len(job_data)
            ours, theirs = Image.open(io.BytesIO(job_data)), Image.open(io.BytesIO(naive_data))
            sizes_equal += ours.size == theirs.size
            if reference is not None:
                expected = reference.resize(ours.size, Image.Resampling.LANCZOS)
                psnr[("job", name)] += _psnr(ours, expected) / sample
                psnr[("naive", name)] += _psnr(theirs, expected) / sample
                psnr[("between", name)] += _psnr(ours, theirs) / sample
    return {"sizes_equal": sizes_equal, "bytes": total, "psnr": psnr}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.images", description=__doc__)
    parser.add_argument("--images", type=int, default=200, help="images (default 200)")
    parser.add_argument("--width", type=int, default=1600)
    parser.add_argument("--height", type=int, default=1200)
    parser.add_argument("--sample", type=int, default=20, help="images whose PSNR is measured")
    parser.add_argument(
        "--rounds", type=int, default=2, help="runs of each, alternated; the best counts"
    )
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="dmo-bench-images-") as temp:
        work = Path(temp)
        (work / "served").mkdir()
        started = time.perf_counter()
        sources = photos(args.images, args.width, args.height)
        for index, data in enumerate(sources):
            (work / "served" / f"{index}.jpg").write_bytes(data)
        print(
            f"{args.images} photo-like JPEGs of {args.width} x {args.height} "
            f"({sum(map(len, sources)) / 1e6:.1f} MB) made in {time.perf_counter() - started:.1f} s"
        )
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        server = context.Process(target=serve, args=(str(work / "served"), child), daemon=True)
        server.start()
        port = parent.recv()
        urls = [f"http://127.0.0.1:{port}/{i}.jpg" for i in range(args.images)]
        try:  # alternated, best of each: the machine's load changes from minute to minute
            naive_runs, job_runs = [], []
            for round_ in range(args.rounds):
                for name in (f"naive{round_}", f"job{round_}"):
                    (work / name).mkdir()
                naive_runs.append(_in_child(naive, urls, str(work / f"naive{round_}")))
                job_runs.append(_in_child(job, urls, str(work / f"job{round_}")))
            naive_run = min(naive_runs, key=lambda r: r["seconds"])
            job_run = min(job_runs, key=lambda r: r["seconds"])
            naive_dir = work / f"naive{args.rounds - 1}"
        finally:
            parent.send("stop")
            server.join(10)
        result = compare(sources, naive_dir, Path(job_run["root"]), job_run["keys"], args.sample)

    n = args.images
    naive_rate, job_rate = n / naive_run["seconds"], n / job_run["seconds"]
    print(f"\n{'':<22}{'images/s':>10}{'seconds':>10}{'CPU ms/image':>14}{'peak RSS MB':>13}")
    print(f"{'naive Pillow loop':<22}{naive_rate:>10.2f}{naive_run['seconds']:>10.1f}"
          f"{naive_run['cpu'] / n * 1000:>14.1f}{naive_run['rss']:>13.0f}")  # fmt: skip
    print(f"{'image job':<22}{job_rate:>10.2f}{job_run['seconds']:>10.1f}"
          f"{job_run['cpu'] / n * 1000:>14.1f}{job_run['rss']:>13.0f}"
          f"  (with its pool: {job_run['tree_rss']:.0f})")  # fmt: skip
    ratio = job_rate / naive_rate
    print(f"ratio job / naive: {ratio:.2f}x (target 2x: {'ok' if ratio >= 2 else 'MISSED'})")
    print(f"job stats: {job_run['stats']}")
    print(
        "runs (s): naive " + ", ".join(f"{r['seconds']:.1f}" for r in naive_runs)
        + "; job " + ", ".join(f"{r['seconds']:.1f}" for r in job_runs)
    )  # fmt: skip
    print(f"\noutputs of equal pixel size: {result['sizes_equal']} of {3 * n}")
    print(
        f"{'output':<10}{'naive MB':>10}{'job MB':>10}{'naive PSNR':>12}{'job PSNR':>10}"
        f"{'job vs naive':>14}"
    )
    for name in OUTPUTS:
        print(
            f"{name:<10}{result['bytes'][('naive', name)] / 1e6:>10.2f}"
            f"{result['bytes'][('job', name)] / 1e6:>10.2f}"
            f"{result['psnr'][('naive', name)]:>12.2f}{result['psnr'][('job', name)]:>10.2f}"
            f"{result['psnr'][('between', name)]:>14.2f}"
        )
    print(
        f"(PSNR in dB against the source decoded, oriented and resized with Lanczos, and of "
        f"the job's output against the naive one; mean of {args.sample} images; higher is "
        f"closer)"
    )
    return 0 if result["sizes_equal"] == 3 * n else 1


if __name__ == "__main__":
    raise SystemExit(main())
