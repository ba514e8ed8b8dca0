"""Storage operations: discovered URLs, claims with leases, named leases, the shared rate limit.

Every function here is one short transaction (or runs inside the caller's). Claims follow the
pattern of the mature Postgres-backed queues: ``SELECT … FOR UPDATE SKIP LOCKED`` picks rows no
other worker holds, an UPDATE stamps them with our name and a lease that expires, so a worker
killed mid-fetch leaves nothing locked for longer than the lease. On SQLite the same statements
run in ``BEGIN IMMEDIATE`` transactions (there, one daemon per file is enforced by a lease).
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, case, delete, func, or_, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from monitor.db import is_sqlite, session
from monitor.models import Article, ArticleStatus, FetchLog, Lease, RateLimit, UrlAlias, Version
from monitor.settings import Settings
from scrapers.article import Candidate

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


def worker_name() -> str:
    """Who holds a claim: host and pid, so an operator can find the process."""
    return f"{socket.gethostname()}:{os.getpid()}"


def owner_is_dead(owner: str) -> bool:
    """True when ``owner`` (``host:pid``, see :func:`worker_name`) is a process of this host
    that no longer runs: gone, or a zombie its parent has not reaped yet (killed all the same).
    Unknown (another host, a process we may not signal) is not dead: there, only the lease's
    expiry tells."""
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False  # it exists, under another user
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[:1] == ["Z"]


def dialect_insert(engine_or_db: Engine | Session, table: Any) -> Any:
    """``INSERT`` of the database's dialect (for ``ON CONFLICT`` clauses)."""
    bind = engine_or_db.get_bind() if isinstance(engine_or_db, Session) else engine_or_db
    return (sqlite_insert if bind.dialect.name == "sqlite" else pg_insert)(table)


# Articles ------------------------------------------------------------------------------------


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


# Claims --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Claim:
    """An article this worker holds a lease on, with what the check needs to know."""

    id: int
    url: str
    etag: str | None
    last_modified: str | None
    status: str
    current_version_id: int | None
    owner: str
    fingerprint: str | None = None  # of the current version: lets a check classify early


def claim_of(article: Article, owner: str, fingerprint: str | None = None) -> Claim:
    """The claim ``owner`` holds on ``article`` (whose lease it has just stamped)."""
    return Claim(
        article.id or 0,
        article.url,
        article.etag,
        article.last_modified,
        article.status,
        article.current_version_id,
        owner,
        fingerprint,
    )


@dataclass(frozen=True, slots=True)
class Held:
    """Another worker's claim on an article: who, and until when (unless renewed)."""

    owner: str
    expires: datetime

    @property
    def until(self) -> str:
        return _aware(self.expires).isoformat(timespec="seconds")


