"""Credentials of stored configs, encrypted at rest, and their ``${credential:NAME}`` references.

A stored configuration (a ``pipeline.configs`` row) names a secret in its request headers as
``${credential:NAME}``; the value lives in ``pipeline.credentials``, encrypted with
``cryptography``'s Fernet (AES-128-CBC with HMAC-SHA256: authenticated) under the keys of
``PIPELINE_SECRET_KEY``. Several keys make a MultiFernet: the first encrypts, any decrypts,
and :func:`rotate_credentials` re-encrypts every row under the first key. A credential is
resolved only for its own config's source, and its plaintext is never returned, logged or
put in an error message.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from pipeline_core.config import Settings
from pipeline_core.db.tables import credentials
from pipeline_core.exceptions import ConfigError, MappingError

#: A reference to a stored credential in a stored config's header value.
CREDENTIAL_REF = re.compile(r"\$\{credential:([A-Za-z0-9_.-]{1,100})\}")
#: A credential's name.
CREDENTIAL_NAME = re.compile(r"[A-Za-z0-9_.-]{1,100}")
#: Origin prefix of sources that are stored configs (the only ones that may use credentials).
STORED_ORIGIN = "pipeline.configs["


def cipher(settings: Settings) -> MultiFernet:
    """The MultiFernet of ``PIPELINE_SECRET_KEY``; :class:`ConfigError` when it is not set
    or a key is not a Fernet key."""
    if not settings.secret_keys:
        raise ConfigError(
            "PIPELINE_SECRET_KEY is not set: credentials of stored configs cannot be encrypted "
            "or read; set it to a Fernet key (python -c 'from cryptography.fernet import "
            "Fernet; print(Fernet.generate_key().decode())')"
        )
    keys = []
    for number, key in enumerate(settings.secret_keys, 1):
        try:
            keys.append(Fernet(key.encode()))
        except (ValueError, TypeError):
            raise ConfigError(
                f"PIPELINE_SECRET_KEY: key {number} is not a Fernet key (url-safe base64 of "
                "32 bytes)"
            ) from None
    return MultiFernet(keys)


def config_of_origin(origin: str) -> str | None:
    """The stored config a source origin names (``pipeline.configs[NAME]``), else None."""
    if origin.startswith(STORED_ORIGIN) and origin.endswith("]"):
        return origin[len(STORED_ORIGIN) : -1]
    return None


def set_credential(
    conn: sa.Connection, settings: Settings, config: str, name: str, value: str
) -> None:
    """Encrypt ``value`` and store it as credential ``name`` of ``config`` (replacing it)."""
    if not CREDENTIAL_NAME.fullmatch(name):
        raise ConfigError(
            f"credential name {name!r}: use letters, digits, '_', '.' or '-' (1 to 100)"
        )
    token = cipher(settings).encrypt(value.encode("utf-8")).decode("ascii")
    now = datetime.now(UTC)
    updated = conn.execute(
        sa.update(credentials)
        .where(credentials.c.config == config, credentials.c.name == name)
        .values(ciphertext=token, updated_at=now)
    ).rowcount
    if not updated:
        conn.execute(
            sa.insert(credentials).values(
                config=config, name=name, ciphertext=token, created_at=now, updated_at=now
            )
        )


def delete_credential(conn: sa.Connection, config: str, name: str) -> bool:
    """Remove credential ``name`` of ``config``; False when there was none."""
    return bool(
        conn.execute(
            sa.delete(credentials).where(credentials.c.config == config, credentials.c.name == name)
        ).rowcount
    )


def credential_names(conn: sa.Connection, config: str) -> list[str]:
    """The names (never the values) of ``config``'s credentials."""
    query = sa.select(credentials.c.name).where(credentials.c.config == config)
    return sorted(conn.execute(query).scalars())


def resolve_header(
    engine: sa.Engine, settings: Settings, origin: str, header: str, value: str
) -> str:
    """``value`` with each ``${credential:NAME}`` replaced by the decrypted credential of the
    stored config ``origin`` names. A source that is not a stored config, or a credential
    that is not set, is a :class:`MappingError` naming the config, header and credential
    (never its value)."""
    names = CREDENTIAL_REF.findall(value)
    if not names:
        return value
    config = config_of_origin(origin)
    if config is None:
        raise MappingError(
            f"{origin}: header {header} references a stored credential; only stored "
            "configurations (pipeline.configs) have credentials"
        )
    with engine.connect() as conn:
        rows = dict(
            conn.execute(
                sa.select(credentials.c.name, credentials.c.ciphertext).where(
                    credentials.c.config == config, credentials.c.name.in_(names)
                )
            ).all()
        )
    fernet = cipher(settings)
    for name in names:
        if name not in rows:
            raise MappingError(
                f"{origin}: header {header} needs credential {name!r}, which is not set "
                f"(PUT /api/v1/pipeline/configs/{config}/credentials or `dmo-pipeline configs "
                "set-credential`)"
            )
        try:
            plain = fernet.decrypt(rows[name].encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise ConfigError(
                f"{origin}: credential {name!r} cannot be decrypted with PIPELINE_SECRET_KEY "
                "(a key that encrypted it was removed?)"
            ) from None
        value = value.replace("${credential:" + name + "}", plain)
    return value


def rotate_credentials(engine: sa.Engine, settings: Settings) -> int:
    """Re-encrypt every credential under the first key of ``PIPELINE_SECRET_KEY``; returns
    the rows rewritten."""
    fernet = cipher(settings)
    count = 0
    with engine.begin() as conn:
        rows = conn.execute(sa.select(credentials.c.id, credentials.c.ciphertext)).all()
        for row in rows:
            try:
                token = fernet.rotate(row.ciphertext.encode("ascii")).decode("ascii")
            except InvalidToken:
                raise ConfigError(
                    f"credential row {row.id} cannot be decrypted with PIPELINE_SECRET_KEY"
                ) from None
            conn.execute(
                sa.update(credentials).where(credentials.c.id == row.id).values(ciphertext=token)
            )
            count += 1
    return count
