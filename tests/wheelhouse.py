"""Wheels of installed distributions, so a fresh venv installs offline (``--no-index``).

A test that makes a fresh virtualenv must not download anything: the distributions it
needs are taken from the environment running the tests, repacked as wheels (their files,
as listed in their ``RECORD``, with a new ``RECORD``) into a folder for ``--find-links``.
"""

from __future__ import annotations

import base64
import hashlib
import zipfile
from importlib.metadata import Distribution, PackageNotFoundError, distribution
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name


def requirement_closure(roots: list[str]) -> dict[str, Distribution]:
    """The installed distributions ``roots`` need, with their dependencies (markers and
    extras evaluated for this interpreter), by canonical name."""
    found: dict[str, Distribution] = {}
    done: set[tuple[str, str]] = set()
    todo = [Requirement(r) for r in roots]
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        extras = sorted(req.extras) or [""]
        if all((name, e) in done for e in extras):
            continue
        try:
            dist = found.get(name) or distribution(req.name)
        except PackageNotFoundError:
            raise AssertionError(f"{req.name} is needed but not installed") from None
        found[name] = dist
        for extra in extras:
            done.add((name, extra))
            for text in dist.requires or []:
                sub = Requirement(text)
                if sub.marker is None or sub.marker.evaluate({"extra": extra}):
                    todo.append(sub)
    return found


def _digest(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def repack(dist: Distribution, folder: Path) -> Path:
    """Write ``dist`` (installed) as a wheel into ``folder``; return the wheel's path."""
    files = [
        f
        for f in dist.files or []
        if not str(f).startswith("..") and "__pycache__" not in f.parts and f.name != "RECORD"
    ]
    info = next(f.parts[0] for f in dist.files or [] if f.parts[0].endswith(".dist-info"))
    wheel_text = dist.read_text("WHEEL") or ""
    tags = [
        line.split(":", 1)[1].strip().split("-")
        for line in wheel_text.splitlines()
        if line.startswith("Tag:")
    ] or [["py3", "none", "any"]]
    # The compressed tag set (py2.py3-none-any): every value of each part, in order.
    tag = "-".join(".".join(dict.fromkeys(t[i] for t in tags)) for i in range(3))
    name = canonicalize_name(dist.metadata["Name"]).replace("-", "_")
    path = folder / f"{name}-{dist.version}-{tag}.whl"
    record = []
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for file in files:
            if file.name in ("direct_url.json", "INSTALLER", "REQUESTED"):
                continue
            source = Path(str(dist.locate_file(file)))
            if not source.is_file():
                continue
            data = source.read_bytes()
            archive.writestr(str(file), data)
            record.append(f"{file},{_digest(data)},{len(data)}")
        record.append(f"{info}/RECORD,,")
        archive.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
    return path


def build_wheelhouse(roots: list[str], folder: Path) -> list[Path]:
    """Repack every installed distribution ``roots`` need into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    return [repack(dist, folder) for dist in requirement_closure(roots).values()]
