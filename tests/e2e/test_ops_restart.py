"""Restart without a storm: after downtime, overdue re-checks go most overdue first, within the
rate limit, instead of all at once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlmodel import col

from monitor.models import Article
from monitor.store import utcnow
from tests.e2e.harness import Monitor, wait_until
from tests.e2e.test_faults_common import installation
from tests.support.replay import ReplaySite

N = 30
RATE = 10.0  # requests per second


@pytest.fixture
def site() -> Iterator[ReplaySite]:
    with ReplaySite.synthetic(N) as synthetic:
        yield synthetic


@pytest.fixture
def loaded(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, site: ReplaySite
) -> Iterator[Monitor]:
    """N articles tracked, then the daemon was down for hours: every one is overdue."""
    monitor = installation(
        tmp_path, tmp_path_factory, site, ran=False, feeds="/feed/", recheck_schedule="*:1h"
    )
    monitor.run_once()
    assert len(monitor.articles()) == N
    yield monitor
    monitor.close()


def test_overdue_rechecks_after_downtime_are_spread_most_overdue_first(
    loaded: Monitor, site: ReplaySite
) -> None:
    now = utcnow()
    articles = loaded.articles()
    # Overdue by 1..N hours, in an order unrelated to ids or URLs.
    order = sorted(articles, key=lambda a: hash(a.url) % 997)
    with loaded.db() as db:
        for hours, article in enumerate(reversed(order), start=1):
            db.execute(
                update(Article)
                .where(col(Article.id) == article.id)
                .values(next_check_at=now - timedelta(hours=hours))
            )
        db.commit()
    most_overdue_first = [a.url[len(site.origin) :] for a in order]  # order[0]: N hours
    site.reset_log()
    loaded.set(rate_limit=RATE, recheck_interval=1)
    started = time.monotonic()
    daemon = loaded.start()
    paths = set(most_overdue_first)
    wait_until(
        "every overdue re-check",
        lambda: len({r.path for r in site.requests if r.path in paths}) == N,
        timeout=30,
    )
    took = time.monotonic() - started
    assert loaded.stop(daemon) == 0
    requests = site.requests
    checks = [r.path for r in requests if r.path in paths]
    assert len(checks) == N  # each once: nothing fired twice
    assert site.max_rate(1.0) <= RATE + 2  # never a burst (discovery included; 2 in flight)
    assert took >= (N - 1) / RATE * 0.9
    batch = 20  # recheck_batch: claimed together, most overdue first
    assert set(checks[:batch]) == set(most_overdue_first[:batch])
    assert set(checks[batch:]) == set(most_overdue_first[batch:])
    rank = {path: n for n, path in enumerate(most_overdue_first)}
    # In order, give or take the two requests in flight at once (concurrency).
    assert all(abs(rank[path] - n) <= 2 for n, path in enumerate(checks)), checks
    assert all(r.status == 304 for r in requests if r.path in paths)  # conditional requests
