"""A quiet edit anywhere in the archive alerts within the sitemap interval (issue 20).

The daemon runs with the feeds every 10 s and the sitemap index every 15 s, everything else at
its defaults (re-checks claimed every 30 s, deliveries every 15 s, the default re-check
schedule: an old article is otherwise re-checked weekly). An old article in the oldest sitemap
is edited (its sitemap's lastmod moves in the index) while a new article lands in the newest
sitemap and the feed: both alerts arrive within 60 s.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlmodel import col, select

from monitor.models import Article, SourceValidator
from tests.discover.archive import Archive
from tests.e2e.harness import Monitor, wait_until
from tests.e2e.test_faults_common import alert_ids_in, assert_relevant, migration_spec
from tests.support.pages import CET
from tests.support.replay import ReplaySite
from tests.support.sinks import WebhookSink

SIZE = 10
BOUND = 60.0  # seconds, with CPHMON_POLL_INTERVAL=10 and CPHMON_SITEMAP_INTERVAL=15


@pytest.fixture
def site() -> Iterator[ReplaySite]:
    with ReplaySite.synthetic(60, sitemap_size=SIZE) as replay:
        yield replay


def delivered_at(mon: Monitor, sink: WebhookSink, url: str, kind: str) -> float | None:
    """When the webhook first received the ``kind`` alert about ``url``, if it has."""
    alerts = {a.id: a for a in mon.alerts()}
    article = mon.article(url)
    for request in sink.delivered:
        for alert_id in alert_ids_in([request.headers.get("x-idempotency-key", "")]):
            alert = alerts.get(alert_id)
            if alert is not None and alert.article_id == article.id and alert.kind == kind:
                return request.time
    return None


def test_an_old_edit_and_a_new_article_alert_within_the_sitemap_bound(
    tmp_path: Path, site: ReplaySite, webhook_sink: WebhookSink
) -> None:
    mon = Monitor(
        tmp_path,
        site.origin,
        notify_urls=webhook_sink.json_url(),
        feeds="/feed/",
        poll_interval=10,
        sitemap_interval=15,
        recheck_interval=30,
        delivery_interval=15,
        recheck_schedule="3h:15m,1d:1h,7d:6h,30d:1d,*:7d",
        rate_limit=1,
    )
    try:
        mon.upgrade()
        mon.cli("backfill", timeout=300, check=True)  # the whole archive tracked, no alerts
        archive = Archive(site, SIZE)
        oldest = {site.url(s.path): s for s in site.articles[:SIZE]}
        with mon.db() as db:
            relevant = db.exec(
                select(Article.url).where(col(Article.url).in_(oldest), col(Article.relevant))
            ).all()
        assert relevant, "no migration article in the oldest sitemap"
        old = oldest[sorted(relevant)[0]]
        daemon = mon.start()
        wait_until(  # one sitemap round done: every sitemap read once, the index's validators kept
            "the first sitemap round",
            lambda: _validated(mon, site.url("/sitemap_index.xml")),
            timeout=60,
        )
        site.reset_log()
        new = migration_spec(7, "archive-bound", post_id=990_001)
        assert_relevant(new)
        edited = time.monotonic()
        archive.edit(
            old,
            lambda text: text.replace(old.title, f"{old.title}: the ministry now says otherwise"),
            when=_now_cet(),
        )
        spec = site.add_article(
            "archive-bound-new", new.title, new.paragraphs, standfirst=new.standfirst
        )
        old_url, new_url = site.url(old.path), site.url(spec.path)
        changed = wait_until(
            "the edit's alert",
            lambda: delivered_at(mon, webhook_sink, old_url, "changed"),
            timeout=4 * BOUND,
            every=0.5,
        )
        added = wait_until(
            "the new article's alert",
            lambda: delivered_at(mon, webhook_sink, new_url, "new"),
            timeout=4 * BOUND,
            every=0.5,
        )
        assert mon.stop(daemon) == 0
        requested = [r.path for r in site.requests]
    finally:
        mon.close()
    assert "/post-sitemap.xml" in requested  # the old month's sitemap, read for its lastmod
    assert requested.count(old.path) == 1  # checked because the sitemap said so, once
    assert changed - edited < BOUND
    assert added - edited < BOUND


def _validated(mon: Monitor, url: str) -> bool:
    with mon.db() as db:
        return db.get(SourceValidator, url) is not None


def _now_cet() -> datetime:
    return datetime.now(CET).replace(microsecond=0)
