"""When to look at an article again: often while it is fresh, rarely once it is old.

Pure functions over times; the daemon stores their answer in ``article.next_check_at``.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime, timedelta

MIN_RETRY = 60.0  # first retry after a transient failure


def recheck_interval(age_seconds: float, schedule: Sequence[tuple[float, float]]) -> float:
    """The interval of the first schedule step whose age bound the article is still under."""
    for max_age, interval in schedule:
        if age_seconds < max_age:
            return interval
    return schedule[-1][1]


def next_check(
    now: datetime,
    born: datetime,
    schedule: Sequence[tuple[float, float]],
    *,
    jitter: float = 0.1,
    rng: random.Random | None = None,
) -> datetime:
    """Next regular check of an article first published (or first seen) at ``born``.

    A little jitter (±10 %) keeps thousands of articles from falling due in the same second.
    """
    interval = recheck_interval(max(0.0, (now - born).total_seconds()), schedule)
    spread = (rng or random).uniform(-jitter, jitter) if jitter else 0.0
    return now + timedelta(seconds=interval * (1 + spread))


def retry_after_failure(
    now: datetime,
    fail_count: int,
    regular: datetime,
    retry_after: float | None = None,
) -> datetime:
    """After ``fail_count`` consecutive transient failures: back off exponentially from one
    minute, never later than the regular check, never sooner than the site asked."""
    backoff = timedelta(seconds=MIN_RETRY * 2 ** max(0, fail_count - 1))
    when = min(now + backoff, regular)
    if retry_after is not None:
        when = max(when, now + timedelta(seconds=retry_after))
    return when
