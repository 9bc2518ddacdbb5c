"""Retry delays: exponential backoff with equal jitter.

The delay before retry ``n`` (after failed attempt ``n``, counting from 1) is drawn
uniformly from ``[d/2, d]`` where ``d = min(PIPELINE_RETRY_BACKOFF * 2**(n-1),
PIPELINE_RETRY_BACKOFF_MAX)``. Equal jitter keeps half the exponential wait, so a retry
never comes at once, and spreads the other half so that jobs failing together (a DMO's
API down) do not retry together.
"""

from __future__ import annotations

import random

from pipeline_core.config import Settings


def backoff_cap(attempt: int, settings: Settings) -> float:
    """The longest delay, in seconds, after failed attempt ``attempt`` (1, 2, ...)."""
    exponent = min(max(attempt, 1) - 1, 64)  # 2**64 times any base is past every maximum
    return float(min(settings.retry_backoff * 2.0**exponent, settings.retry_backoff_max))


def retry_delay(attempt: int, settings: Settings, rng: random.Random | None = None) -> float:
    """Seconds to wait before retrying after failed attempt ``attempt``: ``[cap/2, cap]``."""
    cap = backoff_cap(attempt, settings)
    return cap / 2 + (rng or random).uniform(0, cap / 2)
