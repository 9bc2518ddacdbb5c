"""One promotion or rollback at a time per DMO, held by the database for the transaction."""

from __future__ import annotations

import sqlalchemy as sa

from pipeline_core.exceptions import PromotionBusy


def lock_dmo(conn: sa.Connection, dmo: str) -> None:
    """Take the DMO's promotion lock for the current transaction, or raise
    :class:`PromotionBusy` at once when another transaction holds it.

    On PostgreSQL a transaction-scoped advisory lock on the DMO's name (released at commit
    or rollback, also when the process dies); on SQLite the write transaction itself (``BEGIN
    IMMEDIATE``) already excludes every other writer.
    """
    if conn.dialect.name != "postgresql":
        return
    key = f"dmo-pipeline:promotion:{dmo}"
    got = conn.execute(sa.text("SELECT pg_try_advisory_xact_lock(hashtext(:key))"), {"key": key})
    if not got.scalar():
        raise PromotionBusy(
            f"another promotion or rollback of DMO {dmo!r} is running; try again when it is done"
        )
