"""A database filled through the real write path, and the web view's ASGI app on it.

Articles are recorded with ``monitor.check.record`` from the recorded cphpost.dk pages: the
rejected-asylum-seekers story and its corrected version (headline, body and a correction
notice changed), the forced-repatriations story (later deleted: 404 twice), and a story whose
headline and body carry markup an attacker would try (``<script>``, ``<img onerror>``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import col, select
from starlette.testclient import TestClient

from monitor.alerts.targets import load_targets
from monitor.check import Context, Prepared, record
from monitor.classify import load_rules
from monitor.db import engine_for, session, upgrade
from monitor.fetch import Fetcher, FetchResult
from monitor.models import Article
from monitor.settings import Settings, load_settings
from monitor.store import Claim, add_candidates, claim_article, find_article
from monitor.web.app import create_app
from monitor.web.db import open_readonly
from scrapers.article import Article as Page
from scrapers.article import Candidate
from scrapers.cphpost import extract

FIXTURES = Path(__file__).parents[1] / "fixtures" / "cphpost"
SITE = "https://cphpost.dk"
REJECTED = (
    f"{SITE}/2023-05-22/news/"
    "number-of-rejected-asylum-seekers-earmarked-for-deportation-halved-in-two-years/"
)
REPATRIATIONS = f"{SITE}/2015-05-21/news/denmark-oversaw-600-forced-repatriations-last-year/"
HOSTILE = f"{SITE}/2024-01-10/news/asylum-centre-hostile-headline/"
HOSTILE_TITLE = '<script>alert("pwned")</script><img src=x onerror="alert(2)"> Asylum centre'
HOSTILE_LINE = 'New paragraph <img src=x onerror="alert(3)"> about asylum seekers.'
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def page(relative: str, url: str) -> Page:
    result = extract((FIXTURES / relative).read_bytes(), url, SITE)
    assert isinstance(result, Page), result
    return result


@dataclass(frozen=True)
class Filled:
    """The filled database: its URL, settings, and the article ids by story."""

    url: str
    settings: Settings
    rejected: int
    repatriations: int
    hostile: int


def _fetch(ctx: Context, url: str, got: Page | None, at: datetime, status: int = 200) -> str:
    with session(ctx.engine) as db:
        add_candidates(db, [Candidate(url, "test")], at)
        article = find_article(db, url)
        assert article is not None and article.id is not None
        article_id = article.id
    claim = claim_article(ctx.engine, article_id, "w", 60, now=at)
    assert claim is not None
    result = FetchResult(url, url, status=status, etag=f'"{at.timestamp()}"')
    assert isinstance(claim, Claim)  # not held by another worker
    prepared = Prepared(got) if got is not None else None
    return record(ctx, claim, result, prepared, at).outcome


def context(settings: Settings) -> Context:
    engine = engine_for(settings.effective_database_url)
    return Context(settings, engine, Fetcher(settings), load_targets(settings), load_rules(), "w")


def record_page(settings: Settings, url: str, got: Page, at: datetime) -> str:
    """Record one more fetch of ``url`` through the real write path (as the daemon would)."""
    return _fetch(context(settings), url, got, at)


def fill(url: str, data_dir: Path) -> Filled:
    upgrade(url)
    settings = load_settings(
        site_url=SITE,
        data_dir=data_dir,
        database_url=url,
        notify_urls="json://127.0.0.1:9/hook",
        recheck_schedule="*:1s",
        delete_confirm_after="1s",
    )
    ctx = context(settings)
    engine = ctx.engine
    original = page(
        "articles/2023-05-22-number-of-rejected-asylum-seekers-earmarked-for-deportation-.html",
        REJECTED,
    )
    corrected = page("versions/2023-05-22-rejected-asylum-seekers.corrected.html", REJECTED)
    repatriations = page(
        "articles/2015-05-21-denmark-oversaw-600-forced-repatriations-last-year.html",
        REPATRIATIONS,
    )
    hostile_one = replace(original, url=HOSTILE, title=HOSTILE_TITLE, post_id=990001)
    hostile_two = replace(
        hostile_one,
        title=HOSTILE_TITLE + " reopens",
        paragraphs=(*hostile_one.paragraphs[:2], HOSTILE_LINE, *hostile_one.paragraphs[2:]),
    )
    steps = [
        (REJECTED, original, 0, 200, "new"),
        (REPATRIATIONS, repatriations, 1, 200, "new"),
        (HOSTILE, hostile_one, 2, 200, "new"),
        (REJECTED, corrected, 3, 200, "changed"),
        (HOSTILE, hostile_two, 4, 200, "changed"),
        (REPATRIATIONS, None, 5, 404, "missing"),
        (REPATRIATIONS, None, 6, 404, "deleted"),
    ]
    for story, got, hours, status, outcome in steps:
        got_outcome = _fetch(ctx, story, got, T0 + timedelta(hours=hours), status)
        assert got_outcome == outcome, (story, hours, got_outcome)
    with session(engine) as db:
        ids = {a.url: a.id for a in db.exec(select(Article).order_by(col(Article.id)))}
    return Filled(url, settings, ids[REJECTED] or 0, ids[REPATRIATIONS] or 0, ids[HOSTILE] or 0)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No CPHMON_* variable of the machine running the tests may leak into them."""
    for name in list(os.environ):
        if name.startswith("CPHMON_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Filled:
    """One SQLite database for the read-only route tests (no test writes to it)."""
    base = tmp_path_factory.mktemp("web")
    return fill(f"sqlite:///{base / 'monitor.sqlite3'}", base / "data")


@pytest.fixture(scope="session")
def client(filled: Filled) -> Iterator[TestClient]:
    web = open_readonly(filled.settings)
    with TestClient(create_app(filled.settings, web), raise_server_exceptions=False) as c:
        yield c
    web.engine.dispose()
