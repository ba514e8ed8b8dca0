"""What the backfill checks, and its right to: the skip rule, planning with claims, the lease.

Why it is safe next to a running daemon: candidates are inserted with
:func:`~monitor.store.add_candidates` (unique URL, ``ON CONFLICT DO NOTHING``) and leased *in the
same transaction*, so the daemon never sees a backfill row it could claim (and alert on) before
the backfill does; rows another live worker holds are skipped (it is checking them).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from monitor.db import session
from monitor.models import Article, ArticleStatus
from monitor.settings import Settings
from monitor.store import (
    Claim,
    add_candidates,
    claim_of,
    held_by_other,
    known_articles,
    take_singleton,
    utcnow,
)
from scrapers.article import Candidate

log = logging.getLogger(__name__)

BACKFILL_LEASE = "backfill"  # one backfill per database; names the process that runs it
LEASE_TTL = 60.0  # renewed every LEASE_TTL / 3 while the backfill runs
MAX_BATCH = 100  # candidates planned (and leased) per transaction


class BackfillRunning(Exception):
    """Another backfill holds this database."""


# The skip rule ---------------------------------------------------------------------------------


def up_to_date(article: Article | None, candidate: Candidate) -> bool:
    """Stored (a version, or confirmed gone) and checked since the source's ``lastmod``."""
    if article is None:
        return False
    if article.current_version_id is None and article.status != ArticleStatus.GONE:
        return False
    if candidate.lastmod is None:
        return True  # feeds and listings carry no lastmod: stored is enough
    checked = article.last_checked
    return checked is not None and _aware(checked) >= _aware(candidate.lastmod)


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


# Planning and claiming -------------------------------------------------------------------------


@dataclass(slots=True)
class Plan:
    needed: int  # candidates not stored, or stored before their lastmod
    skipped: int  # up to date, or held by another worker (the daemon is checking it)
    claims: list[Claim]  # leased to us, at most ``room`` of them


def plan_batch(
    engine: Engine,
    candidates: Sequence[Candidate],
    *,
    owner: str,
    lease_seconds: float,
    room: int | None,
    dry_run: bool,
    now: datetime | None = None,
) -> Plan:
    """Decide what to check and lease it, in one transaction.

    Unknown and outdated candidates go through ``add_candidates`` and are leased to ``owner``
    before the transaction commits, so no daemon can claim them first; ``room`` caps how many
    (``--limit``). A dry run only reads.
    """
    now = now or utcnow()
    with session(engine) as db:
        known = known_articles(db, [c.url for c in candidates])
        todo = [c for c in candidates if not up_to_date(known.get(c.url), c)]
        needed, skipped = len(todo), len(candidates) - len(todo)
        if room is not None:
            todo = todo[: max(room, 0)]
        if dry_run or not todo:
            return Plan(needed, skipped, [])
        add_candidates(db, todo, now)
        rows = known_articles(db, [c.url for c in todo], lock=True)
        claims: list[Claim] = []
        claimed: set[int] = set()
        expires = now + timedelta(seconds=lease_seconds)
        for cand in todo:
            article = rows.get(cand.url)
            if article is None or article.id is None or article.id in claimed:
                skipped += 1  # locked by a daemon's claim (PostgreSQL), or an alias seen twice
                continue
            if held_by_other(article, owner, now) is not None:
                skipped += 1  # the daemon is checking it right now
                continue
            article.lease_owner, article.lease_expires = owner, expires
            db.add(article)
            claimed.add(article.id)
            claims.append(claim_of(article, owner))
        return Plan(needed, skipped, claims)


def batch_size(settings: Settings) -> int:
    """Small enough that a leased batch is checked well within the lease at the rate limit."""
    if settings.rate_limit <= 0:
        return MAX_BATCH
    fits = int(settings.rate_limit * settings.lease_seconds / 4)
    return max(settings.concurrency, min(MAX_BATCH, fits))


def chunks(items: Sequence[Candidate], size: int) -> Iterator[Sequence[Candidate]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# The backfill lease ----------------------------------------------------------------------------


def take_backfill_lease(engine: Engine, owner: str) -> str | None:
    """Become the one backfill of this database; returns the previous run's name when that run
    ended holding it (killed; its article leases are released, so this run can claim them)."""
    lease = take_singleton(engine, BACKFILL_LEASE, owner, LEASE_TTL)
    if not lease.held:
        raise BackfillRunning(
            f"another backfill ({lease.holder or 'unknown'}) is running on this database "
            f"(lease until {lease.until}); wait for it to finish or stop it"
        )
    if lease.released:
        log.info(
            "released %d article leases of the stopped backfill %s", lease.released, lease.replaced
        )
    return lease.replaced
