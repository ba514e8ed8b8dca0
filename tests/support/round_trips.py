"""Database round trips, counted with SQLAlchemy's event hooks (tests and benches).

What is counted is what reaches the database: every statement the cursor executes (on SQLite
that includes our ``BEGIN IMMEDIATE``), a BEGIN on PostgreSQL (psycopg sends it before the first
statement of a transaction), every COMMIT and ROLLBACK, and on PostgreSQL the pool's pre-ping at
each checkout. An AUTOCOMMIT connection sends no BEGIN, and its COMMIT and ROLLBACK are no-ops
in the driver (nothing is open), so they are not counted.
"""

from __future__ import annotations

from collections import Counter
from types import TracebackType
from typing import Any

from sqlalchemy import Connection, Engine, event


def _autocommit(connection: Connection) -> bool:
    return connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT"


class RoundTrips:
    """``with RoundTrips(engine) as trips: ...`` then ``trips.total``, ``trips.kinds``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.postgres = engine.dialect.name != "sqlite"
        self.kinds: Counter[str] = Counter()
        self._listeners: list[tuple[Any, str, Any]] = [
            (engine, "before_cursor_execute", self._statement),
            (engine, "begin", self._begin),
            (engine, "commit", self._end("COMMIT")),
            (engine, "rollback", self._end("ROLLBACK")),
            (engine.pool, "checkout", self._checkout),
        ]

    @property
    def total(self) -> int:
        return sum(self.kinds.values())

    def clear(self) -> None:
        self.kinds.clear()

    def __enter__(self) -> RoundTrips:
        for target, name, listener in self._listeners:
            event.listen(target, name, listener)
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        for target, name, listener in self._listeners:
            event.remove(target, name, listener)

    def _statement(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        words = statement.split(None, 2)
        kind = " ".join(words[:2]) if words[:1] == ["BEGIN"] else words[0] if words else "?"
        self.kinds[kind.upper()] += 1

    def _begin(self, connection: Connection) -> None:
        if self.postgres and not _autocommit(connection):
            self.kinds["BEGIN"] += 1

    def _end(self, kind: str) -> Any:
        def listener(connection: Connection) -> None:
            if not _autocommit(connection):
                self.kinds[kind] += 1

        return listener

    def _checkout(self, *_args: Any) -> None:
        if self.postgres:  # monitor.db.make_engine: pool_pre_ping on PostgreSQL
            self.kinds["ping"] += 1
