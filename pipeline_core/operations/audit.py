"""The audit trail (``pipeline.audit``): who changed what, when and from which address.

Every change a person or key makes goes through :func:`record`: stored configurations
created, changed or deleted (the document before and after; credentials appear by name
only, never by value), keys created or revoked, jobs queued, retried or processed by hand,
uploads, promotions and rollbacks. The API records the key (id and name) and the client's
address; the command line records ``cli:USER`` and the host name. Rows are only inserted:
on both backends a trigger refuses UPDATE and DELETE (migration 0011). Behind
``GET /api/v1/pipeline/audit`` and ``dmo-pipeline audit``.
"""

from __future__ import annotations

import getpass
import socket
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from pipeline_core.db.tables import audit, fit_text
from pipeline_core.masking import mask_text

#: The kinds of change the trail records (``action``).
ACTIONS = (
    "config.created",
    "config.changed",
    "config.deleted",
    "config.credential_set",
    "config.credential_removed",
    "config.credentials_rotated",
    "key.created",
    "key.revoked",
    "job.queued",
    "job.retried",
    "queue.processed",
    "file.uploaded",
    "promotion.queued",
    "promotion.run",
    "promotion.rolled_back",
    "images.deleted_unused",
)


@dataclass(frozen=True)
class Actor:
    """Who makes a change: a key (``key_id`` and its name) or a command-line user, and the
    address the change came from."""

    name: str
    key_id: int | None = None
    address: str | None = None


def cli_actor() -> Actor:
    """The person at the command line: ``cli:USER`` on this host."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container)
        user = "?"
    return Actor(name=f"cli:{user}", address=socket.gethostname())


def key_actor(key_id: int | None, key_name: str, address: str | None) -> Actor:
    """An API key as the author of a change (``key ID`` when it has no name)."""
    name = key_name or (f"key {key_id}" if key_id is not None else "anonymous")
    return Actor(name=name, key_id=key_id, address=address)


def _clean(value: Any) -> Any:
    """``value`` with every text masked (a secret pasted into a document stays out)."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def record(
    conn: sa.Connection,
    actor: Actor,
    action: str,
    target: str | None = None,
    *,
    dmo: str | None = None,
    before: Any = None,
    after: Any = None,
) -> int:
    """Insert one audit row (in the caller's transaction, so it commits with the change)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r} (known: {', '.join(ACTIONS)})")
    values = {
        "key_id": actor.key_id,
        "actor": fit_text(audit.c.actor, actor.name) or "?",
        "address": fit_text(audit.c.address, actor.address),
        "action": action,
        "target": fit_text(audit.c.target, target),
        "dmo": fit_text(audit.c.dmo, dmo),
        "before": _clean(before),
        "after": _clean(after),
    }
    return int(conn.execute(sa.insert(audit).values(**values).returning(audit.c.id)).scalar_one())


def record_now(
    engine: sa.Engine, actor: Actor, action: str, target: str | None = None, **values: Any
) -> int:
    """:func:`record` in a transaction of its own (after a change that committed alone)."""
    with engine.begin() as conn:
        return record(conn, actor, action, target, **values)


@dataclass(frozen=True)
class AuditFilter:
    """Which rows: each field narrows the list (None: any)."""

    action: str | None = None
    key_id: int | None = None
    actor: str | None = None
    dmo: str | None = None
    target: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    #: Rows with an id below this (keyset paging, newest first).
    after: int | None = None

    def where(self) -> list[sa.ColumnElement[bool]]:
        found: list[sa.ColumnElement[bool]] = []
        if self.action is not None:
            # "config" matches every config.* action
            if "." in self.action:
                found.append(audit.c.action == self.action)
            else:
                found.append(audit.c.action.startswith(self.action + "."))
        if self.key_id is not None:
            found.append(audit.c.key_id == self.key_id)
        if self.actor is not None:
            found.append(audit.c.actor == self.actor)
        if self.dmo is not None:
            found.append(audit.c.dmo == self.dmo)
        if self.target is not None:
            found.append(audit.c.target == self.target)
        if self.since is not None:
            found.append(audit.c.at >= self.since)
        if self.until is not None:
            found.append(audit.c.at < self.until)
        if self.after is not None:
            found.append(audit.c.id < self.after)
        return found


@dataclass
class AuditPage:
    """Rows newest first, and the ``after`` of the next page (None: the last page)."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    next: int | None = None


def list_audit(engine: sa.Engine, where: AuditFilter, limit: int = 50) -> AuditPage:
    """The audit rows ``where`` matches, newest first, ``limit`` of them."""
    query = sa.select(audit).where(*where.where()).order_by(audit.c.id.desc()).limit(limit + 1)
    with engine.connect() as conn:
        rows = [{str(k): v for k, v in r.items()} for r in conn.execute(query).mappings()]
    more = len(rows) > limit
    rows = rows[:limit]
    return AuditPage(rows, rows[-1]["id"] if more and rows else None)
