"""Planning inserts the candidates of a batch as one statement with the rows as parameters; the
count of new articles is the rows it really inserted, also when another process inserted some
of the URLs first (ON CONFLICT DO NOTHING)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import col, select

import monitor.store as store
from monitor.db import make_engine, session
from monitor.models import Article, ArticleStatus
from monitor.store import add_candidates
from scrapers.article import Candidate
from tests.backfill.conftest import migrate
from tests.dbs import pg_schema_url, sqlite_url

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
SITE = "https://cphpost.dk"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = sqlite_url(tmp_path)
        migrate(url)
        engine = make_engine(url)
        yield engine
        engine.dispose()
    else:
        with pg_schema_url() as url:
            migrate(url)
            engine = make_engine(url)
            yield engine
            engine.dispose()


def candidates(numbers: range) -> list[Candidate]:
    return [
        Candidate(f"{SITE}/2020-01-{n % 28 + 1:02d}/news/story-{n}/", "sitemap", lastmod=NOW)
        for n in numbers
    ]


def test_a_batch_of_candidates_becomes_pending_articles(engine: Engine) -> None:
    with session(engine) as db:
        assert add_candidates(db, candidates(range(250)), NOW).new == 250
    with session(engine) as db:
        rows = db.exec(select(Article).order_by(col(Article.id))).all()
    assert len(rows) == 250
    first = rows[0]
    assert (first.url, first.section, first.status, first.discovered_via) == (
        f"{SITE}/2020-01-01/news/story-0/",
        "news",
        ArticleStatus.PENDING,
        "sitemap",
    )
    assert (first.topics, first.version_count, first.relevant, first.fail_count) == (
        [],
        0,
        False,
        0,
    )
    assert first.next_check_at is not None and first.lastmod_hint is not None


def test_urls_another_process_inserted_first_are_not_counted(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    with session(engine) as db:
        add_candidates(db, candidates(range(0, 100, 2)), NOW)  # the even ones exist
    # as if they had been inserted after this transaction looked for known URLs
    monkeypatch.setattr(store, "known_articles", lambda db, urls: {})
    with session(engine) as db:
        result = add_candidates(db, candidates(range(100)), NOW)
    assert result.new == 50
    with session(engine) as db:
        assert len(db.exec(select(Article)).all()) == 100


def test_no_candidates_insert_nothing(engine: Engine) -> None:
    with session(engine) as db:
        result = add_candidates(db, [], NOW)
    assert result.new == 0
