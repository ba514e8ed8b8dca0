"""The coordination primitives under real concurrency, on PostgreSQL and SQLite.

Threads stand in for worker processes here (each runs its own transactions on its own pooled
connection): claims never overlap, a renewed lease is only kept by its owner, one worker wins a
named lease per interval, rate-limit slots are never handed out twice, a dead daemon's SQLite
lock is taken over by exactly one successor. ``test_workers.py`` runs the real processes.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import Engine, update
from sqlmodel import col, select

from monitor.daemon import Daemon
from monitor.db import engine_for, session, upgrade
from monitor.fetch import Fetcher
from monitor.models import Article, Lease
from monitor.runtime import make_context
from monitor.settings import load_settings
from monitor.store import (
    acquire_lease,
    add_candidates,
    claim_due,
    owner_is_dead,
    release_lease,
    renew_claim,
    reserve_slot,
    take_over_lease,
    worker_name,
)
from scrapers.article import Candidate
from tests.dbs import pg_schema_url, sqlite_url
from tests.support.replay import ReplaySite

T0 = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
SITE = "https://cphpost.dk"
T = TypeVar("T")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield sqlite_url(tmp_path)
    else:
        with pg_schema_url() as url:
            yield url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    upgrade(db_url)
    engine = engine_for(db_url)
    yield engine
    engine.dispose()


def _articles(engine: Engine, n: int, now: datetime = T0) -> list[str]:
    urls = [f"{SITE}/2025-05-{1 + i % 28:02d}/news/story-{i}/" for i in range(n)]
    with session(engine) as db:
        result = add_candidates(db, [Candidate(url, "sitemap") for url in urls], now)
    assert result.new == n
    return urls


def _race(n: int, work: Callable[[int], T]) -> list[T]:
    """Run ``work(i)`` in ``n`` threads released together; their results in thread order."""
    barrier = threading.Barrier(n)
    results: list[T | None] = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[i] = work(i)
        except BaseException as exc:  # re-raised below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return [r for r in results if r is not None]


def test_new_articles_are_counted_on_every_database(engine: Engine) -> None:
    """psycopg 3 reports rowcount -1 for INSERT … ON CONFLICT: discovery crashed on it."""
    _articles(engine, 3)
    with session(engine) as db:
        again = add_candidates(db, [Candidate(f"{SITE}/2025-05-01/news/story-0/", "feed")], T0)
    assert again.new == 0


def test_racing_workers_claim_every_due_article_exactly_once(engine: Engine) -> None:
    urls = _articles(engine, 120)
    now = T0 + timedelta(seconds=1)
    # Every worker claims once before any claims again, whatever the scheduler does: 6 × 7 is
    # less than 120, so each first claim finds due articles, and the claims after it race
    # against the others' for a shared, shrinking rest.
    first_claims = threading.Barrier(6)

    def worker(i: int) -> list[str]:
        mine: list[str] = []
        for attempt in range(100):  # bounded: 120 articles, 7 a claim, 6 workers
            claims = claim_due(engine, f"w{i}", 7, lease_seconds=60, now=now)
            if attempt == 0:
                first_claims.wait(timeout=30)
            if not claims:
                return mine
            mine.extend(c.url for c in claims)
        raise AssertionError("claims never ran out")

    claimed = _race(6, worker)
    everything = [url for mine in claimed for url in mine]
    assert sorted(everything) == sorted(urls)  # all of them, none twice
    assert len(claimed) == 6 and all(claimed)  # the work was actually shared, by all of them


def test_a_lease_renewed_at_fetch_time_is_kept_only_by_its_owner(engine: Engine) -> None:
    _articles(engine, 4)
    first = claim_due(engine, "a", 2, lease_seconds=10, now=T0)
    # a's first claim waited its turn past the lease, and b took it meanwhile
    taken = claim_due(engine, "b", 1, lease_seconds=10, now=T0 + timedelta(seconds=11))
    assert [c.id for c in taken] == [first[0].id]
    assert not renew_claim(engine, first[0], 10, now=T0 + timedelta(seconds=12))
    # a's second claim also ran out, but nobody took it: still a's, and now leased again
    assert renew_claim(engine, first[1], 10, now=T0 + timedelta(seconds=12))
    later = claim_due(engine, "c", 10, lease_seconds=10, now=T0 + timedelta(seconds=20))
    assert first[1].id not in {c.id for c in later}  # renewed until T0 + 22 s


def test_one_worker_runs_a_singleton_job_per_interval(engine: Engine) -> None:
    def attempt(at: datetime) -> list[bool]:
        return _race(
            8, lambda i: acquire_lease(engine, "discovery", f"w{i}", 60, min_interval=10, now=at)
        )

    won = attempt(T0)
    assert won.count(True) == 1
    winner = f"w{won.index(True)}"
    release_lease(engine, "discovery", winner, ran=True, now=T0 + timedelta(seconds=2))
    assert attempt(T0 + timedelta(seconds=8)).count(True) == 0  # ran 6 s ago: skip it
    assert attempt(T0 + timedelta(seconds=12.5)).count(True) == 1


def test_racing_workers_never_get_the_same_rate_limit_slot(engine: Engine) -> None:
    interval = 0.05
    slots = _race(
        8, lambda i: [reserve_slot(engine, "site", interval, 1000.0).at for _ in range(25)]
    )
    ordered = sorted(s for mine in slots for s in mine)
    assert len(ordered) == 200
    gaps = [b - a for a, b in itertools.pairwise(ordered)]
    assert min(gaps) == pytest.approx(interval)  # 200 distinct slots, one interval apart
    assert ordered[-1] == pytest.approx(1000.0 + 199 * interval)


def test_a_dead_holder_is_recognised_and_taken_over_by_one_successor(engine: Engine) -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(timeout=10)
    dead = f"{worker_name().rpartition(':')[0]}:{child.pid}"
    assert owner_is_dead(dead)
    assert not owner_is_dead(worker_name())  # ourselves
    assert not owner_is_dead(f"{worker_name().rpartition(':')[0]}:{os.getppid()}")  # alive
    assert not owner_is_dead(f"elsewhere.example:{child.pid}")  # another host: can't tell
    assert acquire_lease(engine, "daemon", dead, 30, now=T0)
    won = _race(4, lambda i: take_over_lease(engine, "daemon", dead, f"heir{i}", 30, now=T0))
    assert won.count(True) == 1


def test_a_claim_retaken_while_waiting_for_its_slot_is_dropped_before_any_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, replay_site: ReplaySite
) -> None:
    for name in list(os.environ):
        if name.startswith("CPHMON_"):
            monkeypatch.delenv(name)
    url = sqlite_url(tmp_path)
    upgrade(url)
    settings = load_settings(
        site_url=replay_site.origin, database_url=url, data_dir=tmp_path, rate_limit=0
    )
    daemon = Daemon(settings)
    path = replay_site.paths("article")[0]
    with session(daemon.engine) as db:
        add_candidates(db, [Candidate(replay_site.url(path), "feed")], T0)
    [claim] = claim_due(daemon.engine, daemon.owner, 1, lease_seconds=60)
    with session(daemon.engine) as db:  # another worker took it after our lease ran out
        db.execute(update(Article).values(lease_owner="other:1"))

    async def go() -> str:
        daemon.ctx = make_context(settings, daemon.engine, daemon.owner)
        try:
            report = await daemon.check_claim(claim, asyncio.Semaphore(1))
        finally:
            await daemon.ctx.fetcher.aclose()
        return report.outcome

    assert asyncio.run(go()) == "lease_lost"
    assert replay_site.count(path) == 0
    with session(daemon.engine) as db:
        assert db.exec(select(Article.lease_owner)).one() == "other:1"
        assert db.exec(select(col(Lease.name))).all() == []
    daemon.engine.dispose()


def test_concurrent_first_requests_read_robots_txt_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, replay_site: ReplaySite
) -> None:
    """At start every job asks at once (discovery, sitemap, each check of the first batch):
    one robots.txt request per worker, not one per job (3 workers made up to 12)."""
    for name in list(os.environ):
        if name.startswith("CPHMON_"):
            monkeypatch.delenv(name)
    settings = load_settings(site_url=replay_site.origin, data_dir=tmp_path, rate_limit=0)
    paths = replay_site.paths("article")[:4]

    async def go() -> list[bool]:
        async with Fetcher(settings) as fetcher:
            return await asyncio.gather(*(fetcher.allowed(replay_site.url(p)) for p in paths))

    assert asyncio.run(go()) == [True] * len(paths)
    assert replay_site.count("/robots.txt") == 1
