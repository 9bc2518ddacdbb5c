"""Connections opened for one DMO: on PostgreSQL they see only that DMO's rows.

Migration 0008 puts row-level security policies on every staging and production table
for the role ``pipeline_dmo``: a row is visible (and writable) only when its DMO is the
connection's ``app.dmo`` setting (child rows: when their listing is). A connection made by
:func:`tenant_engine` switches to that role and sets ``app.dmo`` as soon as it is opened, so
whatever a route then runs, the database itself filters by DMO. The API's DMO-scoped keys
use such engines. SQLite has no row-level security: there :func:`tenant_engine` refuses,
since the embedded database serves one operator, not several DMOs.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from pipeline_core.db.engine import make_engine
from pipeline_core.exceptions import ConfigError

#: The role whose rows the policies filter (created by migration 0008, without login).
TENANT_ROLE = "pipeline_dmo"
#: The setting that names the connection's DMO.
DMO_SETTING = "app.dmo"


def tenant_engine(url: str, dmo: str, **kwargs: Any) -> sa.Engine:
    """An engine whose every connection acts as ``pipeline_dmo`` for DMO ``dmo``.

    The login user of ``url`` must be allowed to ``SET ROLE pipeline_dmo`` (a superuser, or a
    member of the role: ``GRANT pipeline_dmo TO api_user``); give the API a login user that
    is not a superuser, so that it cannot ``RESET ROLE`` out of the policies either.
    """
    if not dmo:
        raise ConfigError("a DMO connection needs a DMO slug")
    engine = make_engine(url, **kwargs)
    if engine.dialect.name != "postgresql":
        engine.dispose()
        raise ConfigError(
            "row-level security needs PostgreSQL (PIPELINE_DATABASE_URL=postgresql://…); "
            "SQLite serves a single operator"
        )

    @sa.event.listens_for(engine, "connect")
    def _as_tenant(dbapi_connection: Any, _record: Any) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute(f"SET ROLE {TENANT_ROLE}")
            cursor.execute("SELECT set_config(%s, %s, false)", (DMO_SETTING, dmo))
        dbapi_connection.commit()

    return engine
