"""A sitemap's ``lastmod`` must not make due an article that a worker checked meanwhile.

Discovery reads what it knows of the listed articles, decides which were edited since their
last check, and makes those due at once. On PostgreSQL another worker may record a check of
one of them between that read and the write; the write must then leave the article alone, or
the article is fetched again a moment after its check (seen in tests/scale/test_workers as
"fetched twice within 8.7 s"). SQLite takes the write lock at BEGIN, so there the read and
the write cannot be split; the race is PostgreSQL's.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, text
from sqlmodel import select

from monitor.db import make_engine, session, upgrade
from monitor.discover import mark_edited
from monitor.models import Article
from monitor.store import add_candidates
from scrapers.article import Candidate
from tests.dbs import pg_schema_url

pytestmark = pytest.mark.postgres

URL = "https://cphpost.dk/2025-03-11/news/heatwave-to-bring-28-degrees/"
T0 = datetime(2025, 3, 12, 8, 0, tzinfo=UTC)
EDITED = T0 + timedelta(minutes=5)  # the sitemap's lastmod: after our last check at T0
CHECKED = T0 + timedelta(minutes=6)  # another worker's check, after the edit
NEXT = CHECKED + timedelta(days=7)  # the schedule that check stamped


@pytest.fixture
def engine() -> Iterator[Engine]:
    with pg_schema_url() as url:
        upgrade(url)
        engine = make_engine(url)
        yield engine
        engine.dispose()


def tracked(engine: Engine) -> None:
    with session(engine) as db:
        db.add(
            Article(
                url=URL,
                first_seen=T0,
                last_seen=T0,
                last_checked=T0,
                next_check_at=T0 + timedelta(days=7),
            )
        )
        db.commit()


@contextmanager
def check_recorded_before_the_first_update(engine: Engine) -> Iterator[list[str]]:
    """Commit another worker's check of the article just before discovery's first UPDATE of
    it reaches the server, after discovery read it: the interleaving a busy machine makes."""
    done: list[str] = []

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if done or not statement.lstrip().upper().startswith("UPDATE ARTICLE"):
            return
        done.append(statement)
        with engine.connect() as other:
            other.execute(
                text("UPDATE article SET last_checked = :c, next_check_at = :n WHERE url = :u"),
                {"c": CHECKED, "n": NEXT, "u": URL},
            )
            other.commit()

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield done
    finally:
        event.remove(engine, "before_cursor_execute", before)


def schedule(engine: Engine) -> tuple[datetime | None, datetime]:
    with session(engine) as db:
        article = db.exec(select(Article).where(Article.url == URL)).one()
        return article.last_checked, article.next_check_at


def test_a_sitemap_edit_does_not_make_due_an_article_checked_since_it_was_read(
    engine: Engine,
) -> None:
    tracked(engine)
    with check_recorded_before_the_first_update(engine) as injected, session(engine) as db:
        mark_edited(db, [Candidate(URL, "sitemap", lastmod=EDITED)])
        db.commit()
    assert injected, "discovery never wrote the article: the race was not exercised"
    last_checked, due = schedule(engine)
    assert (last_checked, due) == (CHECKED, NEXT)


def test_a_feed_lastmod_does_not_pull_forward_an_article_checked_since_it_was_read(
    engine: Engine,
) -> None:
    tracked(engine)
    with check_recorded_before_the_first_update(engine) as injected, session(engine) as db:
        add_candidates(db, [Candidate(URL, "feed", lastmod=EDITED)], now=EDITED)
        db.commit()
    assert injected, "discovery never wrote the article: the race was not exercised"
    last_checked, due = schedule(engine)
    assert (last_checked, due) == (CHECKED, NEXT)
