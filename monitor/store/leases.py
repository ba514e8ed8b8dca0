"""Named leases: singleton jobs (discovery, housekeeping) and the one-daemon-per-SQLite lock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, or_, update
from sqlmodel import col

from monitor.db import session
from monitor.models import Lease
from monitor.store.claims import release_claims
from monitor.store.common import aware, dialect_insert, owner_is_dead, utcnow


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
        return aware(self.expires).isoformat(timespec="seconds") if self.expires else "?"


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
