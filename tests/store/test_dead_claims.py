"""A claim whose owner was killed (``kill -9``, the OOM killer) does not block the article.

A ``check`` killed mid-fetch leaves its claim behind. The next ``check`` of that article takes
the claim over at once when its owner is provably dead (a process of this host that is gone, or
a zombie not reaped yet), on SQLite and on PostgreSQL; a live owner, or one on another host
(only its lease can tell), keeps it, and the refusal names the owner and when its lease ends.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from monitor.db import session
from monitor.models import Article
from monitor.store import Claim, Held, add_candidates, claim_article, find_article, worker_name
from scrapers.article import Candidate
from tests.dbs import pg_schema_url
from tests.e2e.harness import Monitor, wait_until
from tests.support.replay import ReplaySite

ARTICLE = "/2015-05-21/news/denmark-oversaw-600-forced-repatriations-last-year/"
T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
SITE = "http://127.0.0.1:8123"
HOST = worker_name().rpartition(":")[0]


def tracked(engine: Engine, url: str = f"{SITE}/2026-11-01/news/a/") -> int:
    with session(engine) as db:
        add_candidates(db, [Candidate(url, "feed")], T0)
        article = find_article(db, url)
        assert article is not None and article.id is not None
        return article.id


def hold(engine: Engine, article_id: int, owner: str, until: datetime) -> None:
    with session(engine) as db:
        article = db.get(Article, article_id)
        assert article is not None
        article.lease_owner, article.lease_expires = owner, until
        db.add(article)


@pytest.fixture
def child() -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen([sys.executable, "-c", "import signal; signal.pause()"])
    yield proc
    proc.kill()
    proc.wait()


def test_a_claim_of_a_process_that_is_gone_is_taken_over_at_once(engine: Engine) -> None:
    article_id = tracked(engine)
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    hold(engine, article_id, f"{HOST}:{gone}", T0 + timedelta(seconds=300))
    claim = claim_article(engine, article_id, "cli", 300, now=T0)
    assert isinstance(claim, Claim) and claim.owner == "cli"


def test_a_claim_of_a_killed_process_not_yet_reaped_is_taken_over_at_once(
    engine: Engine, child: subprocess.Popen[bytes]
) -> None:
    article_id = tracked(engine)
    hold(engine, article_id, f"{HOST}:{child.pid}", T0 + timedelta(seconds=300))
    assert isinstance(claim_article(engine, article_id, "cli", 300, now=T0), Held)  # alive
    child.kill()  # a zombie until child.wait(): dead all the same
    wait_until(
        "the child to die",
        lambda: Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] == "Z",
    )
    claim = claim_article(engine, article_id, "cli", 300, now=T0)
    assert isinstance(claim, Claim) and claim.owner == "cli"


def test_a_claim_of_another_host_is_held_until_its_lease_expires(engine: Engine) -> None:
    article_id = tracked(engine)
    until = T0 + timedelta(seconds=30)
    hold(engine, article_id, "elsewhere.example:4242", until)
    held = claim_article(engine, article_id, "cli", 300, now=T0)
    assert held == Held("elsewhere.example:4242", until)
    assert held.until == "2026-11-25T12:00:30+00:00"
    later = claim_article(engine, article_id, "cli", 300, now=until + timedelta(seconds=1))
    assert isinstance(later, Claim) and later.owner == "cli"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def monitor(
    request: pytest.FixtureRequest, tmp_path: Path, replay_site: ReplaySite
) -> Iterator[Monitor]:
    with contextlib.ExitStack() as stack:
        url = None if request.param == "sqlite" else stack.enter_context(pg_schema_url())
        mon = Monitor(tmp_path, replay_site.origin, url, lease_seconds=300)
        mon.env["COLUMNS"] = "1000"  # lines as printed, not wrapped to a terminal's width
        stack.callback(mon.close)
        mon.upgrade()
        yield mon


def test_a_check_killed_mid_fetch_does_not_block_the_next_check(
    monitor: Monitor, replay_site: ReplaySite
) -> None:
    replay_site.fault(ARTICLE, "delay", seconds=60)
    url = replay_site.url(ARTICLE)
    killed = subprocess.Popen(
        [sys.executable, "-m", "monitor", "check", url],
        env=monitor.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until("the check's fetch", lambda: replay_site.count(ARTICLE), timeout=60)
        killed.kill()
        killed.wait()
    finally:
        if killed.poll() is None:
            killed.kill()
            killed.wait()
    replay_site.clear_faults()
    again = monitor.cli("check", url, timeout=60)
    assert again.returncode == 0, again.stderr
    assert f"{url}: new" in again.stdout
    assert monitor.article(url).lease_owner is None


def test_a_check_of_an_article_another_host_holds_names_it_and_its_lease(
    monitor: Monitor, replay_site: ReplaySite
) -> None:
    url = replay_site.url(ARTICLE)
    until = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=120)
    with monitor.db() as db:
        add_candidates(db, [Candidate(url, "feed")], T0)
        db.commit()
        article = find_article(db, url)
        assert article is not None
        article.lease_owner, article.lease_expires = "elsewhere.example:4242", until
        db.add(article)
        db.commit()
    refused = monitor.cli("check", url, timeout=60)
    assert refused.returncode == 2
    assert "elsewhere.example:4242 is checking this article" in refused.stderr
    assert f"lease until {until.isoformat(timespec='seconds')}" in refused.stderr
    assert replay_site.count(ARTICLE) == 0
