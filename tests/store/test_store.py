"""The store: discovered URLs, claims with leases, named leases and the shared rate limit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import select

from monitor.db import session
from monitor.models import Article, ArticleStatus, Lease
from monitor.store import (
    Claim,
    Held,
    acquire_lease,
    add_alias,
    add_candidates,
    block_host,
    claim_article,
    claim_due,
    find_article,
    release_claims,
    release_lease,
    reserve_slot,
)
from scrapers.article import Candidate

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
SITE = "http://127.0.0.1:8123"


def url(n: int) -> str:
    return f"{SITE}/2026-11-{n:02d}/news/article-{n}/"


def add(engine: Engine, *urls: str, lastmod: datetime | None = None, now: datetime = T0) -> None:
    with session(engine) as db:
        add_candidates(db, [Candidate(u, "feed", lastmod=lastmod) for u in urls], now)


def test_discovered_urls_become_pending_articles_due_now(engine: Engine) -> None:
    add(engine, url(1), url(2))
    with session(engine) as db:
        rows = db.exec(select(Article).order_by(Article.url)).all()
    assert [(a.url, a.status, a.next_check_at, a.section) for a in rows] == [
        (url(1), ArticleStatus.PENDING, T0, "news"),
        (url(2), ArticleStatus.PENDING, T0, "news"),
    ]


def test_the_same_url_discovered_twice_is_one_article(engine: Engine) -> None:
    add(engine, url(1))
    add(engine, url(1), url(1))
    with session(engine) as db:
        assert len(db.exec(select(Article)).all()) == 1


def test_an_alias_finds_its_article(engine: Engine) -> None:
    add(engine, url(1))
    with session(engine) as db:
        article = find_article(db, url(1))
        assert article is not None
        add_alias(db, f"{SITE}/?p=42", article.id or 0)
    with session(engine) as db:
        found = find_article(db, f"{SITE}/?p=42")
        assert found is not None and found.url == url(1)


def test_a_newer_lastmod_pulls_a_known_article_forward(engine: Engine) -> None:
    add(engine, url(1), lastmod=T0)
    with session(engine) as db:
        article = find_article(db, url(1))
        assert article is not None
        article.next_check_at = T0 + timedelta(days=7)
        article.last_checked = T0
        db.add(article)
    later = T0 + timedelta(hours=1)
    add(engine, url(1), lastmod=later, now=later)
    with session(engine) as db:
        article = find_article(db, url(1))
        assert article is not None and article.next_check_at == later


def test_an_older_lastmod_leaves_the_schedule_alone(engine: Engine) -> None:
    add(engine, url(1), lastmod=T0)
    with session(engine) as db:
        article = find_article(db, url(1))
        assert article is not None
        article.next_check_at = T0 + timedelta(days=7)
        db.add(article)
    add(engine, url(1), lastmod=T0 - timedelta(days=1), now=T0 + timedelta(hours=1))
    with session(engine) as db:
        article = find_article(db, url(1))
        assert article is not None and article.next_check_at == T0 + timedelta(days=7)


def test_claims_take_the_most_overdue_first_and_respect_the_limit(engine: Engine) -> None:
    for n in (1, 2, 3):
        add(engine, url(n), now=T0 - timedelta(minutes=n))
    claims = claim_due(engine, "w1", 2, 300, now=T0)
    assert [c.url for c in claims] == [url(3), url(2)]


def test_a_claimed_article_is_not_claimed_again_while_the_lease_holds(engine: Engine) -> None:
    add(engine, url(1))
    assert [c.url for c in claim_due(engine, "w1", 10, 300, now=T0)] == [url(1)]
    assert claim_due(engine, "w2", 10, 300, now=T0 + timedelta(seconds=299)) == []


def test_an_expired_lease_is_retaken_by_another_worker(engine: Engine) -> None:
    add(engine, url(1))
    claim_due(engine, "w1", 10, 300, now=T0)  # w1 is killed mid-fetch
    claims = claim_due(engine, "w2", 10, 300, now=T0 + timedelta(seconds=301))
    assert [(c.url, c.owner) for c in claims] == [(url(1), "w2")]


def test_articles_not_yet_due_are_not_claimed(engine: Engine) -> None:
    add(engine, url(1), now=T0 + timedelta(minutes=5))
    assert claim_due(engine, "w1", 10, 300, now=T0) == []


def test_released_claims_can_be_taken_at_once(engine: Engine) -> None:
    add(engine, url(1))
    claim_due(engine, "w1", 10, 300, now=T0)
    assert release_claims(engine, "w1") == 1
    assert [c.owner for c in claim_due(engine, "w2", 10, 300, now=T0)] == ["w2"]


def test_claiming_one_article_out_of_turn_fails_while_another_worker_holds_it(
    engine: Engine,
) -> None:
    add(engine, url(1))
    claim_due(engine, "daemon", 10, 300, now=T0)
    with session(engine) as db:
        article_id = find_article(db, url(1)).id  # type: ignore[union-attr]
    held = claim_article(engine, article_id or 0, "cli", 300, now=T0)
    assert held == Held("daemon", T0 + timedelta(seconds=300))
    later = claim_article(engine, article_id or 0, "cli", 300, now=T0 + timedelta(seconds=301))
    assert isinstance(later, Claim) and later.owner == "cli"


def test_a_named_lease_has_one_holder_until_it_expires(engine: Engine) -> None:
    assert acquire_lease(engine, "discovery", "w1", 60, now=T0)
    assert not acquire_lease(engine, "discovery", "w2", 60, now=T0 + timedelta(seconds=59))
    assert acquire_lease(engine, "discovery", "w1", 60, now=T0 + timedelta(seconds=59))
    assert acquire_lease(engine, "discovery", "w2", 60, now=T0 + timedelta(seconds=120))


def test_a_job_lease_with_min_interval_runs_once_per_interval(engine: Engine) -> None:
    assert acquire_lease(engine, "discovery", "w1", 60, min_interval=600, now=T0)
    release_lease(engine, "discovery", "w1", ran=True, now=T0)
    later = T0 + timedelta(seconds=300)
    assert not acquire_lease(engine, "discovery", "w2", 60, min_interval=600, now=later)
    much_later = T0 + timedelta(seconds=601)
    assert acquire_lease(engine, "discovery", "w2", 60, min_interval=600, now=much_later)
    with session(engine) as db:
        lease = db.get(Lease, "discovery")
        assert lease is not None and lease.owner == "w2" and lease.last_run_at == T0


def test_rate_slots_are_spaced_by_the_interval_across_callers(engine: Engine) -> None:
    slots = [reserve_slot(engine, "site", 0.5, now=1000.0).at for _ in range(4)]
    assert slots == [1000.0, 1000.5, 1001.0, 1001.5]


def test_a_rate_slot_after_an_idle_period_starts_now(engine: Engine) -> None:
    reserve_slot(engine, "site", 1.0, now=1000.0)
    assert reserve_slot(engine, "site", 1.0, now=2000.0).at == 2000.0


def test_a_site_wide_retry_after_blocks_every_reservation_without_using_slots(
    engine: Engine,
) -> None:
    assert block_host(engine, "site", 1120.0, "HTTP 503 on /feed/") == 1120.0
    assert block_host(engine, "site", 1060.0, "HTTP 429 on /a/") == 1120.0  # never shortened
    blocked = reserve_slot(engine, "site", 1.0, now=1000.0)
    assert blocked.blocked(1000.0) and blocked.blocked_until == 1120.0
    assert blocked.blocked_reason == "HTTP 503 on /feed/"
    assert reserve_slot(engine, "site", 1.0, now=1119.0).blocked_until == 1120.0
    after = reserve_slot(engine, "site", 1.0, now=1121.0)
    assert not after.blocked(1121.0) and after.at == 1121.0  # no slot was used meanwhile
    assert reserve_slot(engine, "site", 1.0, now=1121.0).at == 1122.0
