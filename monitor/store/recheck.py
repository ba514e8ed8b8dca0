"""The cheap path of the most common check: an article that answers 304 Not Modified.

An idle archive is almost all 304s, so their database cost is the service's running cost. The
general write path (:func:`monitor.check.record`) reads the article under a row lock, applies
the outcome through the ORM and writes it back with its fetch-log row: a pool checkout (a
pre-ping on PostgreSQL), BEGIN, SELECT, INSERT, UPDATE, COMMIT. A 304 changes nothing the claim
did not already know (its validators, schedule inputs and lease were read when it was claimed,
and only the lease holder changes them), so it is recorded here in one statement:

- PostgreSQL: ``WITH done AS (UPDATE article … WHERE id = :id AND lease_owner = :owner
  RETURNING id) INSERT INTO fetch_log … SELECT … FROM done``, autocommitted: the article's new
  schedule, the released lease and the fetch-log row in one atomic statement, which writes
  nothing when the lease was lost (another worker took the article over);
- SQLite (no writes in a ``WITH``): the same UPDATE and, only when it matched, the INSERT, in
  one ``BEGIN IMMEDIATE`` transaction.

Either way it is one transaction per check, and a lost lease records nothing. Before the
fetch, :func:`renew_and_reserve` restarts the claim's lease and reserves the request's slot of
the shared rate limit in one statement on PostgreSQL (``WITH renewed AS (UPDATE article …)
UPDATE rate_limit … WHERE EXISTS (SELECT … FROM renewed)``), two autocommitted ones on SQLite.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Table, bindparam, insert, select, update

from monitor.db import is_sqlite
from monitor.models import Article, FetchLog
from monitor.store.claims import Claim, renew_claim
from monitor.store.common import autocommit, utcnow
from monitor.store.limits import Slot, reserve_slot, reserve_statement

ARTICLE: Table = Article.__table__  # type: ignore[attr-defined]
FETCH_LOG: Table = FetchLog.__table__  # type: ignore[attr-defined]

# The statements are built once: a statement reused is compiled and cache-keyed once.
_RELEASE = (
    update(ARTICLE)
    .where(
        ARTICLE.c.id == bindparam("a_id"),
        ARTICLE.c.lease_owner == bindparam("a_owner"),
        ARTICLE.c.pending_version_id.is_(None),
    )
    .values(
        fail_count=0,
        last_error=None,
        missing_since=None,
        next_check_at=bindparam("a_next", type_=ARTICLE.c.next_check_at.type),
        last_checked=bindparam("a_now", type_=ARTICLE.c.last_checked.type),
        lease_owner=None,
        lease_expires=None,
    )
    .returning(ARTICLE.c.id)
)
_LOG_COLUMNS = ("at", "url", "status", "outcome", "elapsed_ms", "error", "worker")
_LOG = insert(FETCH_LOG).values(
    {c: bindparam(f"l_{c}", type_=FETCH_LOG.c[c].type) for c in _LOG_COLUMNS}
)


def _released_and_logged() -> Any:
    done = _RELEASE.cte("done")
    values = [bindparam(f"l_{c}", type_=FETCH_LOG.c[c].type).label(c) for c in _LOG_COLUMNS]
    return insert(FETCH_LOG).from_select(list(_LOG_COLUMNS), select(*values).select_from(done))


_RELEASED_AND_LOGGED = _released_and_logged()


def finish_not_modified(
    engine: Engine,
    claim: Claim,
    *,
    now: datetime,
    next_check_at: datetime,
    log_row: dict[str, Any],
) -> bool:
    """Record a 304 of ``claim``: the article checked at ``now``, due again at
    ``next_check_at``, its lease released, ``log_row`` (the fetch-log columns but ``id``) added.

    False, with nothing written, when the claim is no longer ours or the article holds a
    reversion (the general path records those).
    """
    params = {"a_id": claim.id, "a_owner": claim.owner, "a_next": next_check_at, "a_now": now}
    params.update({f"l_{c}": log_row.get(c) for c in _LOG_COLUMNS})
    if is_sqlite(engine):
        with engine.begin() as connection:
            if connection.execute(_RELEASE, params).first() is None:
                return False
            connection.execute(_LOG, params)
            return True
    with autocommit(engine) as connection:
        result = connection.execute(_RELEASED_AND_LOGGED, params)
        return bool(result.rowcount)


def _renewed_and_reserved() -> Any:
    renewed = (
        update(ARTICLE)
        .where(ARTICLE.c.id == bindparam("a_id"), ARTICLE.c.lease_owner == bindparam("a_owner"))
        .values(lease_expires=bindparam("a_expires", type_=ARTICLE.c.lease_expires.type))
        .returning(ARTICLE.c.id)
        .cte("renewed")
    )
    return reserve_statement("postgresql").where(select(renewed.c.id).exists())


_RENEWED_AND_RESERVED = _renewed_and_reserved()


def renew_and_reserve(
    engine: Engine, claim: Claim, lease_seconds: float, host: str, interval: float, now: float
) -> Slot | None:
    """Restart ``claim``'s lease (its fetch begins now) and reserve the next request slot of
    ``host`` (see :func:`~monitor.store.limits.reserve_slot`); None, with no slot taken, when
    the claim is no longer ours."""
    if is_sqlite(engine):
        if not renew_claim(engine, claim, lease_seconds):
            return None
        return reserve_slot(engine, host, interval, now)
    params = {
        "a_id": claim.id,
        "a_owner": claim.owner,
        "a_expires": utcnow() + timedelta(seconds=lease_seconds),
        "r_host": host,
        "r_now": now,
        "r_interval": interval,
    }
    with autocommit(engine) as connection:
        row = connection.execute(_RENEWED_AND_RESERVED, params).first()
    if row is None:  # the lease was lost, or the host has no row yet: the long way tells
        if not renew_claim(engine, claim, lease_seconds):
            return None
        return reserve_slot(engine, host, interval, now)
    next_at, until, reason = float(row[0]), float(row[1] or 0.0), row[2]
    if until > now:
        return Slot(now, until, reason)
    return Slot(next_at - interval)
