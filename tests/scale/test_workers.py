"""Several ``cphpost-monitor run`` processes on one database, as ``--scale worker=3`` runs them.

One scenario, on PostgreSQL with three workers and on SQLite with the single worker it allows:
a synthetic site of 300 articles is loaded, then the workers re-check all of it at a shared
rate limit (a permanent backlog: one pass takes longer than the re-check interval) while the
test edits articles, publishes a new one and SIGKILLs a worker in the middle of a fetch. What
must hold, whatever the number of workers:

* every change is alerted exactly once: one alert per story, one webhook request per alert,
  each delivery sent on its first attempt; edits not about migration are stored, not alerted;
* no article is fetched twice in one due window (see :func:`_assert_one_fetch_per_window`);
* the site sees at most ``rate_limit`` requests in any second from all workers together (+1
  for a request on the window's edge; see :func:`_assert_within_rate_limit`), and the feeds
  are read once per poll interval, not once per worker;
* a killed worker loses nothing: its claims are retaken by another worker once their lease
  has expired (not before), and the edit it was fetching is alerted once. On SQLite the
  restarted daemon takes over the dead one's lock and claims at once.
"""

from __future__ import annotations

import bisect
import contextlib
import itertools
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import col, select

from monitor.models import Article, DeliveryStatus, FetchLog
from tests.dbs import pg_schema_url
from tests.e2e.harness import Monitor, more_rounds, wait_until
from tests.support.replay import LoggedRequest, ReplaySite, densest
from tests.support.sinks import WebhookSink
from tests.support.waiting import wait_for_more

pytestmark = pytest.mark.e2e

N_ARTICLES = 300
RATE_LIMIT = 10.0  # requests per second to the site, all workers together: ~30 s per pass
FETCH_CONCURRENCY = 2  # CPHMON_CONCURRENCY's default: fetches in flight per worker
RECHECK = 10.0  # every article is due again this long after its check ("*:10s")
JITTER = 0.1  # schedule.next_check spreads due times by ±10 %
LEASE = 4.0  # seconds a claim lasts; a killed worker's claims come back after this
TOLERANCE = 0.3  # seconds: the workers' wall clock vs the site's monotonic clock
FEEDS = "/feed/ /category/news/feed/"
POLL = 2.0  # the feeds are read every 2 s (by one of the workers)
SITEMAP = 5.0  # the newest sitemap every 5 s (the harness default)
WAVES = 3  # edits in three waves while the workers run, WAVE_GAP re-checks apart
WAVE_GAP = 20  # article requests seen at the site between two waves: 2 s at the rate limit
RELEVANT_PER_WAVE = 3
OTHER_PER_WAVE = 1
AHEAD = 8  # edit articles this far back in the queue of unclaimed due articles


@dataclass
class Setup:
    workers: int
    monitor: Monitor
    site: ReplaySite
    sink: WebhookSink


@pytest.fixture
def site() -> Iterator[ReplaySite]:
    with ReplaySite.synthetic(N_ARTICLES) as replay:
        yield replay


@pytest.fixture(
    params=[
        pytest.param(("postgres", 3), marks=pytest.mark.postgres, id="postgres-3-workers"),
        pytest.param(("sqlite", 1), id="sqlite-1-worker"),
    ]
)
def setup(
    request: pytest.FixtureRequest, tmp_path: Path, site: ReplaySite, webhook_sink: WebhookSink
) -> Iterator[Setup]:
    backend, workers = request.param
    # PostgreSQL: a schema of its own; SQLite: the harness's file in the data directory
    with pg_schema_url() if backend == "postgres" else contextlib.nullcontext(None) as url:
        monitor = Monitor(tmp_path, site.origin, database_url=url)
        try:
            yield Setup(workers, monitor, site, webhook_sink)
        finally:
            monitor.close()


