"""The backfill: what it fetches, what it stores, what it skips, and what it leaves alone."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import col, select

from monitor.alerts.outbox import fan_out
from monitor.backfill import (
    BACKFILL_LEASE,
    BackfillRunning,
    article_day,
    in_range,
    up_to_date,
)
from monitor.db import make_engine, session
from monitor.models import (
    Alert,
    Article,
    ArticleStatus,
    Checkpoint,
    Delivery,
    FetchLog,
    Lease,
    UrlAlias,
)
from monitor.settings import Settings, load_settings
from monitor.store import Claim, acquire_lease, add_candidates, claim_article, find_article
from scrapers.article import Candidate
from scrapers.cphpost import parse_feed, parse_listing
from scrapers.site import load as load_site
from tests.backfill.conftest import article_requests, article_urls, migrate, run, stored
from tests.support.replay import ReplaySite

EDITED = (
    "/2023-05-22/news/"
    "number-of-rejected-asylum-seekers-earmarked-for-deportation-halved-in-two-years/"
)
NEWS_PAGES = [f"/category/news/page/{n}/" for n in (2, 3, 4)]

CPHPOST = load_site("cphpost")


def day_of(url: str) -> date:
    match = re.search(r"/(\d{4}-\d{2}-\d{2})/", url)
    assert match is not None
    return date.fromisoformat(match[1])


# Sitemaps ---------------------------------------------------------------------------------------


def test_a_sitemap_backfill_stores_every_article_of_the_sitemaps_once(
    replay_site: ReplaySite, any_db_url: str, tmp_path: Path
) -> None:
    settings = load_settings(
        site_url=replay_site.origin, data_dir=tmp_path, database_url=any_db_url, rate_limit=0
    )
    migrate(any_db_url)
    engine = make_engine(any_db_url)
    try:
        counts = run(settings, engine)
        assert stored(engine) == {url: 1 for url in article_urls(replay_site)}
        assert (counts.found, counts.fetched, counts.new_versions, counts.failed) == (33, 33, 33, 0)
        assert sorted(article_requests(replay_site)) == sorted(replay_site.paths("article"))
    finally:
        engine.dispose()


def test_each_fully_processed_sitemap_is_checkpointed_with_its_lastmod(
    replay_site: ReplaySite, settings: Settings, engine: Engine
) -> None:
    run(settings, engine)
    with session(engine) as db:
        marks = {(c.key, c.done, c.marker) for c in db.exec(select(Checkpoint))}
    origin = replay_site.origin
    assert marks == {
        (f"sitemap:{origin}/post-sitemap.xml", True, "2016-02-06T10:01:00+01:00"),
        (f"sitemap:{origin}/post-sitemap2.xml", True, "2025-05-07T08:40:00+01:00"),
    }


def test_a_second_run_reads_only_the_sitemap_index(
    replay_site: ReplaySite, settings: Settings, engine: Engine
) -> None:
    run(settings, engine)
    replay_site.reset_log()
    counts = run(settings, engine)
    assert [r.path for r in replay_site.requests] == ["/robots.txt", "/sitemap_index.xml"]
    assert (counts.fetched, counts.found) == (0, 0)


def test_an_article_edited_since_is_fetched_again_and_nothing_else(
    replay_site: ReplaySite, settings: Settings, engine: Engine
) -> None:
    run(settings, engine)
    edited_at = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    replay_site.use_version(EDITED, "corrected.html")
    replay_site.edit(
        "/post-sitemap2.xml",
        lambda t: re.sub(rf"({re.escape(EDITED)}</loc><lastmod>)[^<]+", rf"\g<1>{edited_at}", t),
    )
    replay_site.edit(
        "/sitemap_index.xml",
        lambda t: re.sub(r"(post-sitemap2\.xml</loc><lastmod>)[^<]+", rf"\g<1>{edited_at}", t),
    )
    replay_site.reset_log()
    counts = run(settings, engine)
    assert article_requests(replay_site) == [EDITED]
    assert "/post-sitemap.xml" not in [r.path for r in replay_site.requests]
    assert (counts.fetched, counts.new_versions, counts.skipped) == (1, 1, 15)
    assert stored(engine)[replay_site.url(EDITED)] == 2


def test_since_and_until_keep_the_articles_published_in_between(
    replay_site: ReplaySite, settings: Settings, engine: Engine
) -> None:
    since, until = date(2015, 1, 1), date(2016, 12, 31)
    counts = run(settings, engine, since=since, until=until)
    wanted = {u for u in article_urls(replay_site) if since <= day_of(u) <= until}
    assert set(stored(engine)) == wanted
    assert counts.found == counts.fetched == len(wanted) == 13


def test_a_sitemap_last_modified_before_since_is_not_read(
    replay_site: ReplaySite, settings: Settings, engine: Engine
) -> None:
    run(settings, engine, since=date(2017, 1, 1))
    assert replay_site.count("/post-sitemap.xml") == 0
    assert all(day_of(url) >= date(2017, 1, 1) for url in stored(engine))


def test_a_sitemap_with_articles_outside_the_range_is_not_checkpointed(
    settings: Settings, engine: Engine
) -> None:
    run(settings, engine, since=date(2020, 1, 1))
    with session(engine) as db:
        assert db.exec(select(Checkpoint)).all() == []


def test_limit_fetches_that_many_and_a_rerun_fetches_the_rest(
    replay_site: ReplaySite, settings: Settings, engine: Engine
) -> None:
    first = run(settings, engine, limit=5)
    assert (first.fetched, len(stored(engine))) == (5, 5)
    second = run(settings, engine)
    assert (second.fetched, second.skipped) == (28, 5)
    assert stored(engine) == {url: 1 for url in article_urls(replay_site)}


def test_a_dry_run_counts_what_it_would_fetch_and_writes_nothing(
    replay_site: ReplaySite, settings: Settings, engine: Engine
) -> None:
    counts = run(settings, engine, dry_run=True)
    assert (counts.found, counts.planned, counts.fetched) == (33, 33, 0)
    assert article_requests(replay_site) == []
    with session(engine) as db:
        for table in (Article, Checkpoint, FetchLog, Lease):
            assert db.exec(select(table)).all() == []


def test_a_dry_run_after_a_backfill_would_fetch_nothing(settings: Settings, engine: Engine) -> None:
    run(settings, engine, since=date(2020, 1, 1))  # stored, but the sitemaps not checkpointed
    counts = run(settings, engine, dry_run=True, since=date(2020, 1, 1))
    assert (counts.found, counts.planned, counts.skipped) == (7, 0, 7)


# Alerts -----------------------------------------------------------------------------------------


def test_no_alert_is_queued_without_alert(settings: Settings, engine: Engine) -> None:
    counts = run(settings, engine)
    with session(engine) as db:
        assert db.exec(select(Alert)).all() == []
    assert counts.relevant > 0 and counts.alerts == 0


def test_with_alert_every_relevant_article_is_queued_in_the_outbox(
    settings: Settings, engine: Engine
) -> None:
    counts = run(settings, engine, alert=True)
    with session(engine) as db:
        relevant = {a.id for a in db.exec(select(Article).where(col(Article.relevant)))}
        alerts = db.exec(select(Alert)).all()
    # targets are resolved at delivery: a delivering process adds its rows (here: the log)
    fan_out(engine, [], max(a.created_at for a in alerts), settings.ops_tag)
    with session(engine) as db:
        deliveries = db.exec(select(Delivery)).all()
    assert {a.article_id for a in alerts} == relevant
    assert {a.kind for a in alerts} == {"new"}
    assert counts.alerts == len(alerts) == counts.relevant == len(relevant) > 0
    assert {d.alert_id for d in deliveries} == {a.id for a in alerts}


# Listings and feeds -----------------------------------------------------------------------------


def listing_urls(site: ReplaySite, paths: list[str]) -> set[str]:
    return {c.url for p in paths for c in parse_listing(site.body(p), site.origin).candidates}


def test_a_listing_backfill_walks_every_page_of_the_archive(
    replay_site: ReplaySite, settings: Settings, engine: Engine
) -> None:
    counts = run(settings, engine, source="listing")
    wanted = listing_urls(replay_site, ["/category/news/", *NEWS_PAGES])
    assert stored(engine) == {url: 1 for url in wanted}
    assert counts.fetched == len(wanted) == 30
    with session(engine) as db:
        mark = db.get(Checkpoint, "listing:/category/news/")
    assert mark is not None and (mark.done, mark.marker) == (True, "")


def test_a_listing_walk_stops_at_the_first_page_older_than_since(
    replay_site: ReplaySite, settings: Settings, engine: Engine
) -> None:
    run(settings, engine, source="listing", since=date(2016, 1, 1))
    wanted = listing_urls(replay_site, ["/category/news/", *NEWS_PAGES])
    assert set(stored(engine)) == {u for u in wanted if day_of(u) >= date(2016, 1, 1)}
    assert replay_site.count("/category/news/page/4/") == 0


def test_a_finished_listing_is_read_again_only_up_to_the_first_page_already_stored(
    replay_site: ReplaySite, settings: Settings, engine: Engine
) -> None:
    run(settings, engine, source="listing")
    replay_site.reset_log()
    counts = run(settings, engine, source="listing")
    assert [r.path for r in replay_site.requests] == ["/robots.txt", "/category/news/"]
    assert counts.fetched == 0


def test_an_unfinished_listing_walk_continues_at_the_page_it_reached(
    replay_site: ReplaySite, settings: Settings, engine: Engine
) -> None:
    run(settings, engine, source="listing", limit=10)  # page 1 (8) and 2 of page 2's 8
    with session(engine) as db:
        mark = db.get(Checkpoint, "listing:/category/news/")
    assert mark is not None and (mark.done, mark.marker) == (False, replay_site.url(NEWS_PAGES[0]))
    replay_site.reset_log()
    counts = run(settings, engine, source="listing")
    assert replay_site.count("/category/news/") == 0
    assert (counts.fetched, counts.skipped) == (20, 2)
    with session(engine) as db:
        mark = db.get(Checkpoint, "listing:/category/news/")
    assert mark is not None and (mark.done, mark.marker) == (True, "")
    assert len(stored(engine)) == 30


def test_a_feed_backfill_stores_the_articles_of_every_feed(
    replay_site: ReplaySite, settings: Settings, engine: Engine
) -> None:
    counts = run(settings, engine, source="feed")
    wanted = {
        c.url
        for path in settings.feed_paths
        for c in parse_feed(replay_site.body(path), replay_site.origin)
    }
    assert stored(engine) == {url: 1 for url in wanted}
    assert counts.fetched == len(wanted)


# Sharing the database ---------------------------------------------------------------------------


def test_an_article_another_worker_is_checking_is_left_to_it(
    replay_site: ReplaySite, settings: Settings, engine: Engine
) -> None:
    url = replay_site.url(EDITED)
    with session(engine) as db:
        add_candidates(db, [Candidate(url, "feed")], datetime.now(UTC))
        article = find_article(db, url)
        assert article is not None and article.id is not None
    assert isinstance(claim_article(engine, article.id, "daemon-host:1", 300), Claim)
    counts = run(settings, engine)
    assert (counts.fetched, counts.skipped) == (32, 1)
    assert EDITED not in article_requests(replay_site)
    with session(engine) as db:
        held = db.get(Article, article.id)
        assert held is not None and (held.lease_owner, held.version_count) == ("daemon-host:1", 0)
        assert len(db.exec(select(Article)).all()) == 33


def test_a_second_backfill_on_the_same_database_is_refused(
    settings: Settings, engine: Engine
) -> None:
    assert acquire_lease(engine, BACKFILL_LEASE, "elsewhere:4242", 60)
    with pytest.raises(BackfillRunning, match=r"another backfill \(elsewhere:4242\) is running"):
        run(settings, engine)


def test_no_lease_is_left_behind(settings: Settings, engine: Engine) -> None:
    run(settings, engine)
    with session(engine) as db:
        assert db.exec(select(Article).where(col(Article.lease_owner).is_not(None))).all() == []
        lease = db.get(Lease, BACKFILL_LEASE)
        assert lease is not None and lease.owner is None and lease.last_run_at is not None


def test_an_article_known_under_an_alias_is_not_stored_twice(
    replay_site: ReplaySite, settings: Settings, engine: Engine
) -> None:
    run(settings, engine, since=date(2023, 5, 22), until=date(2023, 5, 22))
    url = replay_site.url(EDITED)
    moved = url.replace("halved-in-two-years", "halved")
    with session(engine) as db:
        article = find_article(db, url)
        assert article is not None and article.id is not None
        article.url = moved  # the site moved it; the old URL became an alias
        db.add(article)
        db.add(UrlAlias(url=url, article_id=article.id))
    counts = run(settings, engine, since=date(2023, 5, 22), until=date(2023, 5, 22))
    assert (counts.found, counts.skipped, counts.fetched) == (1, 1, 0)
    assert stored(engine) == {moved: 1}


# The rules themselves ---------------------------------------------------------------------------


def test_the_publication_day_comes_from_the_url_before_the_source_dates() -> None:
    late = datetime(2030, 1, 1, tzinfo=UTC)
    assert article_day(
        Candidate("http://x/2016-02-06/news/a/", "sitemap", lastmod=late), CPHPOST
    ) == date(2016, 2, 6)
    assert article_day(Candidate("http://x/news/a/", "feed", published=late), CPHPOST) == date(
        2030, 1, 1
    )
    assert article_day(Candidate("http://x/news/a/", "feed"), CPHPOST) is None


def test_the_range_is_inclusive_and_an_undated_article_is_kept() -> None:
    cand = Candidate("http://x/2016-02-06/news/a/", "sitemap")
    assert in_range(cand, date(2016, 2, 6), date(2016, 2, 6), CPHPOST)
    assert not in_range(cand, date(2016, 2, 7), None, CPHPOST)
    assert in_range(Candidate("http://x/news/a/", "feed"), date(2030, 1, 1), None, CPHPOST)


def test_stored_means_a_version_or_a_confirmed_deletion_checked_since_lastmod() -> None:
    checked = datetime(2024, 1, 1, tzinfo=UTC)

    def article(status: str = ArticleStatus.LIVE, version: int | None = None) -> Article:
        return Article(
            url="u",
            status=status,
            current_version_id=version,
            first_seen=checked,
            next_check_at=checked,
            last_checked=checked,
        )

    with_version, gone, pending = article(version=1), article(ArticleStatus.GONE), article()
    for lastmod, expected in ((None, True), (checked, True), (checked + timedelta(1), False)):
        cand = Candidate("u", "sitemap", lastmod=lastmod)
        assert up_to_date(with_version, cand) is expected
        assert up_to_date(gone, cand) is expected
        assert up_to_date(pending, cand) is False
    assert up_to_date(None, Candidate("u", "feed")) is False


def test_the_total_for_the_eta_extrapolates_from_the_sitemaps_read(tmp_path: Path) -> None:
    snapshots: list[tuple[int, int | None]] = []
    with ReplaySite.synthetic(30, sitemap_size=10) as site:
        settings = load_settings(site_url=site.origin, data_dir=tmp_path, rate_limit=0)
        migrate(settings.effective_database_url)
        engine = make_engine(settings.effective_database_url)
        try:
            run(settings, engine, progress=lambda c: snapshots.append((c.planned, c.total)))
        finally:
            engine.dispose()
    assert (10, 30) in snapshots  # one sitemap of three read: 10 queued, 30 expected
    assert snapshots[-1] == (30, 30)


def test_after_a_backfill_each_article_is_due_again_by_its_age_not_in_a_quarter_hour(
    replay_site: ReplaySite, tmp_path: Path, db_url: str
) -> None:
    """The recorded articles are years old: by the default schedule (``*:7d`` past 30 days,
    ±10 % jitter) each is checked again in about a week, not all 15 minutes after the run."""
    settings = load_settings(
        site_url=replay_site.origin,
        data_dir=tmp_path,
        database_url=db_url,
        rate_limit=0,
        recheck_schedule="3h:15m,1d:1h,7d:6h,30d:1d,*:7d",
        slow_recheck_factor=1,
    )
    migrate(db_url)
    engine = make_engine(db_url)
    before = datetime.now(UTC)
    try:
        assert run(settings, engine).fetched == 33
        with session(engine) as db:
            articles = db.exec(select(Article)).all()
    finally:
        engine.dispose()
    dated = [a for a in articles if a.published is not None]
    assert len(dated) == 33
    soonest = min(_aware(a.next_check_at) - before for a in dated)
    assert soonest >= timedelta(days=7 * 0.9)


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)
