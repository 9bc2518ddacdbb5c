"""Helpers of the API tests: settings on the test database, two DMOs' seeded rows, keys."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography.fernet import Fernet

from pipeline_core.config import Settings, load_settings
from pipeline_core.db.tables import configs, errors, files, jobs, queue, sources, staging
from pipeline_core.operations.keys import create_key
from pipeline_core.storage import get_storage

#: One Fernet key for every API test (the encrypted values are test data only).
SECRET_KEY = Fernet.generate_key().decode()
PREFIX = "/api/v1/pipeline"


def api_settings(db_url: str, tmp_path: Path, **extra: str) -> Settings:
    env = {
        "PIPELINE_DATABASE_URL": db_url,
        "PIPELINE_HOME": str(tmp_path / "home"),
        "PIPELINE_STORAGE_URL": str(tmp_path / "files"),
        "PIPELINE_ALLOWED_HOSTS": "127.0.0.1",
        "PIPELINE_SECRET_KEY": SECRET_KEY,
        "PIPELINE_API_RATE_LIMIT": "0",
        **extra,
    }
    return load_settings(env)


def http_client(app: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

        return TestClient(app, raise_server_exceptions=False)


def mapping_doc(name: str, dmo: str, url: str = "http://127.0.0.1:9/feed.json") -> dict[str, Any]:
    return {
        "source": name,
        "dmo": dmo,
        "fetcher": "json_api",
        "url": url,
        "records": "data",
        "id": "id",
        "fields": {"name": "title", "category": {"const": "attraction"}},
    }


@dataclass
class Seeded:
    """Ids of one DMO's rows."""

    dmo: str
    source: str
    job_id: int
    file_id: int
    listing_id: int
    error_id: int
    config: str


def seed_dmo(engine: sa.Engine, settings: Settings, dmo: str) -> Seeded:
    """A source, a dead-lettered job with an attempt, a file, an error, a listing, a config."""
    source = f"src-{dmo}"
    now = datetime.now(UTC)
    storage = get_storage(settings)
    url = storage.put_bytes(f"raw/{source}/f.jsonl", f'{{"dmo": "{dmo}"}}\n'.encode())
    with engine.begin() as conn:
        conn.execute(
            sa.insert(sources).values(name=source, dmo=dmo, fetcher="json_api", origin="test")
        )
        job_id = conn.execute(
            sa.insert(queue)
            .values(
                type="noop",
                payload={"source": source},
                status="failed",
                dead_lettered=True,
                attempts=1,
                max_attempts=1,
                dmo=dmo,
                correlation_id=f"corr-{dmo}",
                last_error=f"boom in {source}",
            )
            .returning(queue.c.id)
        ).scalar_one()
        conn.execute(
            sa.insert(jobs).values(
                queue_id=job_id,
                attempt=1,
                status="failed",
                started_at=now,
                error=f"boom in {source}",
            )
        )
        file_id = conn.execute(
            sa.insert(files)
            .values(
                kind="raw",
                source=source,
                url=url,
                size=len(f'{{"dmo": "{dmo}"}}\n'),
                sha256="0" * 64,
                record_count=1,
                content_type="application/x-ndjson",
            )
            .returning(files.c.id)
        ).scalar_one()
        error_id = conn.execute(
            sa.insert(errors)
            .values(
                source=source,
                stage="map",
                message=f"bad field in {source}",
                external_id="X1",
                job_id=job_id,
            )
            .returning(errors.c.id)
        ).scalar_one()
        listing_id = conn.execute(
            sa.insert(staging["listings"])
            .values(
                source=source,
                external_id="X1",
                dmo=dmo,
                category="attraction",
                record_hash="1" * 64,
                record={"name": {"en": f"Sight of {dmo}"}},
                created_at=now,
                updated_at=now,
            )
            .returning(staging["listings"].c.id)
        ).scalar_one()
        conn.execute(
            sa.insert(staging["listing_info"]).values(
                listing_id=listing_id, language="en", name=f"Sight of {dmo}"
            )
        )
        config = f"cfg-{dmo}"
        from pipeline_core.mapping import MappingDocument

        row = MappingDocument(mapping_doc(config, dmo), "test").to_config_row()
        conn.execute(sa.insert(configs).values(**row))
        upload = {
            "source": f"upl-{dmo}",
            "dmo": dmo,
            "fetcher": "upload",
            "options": {"format": "csv"},
            "id": "ID",
            "fields": {"name": "Name", "category": {"const": "attraction"}},
        }
        conn.execute(sa.insert(configs).values(**MappingDocument(upload, "t").to_config_row()))
    return Seeded(dmo, source, job_id, file_id, listing_id, error_id, config)


def new_dead_job(engine: sa.Engine, dmo: str) -> int:
    with engine.begin() as conn:
        return int(
            conn.execute(
                sa.insert(queue)
                .values(
                    type="noop",
                    payload={},
                    status="failed",
                    dead_lettered=True,
                    attempts=1,
                    max_attempts=1,
                    dmo=dmo,
                )
                .returning(queue.c.id)
            ).scalar_one()
        )


def make_keys(engine: sa.Engine, dmo: str, other: str) -> dict[str, str]:
    """Secrets by label: each role unscoped, each role of ``dmo``, admin of ``other``."""
    found = {}
    for role in ("viewer", "operator", "admin"):
        found[role] = create_key(engine, role=role)[1]
        found[f"{role}@own"] = create_key(engine, role=role, dmo=dmo)[1]
    found["admin@other"] = create_key(engine, role="admin", dmo=other)[1]
    return found


def bearer(secret: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"} if secret else {}


def app_maker(db_url: str, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """(For a ``make_app`` fixture.) Build apps on the test's database (settings
    overridden by keyword); their engines are disposed at the end."""
    from pipeline_core.api import create_app

    built: list[Any] = []

    def make(**extra: str) -> Any:
        app = create_app(api_settings(db_url, tmp_path, **extra))
        built.append(app)
        return app

    yield make
    for app in built:
        app.state.api.dispose()
