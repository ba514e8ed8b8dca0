"""Tracked articles: discovered URLs and their aliases, what is due, versions, pruning."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, delete, func, or_, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from monitor.db import session
from monitor.models import Article, ArticleStatus, FetchLog, UrlAlias, Version
from monitor.settings import Settings
from monitor.store.common import dialect_insert, utcnow
from scrapers.article import Candidate


def find_article(db: Session, url: str) -> Article | None:
    """The article at ``url``, or the one that URL is an alias of (shortlink, old URL, move)."""
    article = db.exec(select(Article).where(Article.url == url)).first()
    if article is not None:
        return article
    alias = db.get(UrlAlias, url)
    return db.get(Article, alias.article_id) if alias is not None else None


def add_alias(db: Session, url: str, article_id: int) -> None:
    stmt = dialect_insert(db, UrlAlias).values(url=url, article_id=article_id)
    db.execute(stmt.on_conflict_do_nothing(index_elements=["url"]))


@dataclass(frozen=True, slots=True)
class AddResult:
    new: int
    pulled_forward: int


def add_candidates(db: Session, candidates: Iterable[Candidate], now: datetime) -> AddResult:
    """Track unknown URLs (due now); pull known ones forward when the source shows a newer
    ``lastmod`` than we have seen. Idempotent, and safe against a concurrent backfill.

    Set-based: one query finds the known URLs (and aliases), one multi-row
    ``INSERT … ON CONFLICT DO NOTHING`` adds the rest, whatever the batch size.
    """
    unique: dict[str, Candidate] = {}
    for cand in candidates:
        unique.setdefault(cand.url, cand)
    known = known_articles(db, list(unique))
    rows = [_new_row(cand, now) for url, cand in unique.items() if url not in known]
    new = pulled = 0
    if rows:
        # One statement, the rows as parameters: SQLAlchemy sends them as multi-row INSERTs
        # ("insertmanyvalues") compiled once, instead of compiling every batch of VALUES.
        # Count the RETURNING rows: psycopg 3 reports rowcount -1 for INSERT … ON CONFLICT
        new = len(db.execute(_insert_new_articles(db), rows).all())
    for url, cand in unique.items():
        article = known.get(url)
        if (
            article is None
            or cand.lastmod is None
            or not _newer(cand.lastmod, article.lastmod_hint)
        ):
            continue
        unseen = article.last_checked is None or _newer(cand.lastmod, article.last_checked)
        pull = unseen and article.next_check_at > now
        # One conditional UPDATE, not a write of the row as read: a worker may have recorded
        # a check since (PostgreSQL, READ COMMITTED), and that check's schedule must stand.
        pulled += pull_forward(db, article.id, cand.lastmod, now if pull else None)
    return AddResult(new, pulled)


def pull_forward(
    db: Session, article_id: int | None, lastmod: datetime, due: datetime | None
) -> int:
    """Note ``lastmod`` as the article's hint and, with ``due``, make it due then unless it was
    checked after ``lastmod`` or is due sooner; 1 when it was pulled forward."""
    hint = update(Article).where(col(Article.id) == article_id).values(lastmod_hint=lastmod)
    db.execute(hint)
    if due is None:
        return 0
    unchecked = or_(col(Article.last_checked).is_(None), col(Article.last_checked) < lastmod)
    stmt = (
        update(Article)
        .where(col(Article.id) == article_id, unchecked, col(Article.next_check_at) > due)
        .values(next_check_at=due)
        .returning(col(Article.id))
    )
    return len(db.execute(stmt).all())


def _insert_new_articles(db: Session) -> Any:
    """``INSERT INTO article … ON CONFLICT (url) DO NOTHING RETURNING id``, built once per
    dialect, on the table (a Core statement: no ORM bookkeeping per row)."""
    dialect = db.get_bind().dialect.name
    stmt = _NEW_ARTICLES.get(dialect)
    if stmt is None:
        table = Article.__table__  # type: ignore[attr-defined]
        insert = sqlite_insert if dialect == "sqlite" else pg_insert
        stmt = insert(table).on_conflict_do_nothing(index_elements=["url"]).returning(table.c.id)
        _NEW_ARTICLES[dialect] = stmt
    return stmt


_NEW_ARTICLES: dict[str, Any] = {}


def known_articles(db: Session, urls: Sequence[str], *, lock: bool = False) -> dict[str, Article]:
    """The tracked article of each URL that has one, directly or through an alias (a moved
    article answers for its old URL). ``lock``: rows locked for update, skipping rows another
    transaction holds (PostgreSQL; SQLite's transaction holds the whole file anyway)."""

    def query(*where: Any) -> Any:
        stmt = select(Article).where(*where)
        return stmt.with_for_update(skip_locked=True) if lock else stmt

    known: dict[str, Article] = {}
    for start in range(0, len(urls), 500):
        chunk = urls[start : start + 500]
        for article in db.exec(query(col(Article.url).in_(chunk))):
            known[article.url] = article
        missing = [u for u in chunk if u not in known]
        if not missing:
            continue
        aliases = db.exec(select(UrlAlias).where(col(UrlAlias.url).in_(missing))).all()
        targets = {a.article_id for a in aliases}
        if targets:
            by_id = {a.id: a for a in db.exec(query(col(Article.id).in_(targets)))}
            known.update({a.url: by_id[a.article_id] for a in aliases if a.article_id in by_id})
    return known


def _new_row(cand: Candidate, now: datetime) -> dict[str, Any]:
    return {
        "url": cand.url,
        "section": _section(cand.url),
        "status": ArticleStatus.PENDING,
        "discovered_via": cand.source,
        "first_seen": now,
        "next_check_at": now,
        "lastmod_hint": cand.lastmod,
        "published": cand.published,
        "version_count": 0,
        "relevant": False,
        "topics": [],
        "fail_count": 0,
    }


def _newer(a: datetime, b: datetime | None) -> bool:
    return b is None or a > b


def _section(url: str) -> str:
    parts = [p for p in url.split("/")[3:] if p]
    return parts[1] if len(parts) > 1 else ""


def prune(engine: Engine, settings: Settings, now: datetime | None = None) -> int:
    """Drop fetch-log rows older than ``fetch_log_days`` (versions are kept forever); 0 keeps
    them all."""
    if settings.fetch_log_days <= 0:
        return 0
    cutoff = (now or utcnow()) - timedelta(days=settings.fetch_log_days)
    with session(engine) as db:
        result = db.execute(delete(FetchLog).where(col(FetchLog.at) < cutoff))
        return result.rowcount or 0  # type: ignore[attr-defined]


def due_count(db: Session, now: datetime) -> int:
    query = select(func.count()).select_from(Article).where(Article.next_check_at <= now)
    return int(db.exec(query).one())


def versions_of(db: Session, article_id: int) -> Sequence[Version]:
    query = select(Version).where(Version.article_id == article_id).order_by(col(Version.seq))
    return db.exec(query).all()


def sqlite_integrity(engine: Engine) -> str:
    with engine.connect() as connection:
        return str(connection.execute(text("PRAGMA integrity_check")).scalar())
