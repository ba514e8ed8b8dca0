"""Backfill tests run the real service against the recorded site on 127.0.0.1 (33 articles in two
post sitemaps), rate limit off, on a fresh SQLite file (and PostgreSQL where marked)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from monitor.backfill import BackfillCounts, backfill
from monitor.db import make_engine, session, upgrade
from monitor.models import Article, Version
from monitor.settings import Settings, load_settings
from tests.dbs import pg_schema_url, sqlite_url
from tests.support.replay import ReplaySite

_TEMPLATE: list[tempfile.TemporaryDirectory[str]] = []  # this process's migrated SQLite file


def migrate(url: str) -> None:
    """``upgrade(url)``; a new SQLite file is a copy of one this process migrated once (the
    same migrations, run once instead of in every test)."""
    prefix = "sqlite:///"
    target = Path(url.removeprefix(prefix))
    if not url.startswith(prefix) or target.exists():
        upgrade(url)
        return
    if not _TEMPLATE:
        _TEMPLATE.append(tempfile.TemporaryDirectory(prefix="backfill-template-"))
        upgrade(prefix + str(Path(_TEMPLATE[0].name) / "template.sqlite3"))
    target.parent.mkdir(parents=True, exist_ok=True)
    # SQLite's backup: a consistent copy, whatever the template's WAL still holds
    template = Path(_TEMPLATE[0].name) / "template.sqlite3"
    src, dst = sqlite3.connect(template), sqlite3.connect(target)
    with contextlib.closing(src), contextlib.closing(dst):
        src.backup(dst)


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return sqlite_url(tmp_path)


@pytest.fixture
def settings(replay_site: ReplaySite, tmp_path: Path, db_url: str) -> Settings:
    return load_settings(
        site_url=replay_site.origin, data_dir=tmp_path, database_url=db_url, rate_limit=0
    )


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    migrate(settings.effective_database_url)
    engine = make_engine(settings.effective_database_url)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """For the tests that must hold on both databases."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path)
    else:
        with pg_schema_url() as url:
            yield url


@pytest.fixture(autouse=True)
def _keep_logging() -> Iterator[None]:
    """The CLI installs its own root handler (setup_logging); put pytest's back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def run(settings: Settings, engine: Engine, **options: Any) -> BackfillCounts:
    """One backfill with the CLI's defaults, overridden by ``options``."""
    args: dict[str, Any] = {
        "since": None,
        "until": None,
        "source": "sitemap",
        "limit": None,
        "alert": False,
        "dry_run": False,
    }
    args.update(options)
    return asyncio.run(backfill(settings, engine, **args))


def stored(engine: Engine) -> dict[str, int]:
    """URL → number of versions, for every article row."""
    with session(engine) as db:
        articles = db.exec(select(Article)).all()
        versions = db.exec(select(Version)).all()
    count = {a.id: 0 for a in articles}
    for version in versions:
        count[version.article_id] += 1
    return {a.url: count[a.id] for a in articles}


def article_urls(site: ReplaySite) -> set[str]:
    """Every article of the recorded site, as the service names it."""
    return {site.url(path) for path in site.paths("article")}


def article_requests(site: ReplaySite) -> list[str]:
    return [r.path for r in site.requests if r.path.startswith("/20")]
