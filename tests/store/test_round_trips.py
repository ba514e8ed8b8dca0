"""Database round trips of one unchanged (304) re-check, counted at the engine (issue 20).

A real check of a real article against the local replay site, through the daemon's own path
(``Daemon.check_claim``: renewal if due, rate-limit slot, fetch, record), on SQLite and
PostgreSQL, with the shared rate limit off and on. The counts are exact: a statement more in
the path of the commonest check of an idle archive fails here.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, update
from sqlmodel import select

import monitor.templates
from monitor.daemon import Daemon
from monitor.db import session
from monitor.models import Article, FetchLog
from monitor.outcome import Outcome, Report
from monitor.runtime import make_context
from monitor.settings import load_settings
from monitor.store import add_candidates, claim_due, utcnow
from scrapers.article import Candidate
from tests.support.replay import ReplaySite
from tests.support.round_trips import RoundTrips

ARTICLES = 2
LEASE = 300.0


def recheck_twice(daemon: Daemon, engine: Engine, trips: RoundTrips, lease: float) -> list[Report]:
    """Check every article (200s), make both due, claim them for ``lease`` seconds and check
    them again (304s); ``trips`` counts the second re-check alone (the first warms robots.txt,
    the template view, the pool)."""

    async def go() -> list[Report]:
        daemon.stopping = asyncio.Event()
        daemon.ctx = make_context(daemon.settings, engine, daemon.owner)
        slots = asyncio.Semaphore(1)
        try:
            first = claim_due(engine, daemon.owner, ARTICLES, 300)
            loaded = [await daemon.check_claim(c, slots) for c in first]
            with session(engine) as db:
                db.execute(update(Article).values(next_check_at=utcnow() - timedelta(seconds=1)))
            warm, measured = claim_due(engine, daemon.owner, ARTICLES, lease)
            reports = [*loaded, await daemon.check_claim(warm, slots)]
            with trips:
                reports.append(await daemon.check_claim(measured, slots))
            return reports
        finally:
            await daemon.ctx.fetcher.aclose()

    return asyncio.run(go())


@pytest.mark.parametrize(
    ("rate_limit", "lease", "sqlite", "postgres"),
    [
        # a claim just taken, no renewal. The record: SQLite BEGIN IMMEDIATE, UPDATE article …
        # RETURNING, INSERT fetch_log, COMMIT; PostgreSQL pre-ping, one autocommitted
        # WITH (UPDATE article … RETURNING) INSERT INTO fetch_log
        (0, LEASE, 4, 2),
        # a claim that has run for a while (a third of its lease): renewed first, one
        # autocommitted UPDATE (+ pre-ping)
        (0, LEASE * 2 / 3, 5, 4),
        # the shared rate limit: the renewal and the slot, on PostgreSQL one autocommitted
        # WITH (UPDATE article) UPDATE rate_limit … RETURNING (+ pre-ping), on SQLite two
        # autocommitted UPDATEs
        (1000, LEASE, 6, 4),
    ],
    ids=["rate-limit-off", "rate-limit-off-renewed", "shared-rate-limit"],
)
def test_a_304_recheck_costs_an_exact_number_of_round_trips(
    rate_limit: float,
    lease: float,
    sqlite: int,
    postgres: int,
    db_url: str,
    engine: Engine,
    replay_site: ReplaySite,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the template view is re-read every 2 s; read once here, so a slow machine counts the same
    monkeypatch.setattr(monitor.templates, "CACHE_SECONDS", 3600.0)
    settings = load_settings(
        site_url=replay_site.origin,
        data_dir=tmp_path,
        database_url=db_url,
        rate_limit=rate_limit,
        recheck_schedule="*:7d",
        lease_seconds=LEASE,
    )
    paths = replay_site.paths("article")[:ARTICLES]
    with session(engine) as db:
        add_candidates(db, [Candidate(replay_site.url(p), "test") for p in paths], utcnow())
    daemon = Daemon(settings)
    daemon.engine = engine
    trips = RoundTrips(engine)

    reports = recheck_twice(daemon, engine, trips, lease)

    assert [r.outcome for r in reports] == [Outcome.NEW, Outcome.NEW] + [Outcome.NOT_MODIFIED] * 2
    assert trips.total == (sqlite if engine.dialect.name == "sqlite" else postgres), trips.kinds
    with session(engine) as db:
        articles = db.exec(select(Article)).all()
        logged = db.exec(select(FetchLog.outcome).order_by(FetchLog.id)).all()  # type: ignore[arg-type]
    assert [(a.lease_owner, a.lease_expires, a.fail_count) for a in articles] == [
        (None, None, 0)
    ] * 2
    assert all(
        a.next_check_at.replace(tzinfo=None) > utcnow().replace(tzinfo=None) for a in articles
    )
    assert logged == ["new", "new", "not_modified", "not_modified"]
