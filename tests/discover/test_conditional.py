"""Conditional discovery: unchanged sources are 304s without a write; an edit anywhere in the
archive is found through the sitemap index and made due first (issue 20)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, update
from sqlmodel import select

from monitor.db import session
from monitor.discover import EDITED_DUE, DiscoveryReport, discover
from monitor.fetch import Fetcher
from monitor.models import Article
from monitor.settings import Settings
from monitor.store import add_candidates, utcnow
from monitor.validators import DatabaseSources
from scrapers.article import Candidate
from tests.discover.archive import Archive
from tests.support.replay import ReplaySite

SIZE = 10  # articles per sitemap: 6 sitemaps for 60 articles
FEEDS = ("/feed/",)


@pytest.fixture
def replay_site() -> Iterator[ReplaySite]:
    with ReplaySite.synthetic(60, sitemap_size=SIZE) as site:
        yield site


def run(settings: Settings, engine: Engine) -> DiscoveryReport:
    async def go() -> DiscoveryReport:
        async with Fetcher(settings, sources=DatabaseSources(engine)) as fetcher:
            return await discover(fetcher, engine, FEEDS, sitemap_index="/sitemap_index.xml")

    return asyncio.run(go())


def track_all(site: ReplaySite, engine: Engine) -> None:
    """Every article tracked and checked just now (as after a backfill)."""
    now = utcnow()
    with session(engine) as db:
        add_candidates(db, [Candidate(site.url(s.path), "sitemap") for s in site.articles], now)
        db.execute(update(Article).values(last_checked=now, next_check_at=now + timedelta(days=7)))


def writes(engine: Engine) -> tuple[list[str], Callable[[], None]]:
    seen: list[str] = []

    def listen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.split(None, 1)[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", listen)
    return seen, lambda: event.remove(engine, "before_cursor_execute", listen)


def test_an_unchanged_site_answers_304_to_every_source_and_nothing_is_written(
    replay_site: ReplaySite, make_settings: Callable[..., Settings], engine: Engine
) -> None:
    settings = make_settings()
    first = run(settings, engine)
    assert (first.sources, first.sitemaps_read, first.failed) == (8, 6, [])  # feed, index, 6
    replay_site.reset_log()
    seen, stop = writes(engine)
    try:
        again = run(settings, engine)
    finally:
        stop()
    statuses = [(r.path, r.status) for r in replay_site.requests]
    assert statuses == [
        ("/robots.txt", 304),
        ("/feed/", 304),
        ("/sitemap_index.xml", 304),
        ("/post-sitemap6.xml", 304),  # the newest, in case it grew unannounced
    ]
    assert all("if-none-match" in r.headers for r in replay_site.requests)
    assert (again.not_modified, again.new, again.pulled_forward) == (3, 0, 0)
    assert [s for s in seen if "sourcevalidator" not in s.lower()] == []
    assert [s for s in seen if "robots" in s] == []


def test_an_edit_in_an_old_sitemap_makes_that_article_due_first(
    replay_site: ReplaySite, make_settings: Callable[..., Settings], engine: Engine
) -> None:
    settings = make_settings()
    track_all(replay_site, engine)
    run(settings, engine)
    archive = Archive(replay_site, SIZE)
    old = replay_site.articles[3]
    edited_at = utcnow().replace(microsecond=0) + timedelta(seconds=5)
    sitemap = archive.edit(old, lambda t: t.replace("</h1>", " (updated)</h1>", 1), edited_at)
    assert sitemap == "/post-sitemap.xml"
    replay_site.reset_log()
    report = run(settings, engine)
    assert [(r.path, r.status) for r in replay_site.requests] == [
        ("/robots.txt", 304),
        ("/feed/", 304),
        ("/sitemap_index.xml", 200),
        ("/post-sitemap.xml", 200),  # its lastmod moved: read, though not the newest
        ("/post-sitemap6.xml", 304),
    ]
    assert report.pulled_forward == 1
    with session(engine) as db:
        due = db.exec(select(Article.url).where(Article.next_check_at == EDITED_DUE)).all()
    assert due == [replay_site.url(old.path)]
    replay_site.reset_log()
    run(settings, engine)  # read once: the same lastmod is no news
    assert [r.status for r in replay_site.requests] == [304, 304, 304, 304]


def test_robots_txt_with_max_age_is_not_asked_for_again_while_fresh(
    replay_site: ReplaySite, make_settings: Callable[..., Settings], engine: Engine
) -> None:
    replay_site.set_headers("/robots.txt", cache_control="public, max-age=3600")
    settings = make_settings()
    run(settings, engine)
    replay_site.reset_log()
    run(settings, engine)  # a new process would do the same: the rules are in the database
    assert replay_site.count("/robots.txt") == 0
    replay_site.set_headers("/robots.txt", cache_control="max-age=0")