def held_by_other(article: Article, owner: str, now: datetime) -> Held | None:
    """The live claim of another worker on ``article``, if any.

    A lease that has expired is nobody's; a lease whose owner is provably dead (a process of
    this host that is gone or a zombie: ``kill -9``, the OOM killer) is taken over at once
    instead of waiting for it to expire. An owner on another host can only be judged by its
    lease, which it renews while it works.
    """
    holder, expires = article.lease_owner, article.lease_expires
    if holder is None or holder == owner or expires is None or _aware(expires) <= now:
        return None
    if owner_is_dead(holder):
        return None
    return Held(holder, expires)


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def claim_due(
    engine: Engine,
    owner: str,
    limit: int,
    lease_seconds: float,
    now: datetime | None = None,
    *,
    due_before: datetime | None = None,
) -> list[Claim]:
    """Claim up to ``limit`` due articles, most overdue first, for ``lease_seconds``.

    ``due_before`` narrows "due" to articles that were due by then (``run --once``: what falls
    due during the run, such as a failed article's retry, waits for the next run).
    """
    now = now or utcnow()
    cutoff = now if due_before is None else min(now, due_before)
    with session(engine) as db:
        query = (
            select(Article)
            .where(Article.next_check_at <= cutoff)
            .where(or_(col(Article.lease_expires).is_(None), col(Article.lease_expires) < now))
            .order_by(col(Article.next_check_at), col(Article.id))
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        rows = list(db.exec(query))
        expires = now + timedelta(seconds=lease_seconds)
        for article in rows:
            article.lease_owner, article.lease_expires = owner, expires
            db.add(article)
        current = [a.current_version_id for a in rows if a.current_version_id is not None]
        prints = dict(
            db.exec(
                select(Version.id, Version.fingerprint).where(col(Version.id).in_(current))
            ).all()
            if current
            else ()
        )
        return [claim_of(a, owner, prints.get(a.current_version_id)) for a in rows]


def claim_article(
    engine: Engine, article_id: int, owner: str, lease_seconds: float, now: datetime | None = None
) -> Claim | Held | None:
    """Claim one article out of turn (the ``check`` command).

    Returns the claim; or :class:`Held` when another live worker holds the article; None when
    there is no such article. A claim whose owner died is taken over (see
    :func:`held_by_other`).
    """
    now = now or utcnow()
    with session(engine) as db:
        query = select(Article).where(Article.id == article_id).with_for_update()
        article = db.exec(query).first()
        if article is None:
            return None
        held = held_by_other(article, owner, now)
        if held is not None:
            return held
        if article.lease_owner not in (None, owner):
            log.info("taking over %s from %s (gone or expired)", article.url, article.lease_owner)
        article.lease_owner = owner
        article.lease_expires = now + timedelta(seconds=lease_seconds)
        db.add(article)
        return claim_of(article, owner)


def lock_claimed(db: Session, claim: Claim) -> Article | None:
    """Re-read a claimed article for writing; None if our lease was lost meanwhile."""
    article = db.get(Article, claim.id, with_for_update=True)
    if article is None or article.lease_owner != claim.owner:
        return None
    return article


def renew_claim(
    engine: Engine, claim: Claim, lease_seconds: float, now: datetime | None = None
) -> bool:
    """Restart the lease of ``claim`` (its fetch begins now); False if it is no longer ours.

    Only the owner's name is compared, not the expiry: a lease that ran out while nobody else
    took the article is still ours to use. One UPDATE under the row lock, so it serialises with
    :func:`claim_due` of another worker: either that claim wins and this returns False, or
    this wins and the article is no longer claimable.
    """
    now = now or utcnow()
    with session(engine) as db:
        result = db.execute(
            update(Article)
            .where(col(Article.id) == claim.id, col(Article.lease_owner) == claim.owner)
            .values(lease_expires=now + timedelta(seconds=lease_seconds))
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


def release_claims(engine: Engine, owner: str) -> int:
    """Give back every lease of ``owner`` (graceful shutdown): others may take them at once."""
    with session(engine) as db:
        result = db.execute(
            update(Article)
            .where(col(Article.lease_owner) == owner)
            .values(lease_owner=None, lease_expires=None)
        )
        return result.rowcount or 0  # type: ignore[attr-defined]


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


# Named leases ---------------------------------------------------------------------------------


def acquire_lease(
    engine: Engine,
    name: str,
    owner: str,
    ttl: float,
    *,
    min_interval: float | None = None,
    now: datetime | None = None,
) -> bool:
    """Compare-and-set a named lease. True when ``owner`` now holds it.

    With ``min_interval``, the lease is only granted if the job it guards last ran at least
    that long ago: N workers polling for the same singleton job run it once per interval.
    """
    now = now or utcnow()
    with session(engine) as db:
        db.execute(
            dialect_insert(engine, Lease)
            .values(name=name, info={})
            .on_conflict_do_nothing(index_elements=["name"])
        )
        conditions = [
            or_(
                col(Lease.owner).is_(None),
                col(Lease.owner) == owner,
                col(Lease.expires_at) < now,
            )
        ]
        if min_interval is not None:
            since = now - timedelta(seconds=min_interval)
            conditions.append(
                or_(col(Lease.last_run_at).is_(None), col(Lease.last_run_at) <= since)
            )
        result = db.execute(
            update(Lease)
            .where(col(Lease.name) == name, *conditions)
            .values(owner=owner, expires_at=now + timedelta(seconds=ttl))
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


def take_over_lease(
    engine: Engine,
    name: str,
    stale_owner: str,
    owner: str,
    ttl: float,
    now: datetime | None = None,
) -> bool:
    """Take ``name`` from ``stale_owner``, a holder known to be dead, before its lease expires.

    Compare-and-set on the owner: of several processes taking over at once, exactly one wins.
    """
    now = now or utcnow()
    with session(engine) as db:
        result = db.execute(
            update(Lease)
            .where(col(Lease.name) == name, col(Lease.owner) == stale_owner)
            .values(owner=owner, expires_at=now + timedelta(seconds=ttl))
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


def release_lease(
    engine: Engine, name: str, owner: str, *, ran: bool = False, now: datetime | None = None
) -> None:
    now = now or utcnow()
    values: dict[str, Any] = {"owner": None, "expires_at": None}
    if ran:
        values["last_run_at"] = now
    with session(engine) as db:
        db.execute(
            update(Lease).where(col(Lease.name) == name, col(Lease.owner) == owner).values(**values)
        )


def get_lease(engine: Engine, name: str) -> Lease | None:
    with session(engine) as db:
        return db.get(Lease, name)


@dataclass(frozen=True, slots=True)
class Singleton:
    """What :func:`take_singleton` came to."""

    held: bool  # the caller holds the lease now
    holder: str | None = None  # refused: who holds it
    expires: datetime | None = None  # refused: until when (unless renewed)
    replaced: str | None = None  # granted: the holder that ended without releasing it
    released: int = 0  # article claims of ``replaced`` given back

    @property
    def until(self) -> str:
        return _aware(self.expires).isoformat(timespec="seconds") if self.expires else "?"


def take_singleton(
    engine: Engine, name: str, owner: str, ttl: float, now: datetime | None = None
) -> Singleton:
    """Become the one holder of ``name`` (one daemon per SQLite file, one backfill per
    database), renewed by calling :func:`acquire_lease` again.

    A holder that ended without releasing it is replaced: at once when it is provably dead
    (:func:`owner_is_dead`: killed, not merely slow), else once its lease has expired. Its
    article claims are released, so its work is not left idle until those leases run out;
    the caller gives back whatever else it held (deliveries, say).
    """
    before = get_lease(engine, name)
    previous = before.owner if before is not None else None
    granted = acquire_lease(engine, name, owner, ttl, now=now)
    if not granted and previous is not None and owner_is_dead(previous):
        granted = take_over_lease(engine, name, previous, owner, ttl, now=now)
    if not granted:
        current = get_lease(engine, name)
        if current is None:
            return Singleton(False)
        return Singleton(False, current.owner, current.expires_at)
    if previous is None or previous == owner:
        return Singleton(True)
    return Singleton(True, replaced=previous, released=release_claims(engine, previous))


# Shared rate limit ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Slot:
    """A reserved request slot, or the time until which the whole site asked us to wait."""

    at: float  # epoch seconds at which the request may go (unused while blocked)
    blocked_until: float = 0.0
    blocked_reason: str | None = None

    def blocked(self, now: float) -> bool:
        return self.blocked_until > now


def reserve_slot(engine: Engine, host: str, interval: float, now: float) -> Slot:
    """Reserve the next request slot of ``host``: one atomic UPDATE … RETURNING.

    All processes on the database share the row, so together they never exceed one request
    per ``interval``. While the site's Retry-After holds (``blocked_until``), no slot is taken:
    the answer says until when, and the caller gives up its request instead of sleeping.
    The row is created on first use (an INSERT only when the UPDATE found none).
    """
    greatest = func.max if is_sqlite(engine) else func.greatest
    stmt = (
        update(RateLimit)
        .where(col(RateLimit.host) == host)
        .values(
            next_at=case(
                (col(RateLimit.blocked_until) > now, col(RateLimit.next_at)),
                else_=greatest(RateLimit.next_at, now) + interval,
            )
        )
        .returning(
            col(RateLimit.next_at), col(RateLimit.blocked_until), col(RateLimit.blocked_reason)
        )
    )
    with session(engine) as db:
        row = db.execute(stmt).first()
        if row is None:
            db.execute(
                dialect_insert(engine, RateLimit)
                .values(host=host, next_at=0.0, blocked_until=0.0)
                .on_conflict_do_nothing(index_elements=["host"])
            )
            row = db.execute(stmt).one()
        next_at, until, reason = float(row[0]), float(row[1] or 0.0), row[2]
        if until > now:
            return Slot(now, until, reason)
        return Slot(next_at - interval)


def block_host(engine: Engine, host: str, until: float, reason: str) -> float:
    """Record that the whole site asked us to wait until ``until`` (never shortening a longer
    wait another worker recorded); returns the time now in force."""
    greatest = func.max if is_sqlite(engine) else func.greatest
    with session(engine) as db:
        db.execute(
            dialect_insert(engine, RateLimit)
            .values(host=host, next_at=0.0, blocked_until=0.0)
            .on_conflict_do_nothing(index_elements=["host"])
        )
        row = db.execute(
            update(RateLimit)
            .where(col(RateLimit.host) == host)
            .values(
                blocked_until=greatest(RateLimit.blocked_until, until),
                blocked_reason=case(
                    (col(RateLimit.blocked_until) > until, col(RateLimit.blocked_reason)),
                    else_=reason,
                ),
            )
            .returning(col(RateLimit.blocked_until))
        ).one()
        return float(row[0])


def host_block(engine: Engine, host: str) -> Slot | None:
    """The site's Retry-After in force for ``host`` (for ``status``), else None."""
    with session(engine) as db:
        row = db.get(RateLimit, host)
        if row is None or not row.blocked_until:
            return None
        return Slot(row.next_at, row.blocked_until, row.blocked_reason)


# Versions -------------------------------------------------------------------------------------


def versions_of(db: Session, article_id: int) -> Sequence[Version]:
    query = select(Version).where(Version.article_id == article_id).order_by(col(Version.seq))
    return db.exec(query).all()


def sqlite_integrity(engine: Engine) -> str:
    with engine.connect() as connection:
        return str(connection.execute(text("PRAGMA integrity_check")).scalar())
