"""Claims: an article a worker holds under a lease that expires.

Claims follow the pattern of the mature Postgres-backed queues: ``SELECT … FOR UPDATE SKIP
LOCKED`` picks rows no other worker holds, an UPDATE stamps them with our name and a lease that
expires, so a worker killed mid-fetch leaves nothing locked for longer than the lease. On SQLite
the same statements run in ``BEGIN IMMEDIATE`` transactions.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, or_, update
from sqlmodel import Session, col, select

from monitor.db import session
from monitor.models import Article, Version
from monitor.store.common import autocommit, aware, owner_is_dead, utcnow

log = logging.getLogger(__name__)


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
    # What a 304 needs to be recorded in one statement (monitor.store.recheck), as claimed:
    # only the lease holder changes them.
    expires: datetime | None = None  # the lease, as stamped by the claim
    born: datetime | None = None  # published, else first seen: the re-check schedule's age
    relevant: bool = False
    version_count: int = 0
    pending_version_id: int | None = None  # a held reversion: a 304 drops it (not the fast path)


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
        aware(article.lease_expires) if article.lease_expires is not None else None,
        aware(article.published or article.first_seen),
        article.relevant,
        article.version_count,
        article.pending_version_id,
    )


@dataclass(frozen=True, slots=True)
class Held:
    """Another worker's claim on an article: who, and until when (unless renewed)."""

    owner: str
    expires: datetime

    @property
    def until(self) -> str:
        return aware(self.expires).isoformat(timespec="seconds")


def held_by_other(article: Article, owner: str, now: datetime) -> Held | None:
    """The live claim of another worker on ``article``, if any.

    A lease that has expired is nobody's; a lease whose owner is provably dead (a process of
    this host that is gone or a zombie: ``kill -9``, the OOM killer) is taken over at once
    instead of waiting for it to expire. An owner on another host can only be judged by its
    lease, which it renews while it works.
    """
    holder, expires = article.lease_owner, article.lease_expires
    if holder is None or holder == owner or expires is None or aware(expires) <= now:
        return None
    if owner_is_dead(holder):
        return None
    return Held(holder, expires)


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
    with autocommit(engine) as connection:  # one statement: its own transaction
        result = connection.execute(
            update(Article)
            .where(col(Article.id) == claim.id, col(Article.lease_owner) == claim.owner)
            .values(lease_expires=now + timedelta(seconds=lease_seconds))
        )
        return bool(result.rowcount)


def release_claims(engine: Engine, owner: str) -> int:
    """Give back every lease of ``owner`` (graceful shutdown): others may take them at once."""
    with session(engine) as db:
        result = db.execute(
            update(Article)
            .where(col(Article.lease_owner) == owner)
            .values(lease_owner=None, lease_expires=None)
        )
        return result.rowcount or 0  # type: ignore[attr-defined]
