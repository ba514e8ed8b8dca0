"""Retention: versions are kept forever, the fetch log is pruned by age, SQLite reuses the space.

``monitor.daemon.prune`` (the daemon's hourly housekeeping) runs in-process here on a real
SQLite store; ``cphpost-monitor db stats`` is run as a user runs it, on SQLite and PostgreSQL.
No raw HTML is stored (a version holds the extracted article), so there is nothing else to prune.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, insert, text
from sqlmodel import select

from monitor.daemon import prune
from monitor.db import make_engine, session, upgrade
from monitor.models import Article, FetchLog, Version
from monitor.settings import Settings, load_settings
from tests.dbs import pg_schema_url, sqlite_url
from tests.e2e.harness import Monitor, wait_until
from tests.e2e.test_faults_common import installation
from tests.support import pages
from tests.support.replay import XML, ReplaySite

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    url = sqlite_url(tmp_path)
    upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


def settings(tmp_path: Path, **values: object) -> Settings:
    return load_settings(data_dir=tmp_path, **values)


def add_fetch_log(engine: Engine, ages: list[timedelta], error: str | None = None) -> None:
    rows = [
        {
            "at": NOW - age,
            "url": f"https://cphpost.dk/2025-01-01/news/a-{n}/",
            "status": 200,
            "outcome": "not_modified",
            "elapsed_ms": 12,
            "error": error,
            "worker": "w",
        }
        for n, age in enumerate(ages)
    ]
    with session(engine) as db:
        db.execute(insert(FetchLog), rows)


def add_article_with_versions(engine: Engine, n: int) -> None:
    """One article with ``n`` versions, the first a year old: the product, never pruned."""
    with session(engine) as db:
        article = Article(
            url="https://cphpost.dk/2025-01-01/news/kept/",
            first_seen=NOW - timedelta(days=365),
            next_check_at=NOW,
        )
        db.add(article)
        db.flush()
        for seq in range(1, n + 1):
            db.add(
                Version(
                    article_id=article.id or 0,
                    seq=seq,
                    fingerprint=f"fp{seq}",
                    fetched_at=NOW - timedelta(days=365 - seq),
                    title=f"v{seq}",
                    data={},
                    classification={},
                )
            )


def count(engine: Engine, model: type) -> int:
    with session(engine) as db:
        return int(db.exec(select(func.count()).select_from(model)).one())


def pragma(engine: Engine, name: str) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text(f"PRAGMA {name}")).scalar() or 0)


def test_prune_drops_fetch_log_rows_older_than_fetch_log_days_and_keeps_versions(
    engine: Engine, tmp_path: Path
) -> None:
    add_fetch_log(engine, [timedelta(days=d, hours=1) for d in range(60)])  # one row a day
    add_article_with_versions(engine, 3)
    pruned = prune(engine, settings(tmp_path, fetch_log_days=30), now=NOW)
    assert pruned == 30  # days 30..59 are older than 30 days
    with session(engine) as db:
        oldest = db.exec(select(func.min(FetchLog.at))).one()
    assert oldest is not None and NOW - oldest.replace(tzinfo=UTC) < timedelta(days=30)
    assert count(engine, FetchLog) == 30
    assert count(engine, Version) == 3  # versions are the product: kept forever
    assert prune(engine, settings(tmp_path, fetch_log_days=30), now=NOW) == 0  # idempotent


def test_fetch_log_days_zero_keeps_the_fetch_log_forever(engine: Engine, tmp_path: Path) -> None:
    add_fetch_log(engine, [timedelta(days=400)] * 5)
    assert prune(engine, settings(tmp_path, fetch_log_days=0), now=NOW) == 0
    assert count(engine, FetchLog) == 5


def test_space_freed_by_pruning_is_reused_without_a_vacuum(engine: Engine, tmp_path: Path) -> None:
    """Steady state: the file stops growing once pruning frees as much as new rows need."""
    batch = [timedelta(days=40)] * 4000
    error = "network error: ConnectError: All connection attempts failed " * 4
    add_fetch_log(engine, batch, error)
    full = pragma(engine, "page_count")
    assert prune(engine, settings(tmp_path, fetch_log_days=30), now=NOW) == 4000
    assert pragma(engine, "freelist_count") > full // 2  # free pages, kept in the file
    for _ in range(3):  # three more months of the same traffic, pruned each time
        add_fetch_log(engine, batch, error)
        prune(engine, settings(tmp_path, fetch_log_days=30), now=NOW)
    assert pragma(engine, "page_count") <= full * 1.1


def test_housekeeping_prunes_at_daemon_start(monitor: Monitor, replay_site: ReplaySite) -> None:
    monitor.set(fetch_log_days=1, feeds="/feed/")
    add_fetch_log(monitor.engine, [timedelta(days=900)] * 3)  # long before today
    daemon = monitor.start()
    wait_until("housekeeping", lambda: "pruned 3 fetch-log rows" in monitor.log())
    assert monitor.stop(daemon) == 0
    with session(monitor.engine) as db:
        kept = [r.at.replace(tzinfo=UTC) for r in db.exec(select(FetchLog))]
    assert all(datetime.now(UTC) - at < timedelta(days=1) for at in kept)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def either_store(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    replay_site: ReplaySite,
) -> Iterator[Monitor]:
    if request.param == "sqlite":  # a copy of the session's migrated schema
        fresh = installation(tmp_path, tmp_path_factory, replay_site, ran=False)
        yield fresh
        fresh.close()
        return
    with pg_schema_url() as url:
        fresh = installation(tmp_path, tmp_path_factory, replay_site, database_url=url)
        yield fresh
        fresh.close()


def test_db_stats_shows_counts_and_the_sizes_of_versions_and_the_fetch_log(
    either_store: Monitor, replay_site: ReplaySite
) -> None:
    monitor = either_store
    article = replay_site.paths("article")[0]
    when = datetime(2025, 1, 1, tzinfo=UTC)
    replay_site.set_page("/ops/post-sitemap.xml", pages.urlset([(article, when)]), content_type=XML)
    replay_site.set_page(
        "/ops/sitemap_index.xml",
        pages.sitemap_index([("/ops/post-sitemap.xml", when)]),
        content_type=XML,
    )
    monitor.set(feeds="/tag/asylum/feed/", sitemap_path="/ops/sitemap_index.xml")  # a few
    monitor.run_once()
    articles = monitor.articles()
    result = monitor.cli("db", "stats", "--json", check=True)
    stats = json.loads(result.stdout)
    assert stats["tables"]["article"] == len(articles)
    assert stats["tables"]["version"] == sum(a.version_count for a in articles) > 0
    assert stats["tables"]["fetchlog"] >= len(articles)
    assert stats["table_bytes"]["version"] > 0 and stats["table_bytes"]["fetchlog"] > 0
    assert stats["bytes"] >= stats["table_bytes"]["version"]
    assert stats["free_bytes"] >= 0
    shown = monitor.cli("db", "stats", check=True).stdout
    for name in ("version", "fetchlog", "article"):
        assert name in shown
    assert "MiB" in shown and "size:" in shown
