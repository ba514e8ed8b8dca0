"""The flip-flop guard against a real server that alternates two versions of an article.

A CDN serving two variants, an A/B headline or a cache handing out a stale copy makes a page
alternate between versions the article already had. The monitor records a real edit (A→B) and
alerts it once; a flip back to a version seen within ``flipflop_window`` is held as a reversion
and alerted only when the next check confirms it. The running daemon checks the one article
every few hundred milliseconds; the replay site answers each request with the next body.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import col, select

from monitor.models import FetchLog
from tests.e2e.harness import Monitor, wait_until
from tests.support import pages
from tests.support.replay import RSS, XML, ReplaySite
from tests.support.sinks import WebhookSink

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "cphpost"
PATH = (
    "/2023-05-22/news/"
    "number-of-rejected-asylum-seekers-earmarked-for-deportation-halved-in-two-years/"
)
EDITED = FIXTURES / "versions" / "2023-05-22-rejected-asylum-seekers.corrected.html"


def publish_only(site: ReplaySite, paths: list[str]) -> dict[str, str]:
    """Feeds and sitemap of the site that list just ``paths``: settings for the monitor."""
    items = "".join(f"<item><title>t</title><link>{pages.LIVE}{p}</link></item>\n" for p in paths)
    site.set_page(
        "/ops/feed/",
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
        f"<title>ops</title><link>{pages.LIVE}/</link>\n{items}</channel></rss>\n",
        content_type=RSS,
    )
    when = datetime(2023, 5, 22, 9, 0, tzinfo=UTC)
    site.set_page("/ops/post-sitemap.xml", pages.urlset((p, when) for p in paths), content_type=XML)
    site.set_page(
        "/ops/sitemap_index.xml",
        pages.sitemap_index([("/ops/post-sitemap.xml", when)]),
        content_type=XML,
    )
    return {"feeds": "/ops/feed/", "sitemap_path": "/ops/sitemap_index.xml"}


def outcomes(monitor: Monitor, url: str) -> list[str]:
    """What each check of ``url`` came to, in order (the fetch log)."""
    with monitor.db() as db:
        rows = db.exec(select(FetchLog).where(FetchLog.url == url).order_by(col(FetchLog.id)))
        return [r.outcome for r in rows]


@pytest.fixture
def watched(
    monitor: Monitor, replay_site: ReplaySite, webhook_sink: WebhookSink
) -> Iterator[Monitor]:
    """The monitor watching one relevant article, re-checked every few hundred milliseconds."""
    monitor.set(
        notify_urls=webhook_sink.json_url(),
        recheck_schedule="*:0.3s",
        recheck_interval="0.2",
        flipflop_window="1h",
        **publish_only(replay_site, [PATH]),
    )
    yield monitor


def checks_after(monitor: Monitor, url: str, n: int, timeout: float = 20) -> list[str]:
    """Wait until ``url`` was checked ``n`` times in all; its outcomes."""

    def enough() -> list[str]:
        seen = outcomes(monitor, url)
        return seen if len(seen) >= n else []

    return wait_until(f"{n} checks of {url}", enough, timeout=timeout)


def settled(outcomes: list[str]) -> list[str]:
    """Outcomes from the first that saw the new behaviour (a check in flight may precede it)."""
    n = 0
    while n < len(outcomes) and outcomes[n] in ("not_modified", "unchanged"):
        n += 1
    return outcomes[n:]


def alert_kinds(monitor: Monitor) -> list[str]:
    return [a.kind for a in monitor.alerts()]


def test_after_a_real_edit_a_page_flipping_per_request_is_never_alerted_again(
    watched: Monitor, replay_site: ReplaySite, webhook_sink: WebhookSink
) -> None:
    url = replay_site.url(PATH)
    original, edited = replay_site.body(PATH), EDITED.read_bytes()
    daemon = watched.start()
    checks_after(watched, url, 1)
    replay_site.set_page(PATH, edited)  # the real edit: A → B
    wait_until("the edit", lambda: "changed" in outcomes(watched, url))
    flipping_from = len(outcomes(watched, url))
    replay_site.alternate(PATH, [original, edited])  # then A, B, A, B … one per request
    seen = checks_after(watched, url, flipping_from + 6)
    assert watched.stop(daemon) == 0
    flips = seen[flipping_from:]
    assert "reversion_held" in flips and "reversion_dropped" in flips
    assert "changed" not in flips
    assert alert_kinds(watched) == ["new", "changed"]
    assert watched.article(url).version_count == 2
    held = [c for c in watched.changes(url) if c.held]
    assert held and all(c.kind == "reversion" for c in held)
    assert len(webhook_sink.wait_for(2)) == 2


def test_a_stale_copy_served_once_is_neither_recorded_nor_alerted(
    watched: Monitor, replay_site: ReplaySite, webhook_sink: WebhookSink
) -> None:
    url = replay_site.url(PATH)
    original, edited = replay_site.body(PATH), EDITED.read_bytes()
    daemon = watched.start()
    checks_after(watched, url, 1)
    replay_site.set_page(PATH, edited)
    wait_until("the edit", lambda: "changed" in outcomes(watched, url))
    before = len(outcomes(watched, url))
    # The cache hands out the old copy once, then the edited page for a long while.
    replay_site.alternate(PATH, [original] + [edited] * 50)
    seen = checks_after(watched, url, before + 6)
    assert watched.stop(daemon) == 0
    after = settled(seen[before:])
    assert after[0] == "reversion_held"
    assert after[1] == "reversion_dropped"
    assert set(after[2:]) <= {"not_modified", "unchanged"}
    assert alert_kinds(watched) == ["new", "changed"]
    assert watched.article(url).version_count == 2


def test_a_reversion_that_holds_on_the_next_check_is_alerted_once(
    watched: Monitor, replay_site: ReplaySite, webhook_sink: WebhookSink
) -> None:
    url = replay_site.url(PATH)
    daemon = watched.start()
    checks_after(watched, url, 1)
    replay_site.set_page(PATH, EDITED.read_bytes())
    wait_until("the edit", lambda: "changed" in outcomes(watched, url))
    before = len(outcomes(watched, url))
    replay_site.restore(PATH)  # the edit is taken back for good: A from now on
    seen = checks_after(watched, url, before + 6)
    assert watched.stop(daemon) == 0
    after = settled(seen[before:])
    assert after[:2] == ["reversion_held", "changed"], after
    assert set(after[2:]) <= {"not_modified", "unchanged"}
    assert alert_kinds(watched) == ["new", "changed", "changed"]
    versions = watched.versions(url)
    assert [v.seq for v in versions] == [1, 2, 3]
    assert versions[2].fingerprint == versions[0].fingerprint
    assert len(webhook_sink.wait_for(3)) == 3


def test_alternating_from_the_first_fetch_alerts_at_most_the_first_change(
    watched: Monitor, replay_site: ReplaySite, webhook_sink: WebhookSink
) -> None:
    url = replay_site.url(PATH)
    replay_site.alternate(PATH, [replay_site.body(PATH), EDITED.read_bytes()])
    daemon = watched.start()
    seen = checks_after(watched, url, 8)
    assert watched.stop(daemon) == 0
    assert seen[:2] == ["new", "changed"]
    assert set(seen[2:]) == {"reversion_held", "reversion_dropped"}
    assert alert_kinds(watched) == ["new", "changed"]
    assert watched.article(url).version_count == 2
