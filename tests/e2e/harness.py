"""Real ``cphpost-monitor`` processes against the local replay site and local sinks.

A :class:`Monitor` is one installation: a data directory, a database (SQLite file or a
PostgreSQL schema of its own), settings as environment variables, and the processes started
from it. Intervals are short so a test observes a whole poll cycle in seconds, not minutes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, select

from monitor.db import make_engine
from monitor.models import Alert, Article, Change, Delivery, DeliveryStatus, Version
from tests.support.replay import ReplaySite
from tests.support.waiting import DEADLINE
from tests.support.waiting import wait_until as wait_until  # re-exported for the e2e tests

ROOT = Path(__file__).resolve().parents[2]

FAST = {
    "CPHMON_POLL_INTERVAL": "1",
    "CPHMON_SITEMAP_INTERVAL": "5",
    "CPHMON_RECHECK_INTERVAL": "0.5",
    "CPHMON_RECHECK_SCHEDULE": "*:2s",
    "CPHMON_SLOW_RECHECK_FACTOR": "1",
    "CPHMON_DELIVERY_INTERVAL": "0.5",
    "CPHMON_DELIVERY_BACKOFF": "0.5",
    "CPHMON_NOTIFY_TIMEOUT": "3",
    "CPHMON_DELETE_CONFIRM_AFTER": "1",
    "CPHMON_LEASE_SECONDS": "10",
    "CPHMON_RATE_LIMIT": "0",
    "CPHMON_MAX_RETRIES": "1",
    "CPHMON_CONNECT_TIMEOUT": "2",
    "CPHMON_READ_TIMEOUT": "2",
    "CPHMON_TOTAL_TIMEOUT": "5",
    "CPHMON_FAILURE_THRESHOLD": "3",
    "CPHMON_LOG_LEVEL": "INFO",
}


class Monitor:
    """One installation of the service for a test, driven as a user would drive it."""

    def __init__(
        self, tmp_path: Path, site_origin: str, database_url: str | None = None, **settings: Any
    ) -> None:
        self.dir = tmp_path
        self.data_dir = tmp_path / "data"
        self.database_url = database_url or f"sqlite:///{self.data_dir / 'monitor.sqlite3'}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("CPHMON_")}
        self.env.update(FAST)
        self.env.update(
            CPHMON_SITE_URL=site_origin,
            CPHMON_DATA_DIR=str(self.data_dir),
            CPHMON_DATABASE_URL=self.database_url,
            PYTHONUNBUFFERED="1",
        )
        self.set(**settings)
        self.processes: list[subprocess.Popen[bytes]] = []
        self._engine: Engine | None = None

    def set(self, **settings: Any) -> None:
        """Settings by name: ``set(rate_limit=2, notify_urls="json://...")``."""
        for name, value in settings.items():
            self.env[f"CPHMON_{name.upper()}"] = str(value)

    # Commands ----------------------------------------------------------------------------

    def cli(
        self, *args: str, timeout: float = 120, check: bool = False
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "monitor", *args],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"{args} exited {result.returncode}:\n{result.stderr[-4000:]}")
        return result

    def upgrade(self) -> None:
        self.cli("db", "upgrade", check=True)

    def run_once(self, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return self.cli("run", "--once", timeout=timeout, check=True)

    def start(self, name: str = "daemon") -> subprocess.Popen[bytes]:
        """Start ``cphpost-monitor run``; its output goes to ``<tmp>/<name>.log``."""
        log = (self.dir / f"{name}.log").open("ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", "monitor", "run"],
            env=self.env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.processes.append(proc)
        return proc

    def log(self, name: str = "daemon") -> str:
        path = self.dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self, proc: subprocess.Popen[bytes], timeout: float = 15) -> int:
        """SIGTERM and wait: the daemon promises to exit 0 within 10 s."""
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        return proc.wait(timeout=timeout)

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        proc.kill()
        proc.wait(timeout=10)

    def close(self) -> None:
        for proc in self.processes:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
        if self._engine is not None:
            self._engine.dispose()

    # Looking at the database ---------------------------------------------------------------

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.database_url)
        return self._engine

    @contextmanager
    def db(self) -> Iterator[Session]:
        with Session(self.engine) as session:
            yield session

    def articles(self) -> list[Article]:
        with self.db() as db:
            return list(db.exec(select(Article).order_by(Article.url)))

    def article(self, url: str) -> Article:
        with self.db() as db:
            found = db.exec(select(Article).where(Article.url == url)).first()
        assert found is not None, f"{url} is not tracked"
        return found

    def versions(self, url: str) -> list[Version]:
        article = self.article(url)
        with self.db() as db:
            return list(
                db.exec(
                    select(Version).where(Version.article_id == article.id).order_by(Version.seq)
                )
            )

    def changes(self, url: str) -> list[Change]:
        article = self.article(url)
        with self.db() as db:
            return list(
                db.exec(select(Change).where(Change.article_id == article.id).order_by(Change.id))
            )

    def alerts(self) -> list[Alert]:
        with self.db() as db:
            return list(db.exec(select(Alert).order_by(Alert.id)))

    def deliveries(self) -> list[Delivery]:
        with self.db() as db:
            return list(db.exec(select(Delivery).order_by(Delivery.id)))

    # Waiting for the service's own schedule ------------------------------------------------

    def wait_all_due(self, timeout: float = 60.0) -> None:
        """Until every tracked article is due again (its ``next_check_at`` has passed)."""

        def due() -> bool:
            now = datetime.now(UTC)
            return all(_aware(a.next_check_at) <= now for a in self.articles())

        wait_until("every article to be due again", due, timeout=timeout)

    def wait_deliveries_due(self, timeout: float = 60.0) -> None:
        """Until every pending delivery's retry time (its backoff) has passed."""

        def due() -> bool:
            now = datetime.now(UTC)
            pending = [d for d in self.deliveries() if d.status == DeliveryStatus.PENDING]
            return all(_aware(d.next_attempt_at) <= now for d in pending)

        wait_until("the pending deliveries' backoff", due, timeout=timeout)


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def more_rounds(
    site: ReplaySite,
    n: int = 3,
    *,
    pages: Iterable[str] = (),
    feed: str = "/feed/",
    timeout: float = DEADLINE,
) -> None:
    """Block until the running daemon was seen doing ``n`` more rounds at ``site``.

    That is ``n`` more polls of ``feed`` (1 s apart with :data:`FAST`: about 2n delivery
    rounds run meanwhile on the same event loop) and ``n`` more re-checks of each of
    ``pages``. What proves "nothing more happened": counted in the service's rounds, not in
    seconds of a test that a loaded machine may spend on something else.
    """
    wanted = {path: site.count(path) + n for path in (feed, *pages)}  # all counted from now
    for path, count in wanted.items():
        site.wait_for(path, count, timeout=timeout)
