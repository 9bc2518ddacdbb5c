"""API keys: create (shown once), list, revoke, and look up the key of a request.

A key is ``dmo_`` followed by 32 random bytes (256 bits, url-safe base64) from
:mod:`secrets`. Only its SHA-256 is stored: the key is high-entropy, so a fast hash cannot be
brute-forced, and a lookup by hash is one indexed query. The first characters are kept as
``prefix`` to recognise a key in ``keys list``.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from pipeline_core.db.tables import api_keys
from pipeline_core.exceptions import PipelineError

#: Roles, each allowed what the ones before it are.
ROLES = ("viewer", "operator", "admin")
KEY_PREFIX = "dmo_"
_SLUG = re.compile(r"[a-z0-9][a-z0-9._-]{0,99}")


class ApiKeyError(PipelineError):
    """A key cannot be created or revoked as asked."""


@dataclass(frozen=True)
class ApiKey:
    """One stored key (never its secret)."""

    id: int
    name: str
    prefix: str
    role: str
    dmo: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    def allows(self, role: str) -> bool:
        """True when this key's role is ``role`` or above it."""
        return ROLES.index(self.role) >= ROLES.index(role)

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "prefix": self.prefix,
            "role": self.role,
            "dmo": self.dmo,
            "created_at": _iso(self.created_at),
            "expires_at": _iso(self.expires_at),
            "revoked_at": _iso(self.revoked_at),
            "last_used_at": _iso(self.last_used_at),
        }


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.isoformat()


def hash_key(key: str) -> str:
    """The stored form of a key: SHA-256, hex."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _row_key(row: sa.Row[object] | sa.RowMapping) -> ApiKey:
    data = dict(row._mapping if isinstance(row, sa.Row) else row)
    return ApiKey(**{name: data[name] for name in ApiKey.__dataclass_fields__})


def create_key(
    engine: sa.Engine,
    *,
    role: str,
    dmo: str | None = None,
    name: str = "",
    expires_days: float | None = None,
) -> tuple[ApiKey, str]:
    """Create a key; return it and its secret (shown once, never stored)."""
    if role not in ROLES:
        raise ApiKeyError(f"role {role!r} is not one of {', '.join(ROLES)}")
    if dmo is not None and not _SLUG.fullmatch(dmo):
        raise ApiKeyError(f"DMO {dmo!r} is not a slug (lower-case letters, digits, '.', '_', '-')")
    if expires_days is not None and not expires_days > 0:
        raise ApiKeyError(f"expires in {expires_days!r} days: give a number of days above 0")
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    values = {
        "name": name[:200],
        "prefix": secret[:10],
        "key_hash": hash_key(secret),
        "role": role,
        "dmo": dmo,
        "created_at": now,
        "expires_at": now + timedelta(days=expires_days) if expires_days else None,
    }
    with engine.begin() as conn:
        row = conn.execute(sa.insert(api_keys).values(**values).returning(*api_keys.c)).one()
    return _row_key(row), secret


def list_keys(engine: sa.Engine) -> list[ApiKey]:
    """Every key, newest first (revoked and expired ones too)."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(api_keys).order_by(api_keys.c.id.desc())).all()
    return [_row_key(row) for row in rows]


def revoke_key(engine: sa.Engine, key_id: int) -> ApiKey:
    """Revoke key ``key_id`` (at once, for every API process); an error when there is none."""
    with engine.begin() as conn:
        row = conn.execute(
            sa.update(api_keys)
            .where(api_keys.c.id == key_id)
            .values(revoked_at=sa.func.coalesce(api_keys.c.revoked_at, datetime.now(UTC)))
            .returning(*api_keys.c)
        ).first()
    if row is None:
        raise ApiKeyError(f"no API key {key_id}")
    return _row_key(row)


def find_key(engine: sa.Engine, secret: str) -> tuple[ApiKey | None, str]:
    """The key a request presents, and why it is refused (``""`` when it is accepted):
    unknown, revoked or expired."""
    if not secret.startswith(KEY_PREFIX) or len(secret) > 200:
        return None, "unknown key"
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(api_keys).where(api_keys.c.key_hash == hash_key(secret))
        ).first()
    if row is None:
        return None, "unknown key"
    key = _row_key(row)
    if key.revoked_at is not None:
        return key, f"key {key.id} is revoked"
    expires = key.expires_at
    if expires is not None:
        expires = expires.replace(tzinfo=UTC) if expires.tzinfo is None else expires
        if expires <= datetime.now(UTC):
            return key, f"key {key.id} expired"
    return key, ""
