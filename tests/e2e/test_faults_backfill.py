"""Concurrency: ``backfill`` walking the archive while the daemon runs on the same database.

On SQLite (one file, ``BEGIN IMMEDIATE`` writers) and on PostgreSQL (a schema of its own; skipped
where no server is reachable): every article stored once with one version, no alert twice,
the site's rate limit shared by both processes, the store consistent afterwards.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.dbs import pg_schema_url
from tests.e2e.harness import Monitor, more_rounds
from tests.e2e.test_faults_common import consistency_problems, integrity, webhook_alert_ids
from tests.support.replay import ReplaySite
from tests.support.sinks import WebhookSink

N_ARTICLES = 40
RATE = 15.0  # requests per second, shared by the daemon and the backfill


@pytest.fixture
def archive() -> Iterator[ReplaySite]:
    """40 generated articles in three post sitemaps; the feed shows only the newest 10."""
    with ReplaySite.synthetic(N_ARTICLES, sitemap_size=15, feed_size=10) as site:
        yield site


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_backfill_next_to_a_running_daemon_stores_everything_once(
    tmp_path: Path, archive: ReplaySite, webhook_sink: WebhookSink, database: str
) -> None:
    with ExitStack() as stack:
        url = stack.enter_context(pg_schema_url()) if database == "postgresql" else None
        mon = Monitor(
            tmp_path,
            archive.origin,
            database_url=url,
            notify_urls=webhook_sink.json_url(),
            feeds="/feed/",
            recheck_schedule="*:1h",  # no re-checks: every request is discovery or a first look
            rate_limit=RATE,
            read_timeout=10,  # timeouts are not under test here: a loaded CI box must not
            total_timeout=20,  # turn a slow answer into a failed article
        )
        stack.callback(mon.close)
        mon.upgrade()
        daemon = mon.start()  # both start together: they race for the newest articles
        backfill = mon.cli("backfill", "--source", "sitemap", timeout=180)
        assert daemon.poll() is None, mon.log()
        more_rounds(archive, 2)  # discovery rounds after the backfill (one may have been under way)
        assert mon.stop(daemon) == 0
        articles = mon.articles()
        alerts = mon.alerts()
        problems = consistency_problems(mon)
        log = mon.log()

    report = f"backfill said:\n{backfill.stdout[-2000:]}\n{backfill.stderr[-3000:]}"
    assert backfill.returncode == 0, report
    expected = {archive.url(spec.path) for spec in archive.articles}
    assert {a.url for a in articles} == expected
    assert [a.url for a in articles if a.version_count != 1] == [], report  # never twice
    assert problems == []
    per_article = Counter(a.article_id for a in alerts)
    assert {a.kind for a in alerts} <= {"new"} and max(per_article.values(), default=1) == 1
    delivered = webhook_alert_ids(webhook_sink)
    assert sorted(delivered) == sorted(a.id for a in alerts)  # each sent once
    # Both processes take their slots from one row in the database: together they stay within
    # the limit, plus one request on a window's edge (see test_faults_site) and one per process
    # for its first request: robots.txt opens a new connection, which the replay server (one
    # thread per connection, on loaded cores) logs 20-60 ms after it left, into its
    # neighbour's slot (see tests/scale/test_workers). A limiter failing open would show
    # twice the rate.
    times = sorted(r.time for r in archive.requests)
    first_requests = 2
    assert archive.max_rate(1.0) <= RATE + 1 + first_requests, [
        round(t - times[0], 3) for t in times
    ]
    for output in (log, backfill.stderr):
        assert "Traceback" not in output and "database is locked" not in output
    if database == "sqlite":
        assert integrity(mon) == "ok"
