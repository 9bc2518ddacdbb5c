"""Reading a job's payload: a missing or mistyped key is an error naming the job and key."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipeline_core.exceptions import PermanentJobError


def payload_text(payload: Mapping[str, Any], key: str, job_type: str) -> str:
    """The non-empty text at ``key``."""
    value = payload.get(key)
    if not isinstance(value, str) or not value:
        raise PermanentJobError(f"{job_type} job: payload needs {key!r} (text), got {value!r}")
    return value


def payload_id(payload: Mapping[str, Any], key: str, job_type: str) -> int:
    """The positive whole number at ``key``."""
    value = payload.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise PermanentJobError(
            f"{job_type} job: payload needs {key!r} (a positive id), got {value!r}"
        )
    return value
