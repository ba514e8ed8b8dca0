"""The daemon, as a user runs it: new articles and edits arrive as alerts within a poll."""

from __future__ import annotations

import time

from tests.e2e.harness import Monitor, wait_until
from tests.support.replay import ReplaySite
from tests.support.sinks import WebhookSink

CORRECTED = (
    "/2023-05-22/news/"
    "number-of-rejected-asylum-seekers-earmarked-for-deportation-halved-in-two-years/"
)


def test_run_once_stores_every_discovered_article_and_alerts_the_relevant_ones(
    monitor: Monitor, replay_site: ReplaySite, webhook_sink: WebhookSink
) -> None:
    monitor.set(notify_urls=webhook_sink.json_url())
    monitor.run_once()
    articles = monitor.articles()
    relevant = [a for a in articles if a.relevant]
    assert articles and all(a.version_count == 1 for a in articles)
    delivered = webhook_sink.wait_for(len(relevant))
    assert len(delivered) == len(relevant) == len(monitor.alerts())
    assert {a.kind for a in monitor.alerts()} == {"new"}


def test_a_second_run_once_sends_nothing_new(
    monitor: Monitor, replay_site: ReplaySite, webhook_sink: WebhookSink
) -> None:
    monitor.set(notify_urls=webhook_sink.json_url())
    monitor.run_once()
    first = len(webhook_sink.wait_for(1))
    monitor.wait_all_due()  # every article is due again ("*:2s")
    monitor.run_once()
    assert len(webhook_sink.requests) == first
    assert all(a.version_count == 1 for a in monitor.articles())


def test_an_edit_is_alerted_within_a_poll_interval_by_the_running_daemon(
    monitor: Monitor, replay_site: ReplaySite, webhook_sink: WebhookSink
) -> None:
    monitor.set(notify_urls=webhook_sink.json_url())
    monitor.run_once()
    before = len(webhook_sink.wait_for(1))
    daemon = monitor.start()
    replay_site.use_version(CORRECTED)
    edited_at = time.monotonic()
    hooks = webhook_sink.wait_for(before + 1, timeout=60)
    assert monitor.stop(daemon) == 0
    url = replay_site.url(CORRECTED)
    assert [c.kinds for c in monitor.changes(url)] == [["new"], ["headline", "body", "correction"]]
    assert [a.kind for a in monitor.alerts()].count("changed") == 1
    assert "Rejected asylum-seekers" in str(hooks[-1].json)
    # Within a re-check of the page (in rounds, not seconds: bench/daemon.py times it): the
    # first fetch after the edit stores it (the second, when one was in flight at the edit),
    # and the alert goes out in a delivery round before the page is due again.
    assert replay_site.count(CORRECTED, since=edited_at, until=hooks[-1].time) <= 3


def test_sigterm_stops_the_daemon_cleanly_within_ten_seconds(
    monitor: Monitor, replay_site: ReplaySite
) -> None:
    daemon = monitor.start()
    wait_until("the first discovery", lambda: monitor.articles())
    started = time.monotonic()
    assert monitor.stop(daemon) == 0
    assert time.monotonic() - started < 10
    assert "stopped" in monitor.log()
    with monitor.db() as db:
        from sqlmodel import select

        from monitor.models import Article

        held = db.exec(select(Article).where(Article.lease_owner.is_not(None))).all()  # type: ignore[union-attr]
    assert held == []


def test_a_second_daemon_on_the_same_sqlite_file_is_refused_naming_the_holder(
    monitor: Monitor, replay_site: ReplaySite
) -> None:
    first = monitor.start()
    wait_until("the first discovery", lambda: monitor.articles())
    second = monitor.cli("run", timeout=30)
    assert second.returncode == 2
    assert "another daemon (" in second.stderr and f":{first.pid})" in second.stderr
    assert monitor.stop(first) == 0
