"""One story, one alert: every spelling and every route to an article is that one article.

The same article reached through several feeds, with or without its trailing slash, with
tracking queries or fragments, through its ``?p=`` shortlink or an old-site URL is tracked once
and alerted once. An article that moves to a new URL (301) keeps its versions and history,
whichever the monitor notices first: the redirect on a re-check, or the new URL in a feed.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import select

from monitor.models import UrlAlias
from tests.dbs import pg_schema_url
from tests.e2e.harness import Monitor
from tests.e2e.test_faults_common import installation
from tests.support import pages
from tests.support.replay import RSS, XML, ReplaySite
from tests.support.sinks import WebhookSink

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "cphpost"
PATH = (
    "/2023-05-22/news/"
    "number-of-rejected-asylum-seekers-earmarked-for-deportation-halved-in-two-years/"
)
POST_ID = 148207
MOVED = "/2023-05-22/news/rejected-asylum-seekers-earmarked-for-deportation-halved/"
OLD_SITE = "/news/police-turn-blind-eye-to-illegal-immigrant-clinics.8392.html"
CLINICS = "/2014-01-21/general/police-turn-blind-eye-to-illegal-immigrant-clinics/"


def feed(site: ReplaySite, path: str, links: list[str]) -> None:
    """An RSS feed at ``path`` whose items link to ``links`` (site-relative or absolute)."""
    items = "".join(
        f"<item><title>t</title><link>{link if '://' in link else pages.LIVE + link}</link>"
        "</item>\n"
        for link in links
    )
    site.set_page(
        path,
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
        f"<title>ops</title><link>{pages.LIVE}/</link>\n{items}</channel></rss>\n",
        content_type=RSS,
    )


def sitemap(site: ReplaySite, paths: list[str]) -> None:
    when = datetime(2023, 5, 22, 9, 0, tzinfo=UTC)
    site.set_page("/ops/post-sitemap.xml", pages.urlset((p, when) for p in paths), content_type=XML)
    site.set_page(
        "/ops/sitemap_index.xml",
        pages.sitemap_index([("/ops/post-sitemap.xml", when)]),
        content_type=XML,
    )


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def either_store(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    replay_site: ReplaySite,
) -> Iterator[Monitor]:
    """The installation on SQLite, and on PostgreSQL where one is reachable."""
    if request.param == "sqlite":  # a copy of the session's migrated schema
        fresh = installation(tmp_path, tmp_path_factory, replay_site, ran=False)
        yield fresh
        fresh.close()
        return
    with pg_schema_url() as url:
        fresh = installation(tmp_path, tmp_path_factory, replay_site, database_url=url)
        yield fresh
        fresh.close()


def aliases(monitor: Monitor) -> dict[str, int]:
    with monitor.db() as db:
        return {a.url: a.article_id for a in db.exec(select(UrlAlias))}


def test_every_feed_and_spelling_of_an_article_is_one_article_and_one_alert(
    monitor: Monitor, replay_site: ReplaySite, webhook_sink: WebhookSink
) -> None:
    origin = replay_site.origin
    feed(
        replay_site,
        "/ops/spellings/feed/",
        [
            PATH,
            PATH.rstrip("/"),
            PATH + "?utm_source=rss&utm_medium=feed",
            PATH + "#respond",
            PATH.upper().replace("/NEWS/", "/news/"),
            origin.replace("http://", "HTTP://") + PATH,
            f"/?p={POST_ID}",
            OLD_SITE,
        ],
    )
    sitemap(replay_site, [PATH])  # and in the sitemap too
    monitor.set(
        notify_urls=webhook_sink.json_url(),
        feeds="/feed/ /category/news/feed/ /tag/asylum/feed/ /ops/spellings/feed/",
        sitemap_path="/ops/sitemap_index.xml",
    )
    monitor.run_once()
    url = replay_site.url(PATH)
    same = [a for a in monitor.articles() if a.post_id == POST_ID]
    assert [a.url for a in same] == [url]
    urls = [a.url for a in monitor.articles()]
    assert len(urls) == len(set(urls))
    assert all(u.endswith("/") and "?" not in u and "#" not in u for u in urls)
    mine = [a for a in monitor.alerts() if a.article_id == same[0].id]
    assert [a.kind for a in mine] == ["new"]
    keys = [a.dedupe_key for a in monitor.alerts()]
    assert len(keys) == len(set(keys)) == len({a.article_id for a in monitor.alerts()})
    webhook_sink.wait_for(len(keys))
    # run --once has exited, and the sink records a request before answering it: every
    # delivery it made, a duplicate included, is in the sink's log by now.
    assert len(webhook_sink.delivered) == len(keys)

    # By hand, the shortlink and the old-site URL name tracked articles, never new ones.
    before = len(monitor.articles())
    for spelling in (f"/?p={POST_ID}", OLD_SITE):
        result = monitor.cli("check", origin + spelling, timeout=60)
        assert result.returncode == 0, result.stderr
    assert len(monitor.articles()) == before
    assert monitor.article(replay_site.url(CLINICS)).version_count == 1
    assert [a.kind for a in monitor.alerts() if a.article_id == same[0].id] == ["new"]


def test_an_article_moved_by_a_301_keeps_its_history_and_sends_no_new_alert(
    monitor: Monitor, replay_site: ReplaySite, webhook_sink: WebhookSink
) -> None:
    feed(replay_site, "/ops/feed/", [PATH])
    sitemap(replay_site, [PATH])
    monitor.set(
        notify_urls=webhook_sink.json_url(),
        feeds="/ops/feed/",
        sitemap_path="/ops/sitemap_index.xml",
        recheck_schedule="*:1s",
    )
    monitor.run_once()
    old, new = replay_site.url(PATH), replay_site.url(MOVED)
    (article,) = monitor.articles()
    # The site renames the slug: the old URL answers 301, the feeds still list the old one.
    replay_site.set_page(MOVED, replay_site.body(PATH))
    replay_site.redirect(PATH, MOVED)
    monitor.wait_all_due()
    monitor.run_once()
    # Later the feeds and sitemap list the new URL.
    feed(replay_site, "/ops/feed/", [MOVED])
    sitemap(replay_site, [MOVED])
    monitor.wait_all_due()
    monitor.run_once()
    (moved,) = monitor.articles()
    assert (moved.id, moved.url, moved.version_count) == (article.id, new, 1)
    assert aliases(monitor) == {old: article.id}
    assert [a.kind for a in monitor.alerts()] == ["new"]
    assert [c.kind for c in monitor.changes(new)] == ["new"]


def test_an_article_found_under_its_new_url_before_the_old_one_redirects_is_one_story(
    either_store: Monitor, replay_site: ReplaySite, webhook_sink: WebhookSink
) -> None:
    monitor = either_store
    feed(replay_site, "/ops/feed/", [PATH])
    sitemap(replay_site, [PATH])
    monitor.set(
        notify_urls=webhook_sink.json_url(),
        feeds="/ops/feed/",
        sitemap_path="/ops/sitemap_index.xml",
        recheck_schedule="*:1h",  # the old URL's re-check is far away, as it would be live
    )
    monitor.run_once()
    old, new = replay_site.url(PATH), replay_site.url(MOVED)
    (article,) = monitor.articles()
    # The slug changes and the feeds list the new URL at once (WordPress bumps its lastmod).
    replay_site.set_page(MOVED, replay_site.body(PATH))
    replay_site.redirect(PATH, MOVED)
    feed(replay_site, "/ops/feed/", [MOVED])
    sitemap(replay_site, [MOVED])
    monitor.run_once()
    (merged,) = monitor.articles()
    assert (merged.id, merged.url, merged.version_count) == (article.id, new, 1)
    assert aliases(monitor) == {old: article.id}
    assert [a.kind for a in monitor.alerts()] == ["new"]
    # Rediscovery of either URL stays on the one article.
    feed(replay_site, "/ops/feed/", [PATH, MOVED])
    monitor.run_once()
    assert [a.id for a in monitor.articles()] == [article.id]
    assert [a.kind for a in monitor.alerts()] == ["new"]
