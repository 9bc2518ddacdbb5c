"""Job types of the worker-limit and chaos tests, registered as a plugin (entry point
``limits-test-jobs``). Each records its run in ``qtest_runs`` (see :mod:`queue_jobs`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from queue_jobs import _record

from pipeline_core.hookspecs import hookimpl
from pipeline_core.jobtypes import JobContext, JobType

#: Events a ``block`` job waits on, by name (in-process tests set them).
GATES: dict[str, threading.Event] = {}


def block(payload: Mapping[str, Any], context: JobContext) -> dict[str, Any]:
    """Records its run, then waits (at most 60 s) until the gate ``payload["gate"]`` opens."""
    _record(context)
    GATES.setdefault(payload["gate"], threading.Event()).wait(60)
    return {"blocked": True}


def cooperative(payload: Mapping[str, Any], context: JobContext) -> dict[str, Any]:
    """Records its run, waits (at most 60 s) for its cancellation, then returns as if all
    went well."""
    _record(context)
    context.cancelled.wait(60)
    return {"cancelled": context.cancelled.is_set()}


def stubborn(payload: Mapping[str, Any], context: JobContext) -> dict[str, Any]:
    """Records its run, then sleeps 60 s, ignoring its cancellation and exceptions."""
    _record(context)
    deadline = time.monotonic() + 60
    interrupted = 0
    while time.monotonic() < deadline:
        try:
            time.sleep(60)
        except Exception:  # a careless handler swallows even the timeout, once
            interrupted += 1
            if interrupted > 1:
                raise
    return {"slept": 60}


def marks(payload: Mapping[str, Any], context: JobContext) -> dict[str, Any]:
    """Records its run; fails while the file ``payload["fail_while"]`` exists, if named."""
    _record(context)
    fail_while = payload.get("fail_while")
    if fail_while and Path(fail_while).exists():
        raise RuntimeError(f"job {context.job_id} failed on purpose")
    return {"n": payload.get("n")}


JOB_TYPES = [
    JobType("block", block, "Records its run, then waits for a gate."),
    JobType("cooperative", cooperative, "Waits for its cancellation, then returns."),
    JobType("stubborn", stubborn, "Sleeps 60 s, ignoring its cancellation."),
    JobType("marks", marks, "Records its run; fails while a file exists."),
]


@hookimpl
def register_job_types() -> list[JobType]:
    return JOB_TYPES
