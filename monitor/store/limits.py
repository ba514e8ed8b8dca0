"""The shared rate limit: one row per host that every process on the database reserves
request slots from, and that holds a site-wide Retry-After."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, Float, bindparam, case, func, update
from sqlmodel import col

from monitor.db import is_sqlite, session
from monitor.models import RateLimit
from monitor.store.common import autocommit, dialect_insert


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
    stmt = reserve_statement(engine.dialect.name)
    params = {"r_host": host, "r_now": now, "r_interval": interval}
    with autocommit(engine) as connection:
        row = connection.execute(stmt, params).first()
        if row is None:
            connection.execute(
                dialect_insert(engine, RateLimit)
                .values(host=host, next_at=0.0, blocked_until=0.0)
                .on_conflict_do_nothing(index_elements=["host"])
            )
            row = connection.execute(stmt, params).one()
    next_at, until, reason = float(row[0]), float(row[1] or 0.0), row[2]
    if until > now:
        return Slot(now, until, reason)
    return Slot(next_at - interval)


def reserve_statement(dialect: str) -> Any:
    """The slot's UPDATE … RETURNING on the table (Core, built once per dialect)."""
    stmt = _RESERVE.get(dialect)
    if stmt is None:
        table = RateLimit.__table__  # type: ignore[attr-defined]
        greatest = func.max if dialect == "sqlite" else func.greatest
        now = bindparam("r_now", type_=Float())
        stmt = _RESERVE[dialect] = (
            update(table)
            .where(table.c.host == bindparam("r_host"))
            .values(
                next_at=case(
                    (table.c.blocked_until > now, table.c.next_at),
                    else_=greatest(table.c.next_at, now) + bindparam("r_interval", type_=Float()),
                )
            )
            .returning(table.c.next_at, table.c.blocked_until, table.c.blocked_reason)
        )
    return stmt


_RESERVE: dict[str, Any] = {}


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
