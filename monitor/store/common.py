"""What every part of the store shares: the clock, who we are, whether an owner still lives,
and the dialect's ``INSERT`` (for ``ON CONFLICT``)."""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session


def utcnow() -> datetime:
    return datetime.now(UTC)


def aware(when: datetime) -> datetime:
    """``when`` as an aware UTC time (SQLite gives back naive datetimes)."""
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


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


def autocommit(engine: Engine) -> Connection:
    """A connection whose every statement is its own transaction (PostgreSQL): no BEGIN and
    COMMIT round trips around a statement that is atomic on its own."""
    return engine.connect().execution_options(isolation_level="AUTOCOMMIT")
