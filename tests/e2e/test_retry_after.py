"""``check URL`` against a site that asks us to wait: said, exited, deferred (issue 18)."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.e2e.harness import Monitor
from tests.support.replay import ReplaySite

ARTICLE = (
    "/2023-05-22/news/"
    "number-of-rejected-asylum-seekers-earmarked-for-deportation-halved-in-two-years/"
)


def test_check_reports_that_the_site_asked_us_to_wait_and_exits_non_zero(
    monitor: Monitor, replay_site: ReplaySite
) -> None:
    replay_site.fault(ARTICLE, "retry_after", status=429, seconds=120)
    monitor.set(max_retries=3)
    asked = datetime.now(UTC)
    result = monitor.cli("check", replay_site.url(ARTICLE), timeout=60)
    assert result.returncode == 1
    assert "deferred" in result.stdout
    assert "the site asked us to wait 120 s" in result.stdout
    assert replay_site.count(ARTICLE) == 1  # asked once, never slept and retried
    article = monitor.article(replay_site.url(ARTICLE))
    due = article.next_check_at.replace(tzinfo=UTC)
    assert (due - asked).total_seconds() >= 119  # not before the time the site named


def test_a_site_wide_retry_after_holds_back_the_next_check_from_another_process(
    monitor: Monitor, replay_site: ReplaySite
) -> None:
    replay_site.fault("/robots.txt", "retry_after", times=1, status=503, seconds=120)
    monitor.set(rate_limit=20)  # the shared limiter: the wait is kept in the database
    first = monitor.cli("check", replay_site.url(ARTICLE), timeout=60)
    assert first.returncode == 1 and "the site asked us to wait 120 s" in first.stdout
    second = monitor.cli("check", replay_site.url(ARTICLE), timeout=60)
    assert second.returncode == 1 and "the site asked us to wait 1" in second.stdout
    assert replay_site.count(ARTICLE) == 0 and replay_site.count("/robots.txt") == 1
    status = monitor.cli("status")
    assert "the site asked us to wait until" in status.stdout
