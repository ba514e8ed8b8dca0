"""Re-check scheduling: frequent while fresh, rare when old, gentle after failures."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from monitor.schedule import next_check, recheck_interval, retry_after_failure
from monitor.settings import parse_schedule

SCHEDULE = parse_schedule("3h:15m,1d:1h,7d:6h,30d:1d,*:7d")
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def test_the_default_schedule_decays_with_age() -> None:
    hours = [0, 2.9, 3, 23, 24, 24 * 7, 24 * 30, 24 * 365]
    intervals = [recheck_interval(h * 3600, SCHEDULE) for h in hours]
    assert intervals == [900, 900, 3600, 3600, 21600, 86400, 604800, 604800]


def test_next_check_adds_the_interval_with_bounded_jitter() -> None:
    born = NOW - timedelta(hours=1)
    rng = random.Random(7)
    for _ in range(50):
        delay = (next_check(NOW, born, SCHEDULE, rng=rng) - NOW).total_seconds()
        assert 810 <= delay <= 990


def test_next_check_without_jitter_is_exact() -> None:
    assert next_check(NOW, NOW, SCHEDULE, jitter=0) == NOW + timedelta(minutes=15)


def test_failures_back_off_exponentially_but_never_past_the_regular_check() -> None:
    regular = NOW + timedelta(hours=1)
    delays = [(retry_after_failure(NOW, n, regular) - NOW).total_seconds() for n in (1, 2, 3, 7)]
    assert delays == [60, 120, 240, 3600]


def test_retry_after_is_honoured() -> None:
    regular = NOW + timedelta(hours=1)
    assert retry_after_failure(NOW, 1, regular, retry_after=600) == NOW + timedelta(seconds=600)