def test_workers_share_the_work_alert_once_and_stay_within_the_rate_limit(setup: Setup) -> None:
    monitor, site, sink = setup.monitor, setup.site, setup.sink
    monitor.set(feeds=FEEDS, poll_interval=POLL, recheck_schedule=f"*:{RECHECK:g}s")
    monitor.upgrade()

    # Load the archive in one go, without a rate limit and without notifying anyone.
    monitor.run_once()
    tracked = {a.url: a for a in monitor.articles()}
    assert len(tracked) == N_ARTICLES, "the feeds and the newest sitemap list every article"
    assert {a.version_count for a in tracked.values()} == {1}
    relevant = {site.url(s.path) for s in site.articles if s.migration} & {
        url for url, a in tracked.items() if a.relevant
    }
    other = {url for url, a in tracked.items() if not a.relevant}
    assert len(relevant) > 3 * WAVES * RELEVANT_PER_WAVE
    loaded_requests = site.requests
    site.reset_log()
    alerts_before = {a.id for a in monitor.alerts()}

    monitor.set(
        rate_limit=RATE_LIMIT,
        lease_seconds=LEASE,
        notify_urls=sink.json_url(),
        read_timeout=3,
        total_timeout=3,
        max_retries=0,  # a fetch (3 s at most) always ends within its lease (4 s)
    )
    procs = [monitor.start(f"w{i}") for i in range(setup.workers)]
    offset = time.time() - time.monotonic()  # wall clock → the site's monotonic clock
    # A new article, for one worker to find in the feed: due at once, ahead of the re-checks
    # (the loaded articles fall due 10 s after their check), so it is not stuck behind them.
    added = site.add_article(
        "refugees-from-ukraine-get-longer-residence-permits",
        "Refugees from Ukraine get longer residence permits",
        [
            "Refugees from Ukraine in Denmark will have their residence permits extended by "
            "two years, the immigration minister said on Tuesday.",
            "About 40,000 refugees and asylum-seekers are affected.",
        ],
        tags=["refugees"],
    )
    site.wait_for("/20*", 1, timeout=60)  # the first re-check: the workers are up

    # The kill: hold the victim's fetch at the site, SIGKILL whichever worker sent it.
    victim = _upcoming(monitor, relevant)[0]
    fault = site.fault(_path(victim), "delay", times=1, seconds=20)
    site.edit(_path(victim), _edit(0))
    wait_until("the victim's fetch", lambda: fault.hits >= 1, every=0.02)
    owner = _lease_owner(monitor, victim)
    dead = next(p for p in procs if owner.endswith(f":{p.pid}"))
    monitor.kill(dead)
    killed_at = time.monotonic()
    orphans = _leases_of(monitor, owner)  # url -> lease expiry (epoch)
    assert victim in orphans
    if setup.workers == 1:  # SQLite: the restart takes over the dead daemon's lock at once,
        # and with it the claims nobody else could finish (the holder is known dead)
        procs.append(monitor.start("w0-restarted"))
        wait_until("the restart", lambda: "started" in monitor.log("w0-restarted"))
        taken_over = f"daemon {owner} is gone: taking over its SQLite lock, {len(orphans)} article"
        assert taken_over in monitor.log("w0-restarted")

    # Edits in waves while the workers run.
    edited_relevant: list[str] = []
    edited_other: list[str] = []
    for _wave in range(WAVES):
        chosen = {victim, *edited_relevant, *edited_other}
        for url in _upcoming(monitor, relevant - chosen)[:RELEVANT_PER_WAVE]:
            site.edit(_path(url), _edit(len(edited_relevant) + 1))
            edited_relevant.append(url)
        for url in _upcoming(monitor, other - chosen)[:OTHER_PER_WAVE]:
            site.edit(_path(url), _edit(100 + len(edited_other)))
            edited_other.append(url)
        wait_for_more(site, "/20*", WAVE_GAP)

    expected = 1 + len(edited_relevant) + 1  # the victim, the edits, the new article
    sink.wait_for(expected, timeout=120)
    # Keep going through most of a pass over the archive (claims contended all along): 200
    # re-checks in 120 s at most, a limiter that starved the workers would miss this deadline
    # (bench/scale.py measures throughput). Then leave room for a duplicate webhook request
    # to show up: more polls of the feeds, more delivery rounds.
    site.wait_for("/20*", 2 * N_ARTICLES // 3, timeout=120)
    more_rounds(site, 2)
    for proc in procs:  # SIGTERM to all first: they drain in parallel
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        if proc is not dead:
            assert proc.wait(timeout=15) == 0
    stopped_at = time.monotonic()

    # Exactly once: one alert per story, one delivery per alert, one webhook request each.
    new_alerts = [a for a in monitor.alerts() if a.id not in alerts_before]
    assert sorted(a.kind for a in new_alerts) == ["changed"] * (expected - 1) + ["new"]
    alerted = sorted(str(a.payload.get("url")) for a in new_alerts)
    assert alerted == sorted([victim, *edited_relevant, site.url(added.path)])
    hooks = sink.requests
    keys = {r.headers.get("x-idempotency-key") for r in hooks}
    assert len(hooks) == len(keys) == expected, [r.headers.get("x-idempotency-key") for r in hooks]
    assert all(r.status == 200 for r in hooks)
    deliveries = [d for d in monitor.deliveries() if d.alert_id not in alerts_before]
    assert [(d.status, d.attempts) for d in deliveries] == [(DeliveryStatus.SENT, 1)] * expected

    # Every edit stored as one new version, alerted or not; nothing else changed.
    edited = {victim, *edited_relevant, *edited_other}
    versions = {a.url: a.version_count for a in monitor.articles()}
    assert {url: versions[url] for url in edited} == dict.fromkeys(edited, 2)
    assert {n for url, n in versions.items() if url not in edited} == {1}

    # Politeness: one fetch per article per due window, the rate limit for all workers
    # together, the feeds and the sitemap read by one worker per interval (not by each).
    requests = site.requests
    _assert_one_fetch_per_window(loaded_requests + requests, set(orphans))
    _assert_within_rate_limit(requests, setup.workers)
    assert site.max_rate(1.0) <= RATE_LIMIT + 2, _densest_second(requests)
    ran_for = stopped_at - requests[0].time  # upper bounds only: a slow machine polls less
    assert 1 <= site.count("/feed/") <= ran_for / (0.8 * POLL) + 1
    assert 1 <= site.count("/sitemap_index.xml") <= ran_for / (0.8 * SITEMAP) + 1

    # The killed worker's claims were retaken by another worker: on PostgreSQL (the others
    # cannot know it is dead) only once their lease had expired; on SQLite by the restart.
    fetch_log = _fetch_log(monitor, since=killed_at + offset)
    for url, expires in orphans.items():
        later = [r.time for r in requests if site.url(r.path) == url and r.time > killed_at]
        assert later, f"{url} (claimed by the killed worker) was never checked again"
        if setup.workers > 1:
            retaken = min(later) >= expires - offset - TOLERANCE
            assert retaken, f"{url} retaken before its lease ended"
        assert any(w != owner for w in fetch_log.get(url, [])), f"{url} not recorded by another"
    assert not _leases_of(monitor, owner), "claims of the dead worker left behind"

    # The survivors shared the work after the kill.
    checks = [w for workers in fetch_log.values() for w in workers]
    assert owner not in checks
    assert len(set(checks)) == max(1, setup.workers - 1)
    assert min(checks.count(w) for w in set(checks)) >= 40


# Helpers ------------------------------------------------------------------------------------


def _path(url: str) -> str:
    return "/" + url.split("/", 3)[3]


def _edit(n: int) -> Callable[[str], str]:
    """A substantive edit: a new sentence (about nothing migration-related) in the body."""
    sentence = (
        f"<p>Editor’s note {n}: this story was updated on Friday with comments from the "
        f"council in Vejle and a new photo.</p>\n"
    )

    def transform(page: str) -> str:
        anchor = '<div class="entry-content">\n'
        assert anchor in page
        return page.replace(anchor, anchor + sentence, 1)

    return transform


def _upcoming(monitor: Monitor, among: set[str]) -> list[str]:
    """Articles of ``among`` a few places back in the queue of unclaimed due articles, in
    queue order: not being fetched now, and fetched within seconds from now."""
    with monitor.db() as db:
        queue = db.exec(
            select(Article.url)
            .where(col(Article.lease_owner).is_(None))
            .order_by(col(Article.next_check_at), col(Article.id))
        ).all()
    return [url for url in queue[AHEAD:] if url in among]


def _lease_owner(monitor: Monitor, url: str) -> str:
    owner = monitor.article(url).lease_owner
    assert owner, f"{url} is being fetched but has no lease"
    return owner


def _leases_of(monitor: Monitor, owner: str) -> dict[str, float]:
    with monitor.db() as db:
        rows = db.exec(
            select(Article.url, Article.lease_expires).where(col(Article.lease_owner) == owner)
        ).all()
    return {url: _epoch(expires) for url, expires in rows if expires is not None}


def _fetch_log(monitor: Monitor, since: float) -> dict[str, list[str]]:
    """The workers that recorded a check of each URL since ``since`` (epoch seconds)."""
    with monitor.db() as db:
        rows = db.exec(select(FetchLog.url, FetchLog.worker, FetchLog.at)).all()
    found: dict[str, list[str]] = {}
    for url, worker, at in rows:
        if _epoch(at) >= since:
            found.setdefault(url, []).append(worker)
    return found


def _epoch(when: datetime) -> float:
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def _densest_second(requests: list[LoggedRequest]) -> str:
    """The busiest second's arrivals (ms, relative; paths): to tell jitter from a burst."""
    ordered = sorted(requests, key=lambda r: r.time)
    times = [r.time for r in ordered]
    counts = [bisect.bisect_left(times, t + 1.0) - i for i, t in enumerate(times)]
    i = max(range(len(times)), key=counts.__getitem__)
    shown = [
        f"{round(1000 * (r.time - times[i]))} {r.path[:40]}"
        for r in ordered[max(0, i - 2) : i + counts[i] + 1]
    ]
    return (
        f"over the rate limit: {counts[i]} requests in one second, "
        f"{times[i] - times[0]:.1f} s in: {shown}"
    )


def _assert_within_rate_limit(requests: list[LoggedRequest], workers: int) -> None:
    """The shared limit holds as the site sees it: ``RATE_LIMIT`` per second, with room for
    the requests in flight, over a short and a long window.

    The limiter spaces reserved slots exactly 1/RATE_LIMIT apart (traced in the workers: every
    request left within 1-4 ms of its slot), but the site logs arrivals, and on two loaded cores
    a stalled worker or server thread can deliver the requests of several slots at once. At
    most one per fetch slot of every worker can be held back like that, so a window may hold
    that many more (+1: one on the window's edge). A limiter that failed open would send
    ``workers`` times the rate, which the 5 s window shows far beyond that allowance.
    """
    in_flight = workers * FETCH_CONCURRENCY
    times = [r.time for r in requests]
    for window in (1.0, 5.0):
        allowed = RATE_LIMIT * window + 1 + in_flight
        assert densest(times, window) <= allowed, _densest_second(requests)


def _assert_one_fetch_per_window(requests: list[LoggedRequest], orphans: set[str]) -> None:
    """No article is fetched twice within one due window.

    A check stamps ``next_check_at = t_record + RECHECK × (1 ± JITTER)`` in the transaction
    that records the fetch, and ``t_record`` comes after the response; no worker can claim the
    article before ``next_check_at``, and its next request leaves after that claim. So two
    requests for one article are at least ``RECHECK × (1 - JITTER)`` apart (9 s here), less a
    small tolerance for the two clocks involved (the workers' wall clock stamps due times, the
    site logs arrivals on its monotonic clock). A closer pair means two workers held the
    article at once, or one fetched it twice: duplicate load on the site.

    The exception is a killed worker's claims: its fetch was never recorded, so the article is
    still due and is retaken once the lease expires (checked separately, against the lease).
    """
    bound = RECHECK * (1 - JITTER) - TOLERANCE
    times: dict[str, list[float]] = {}
    for r in requests:
        if r.path.count("/") == 4 and r.path[1:5].isdigit():  # /YYYY-MM-DD/section/slug/
            times.setdefault(r.path, []).append(r.time)
    too_close = {
        path: [round(b - a, 2) for a, b in itertools.pairwise(ts) if b - a < bound]
        for path, ts in times.items()
        if not any(o.endswith(path) for o in orphans)
    }
    too_close = {path: gaps for path, gaps in too_close.items() if gaps}
    assert not too_close, f"fetched twice within {bound:.1f} s: {too_close}"
