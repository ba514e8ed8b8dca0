"""SQLite is one daemon per file: a dead holder's lock is taken over at once, a live one never.

The live-holder refusal itself is in ``tests/e2e/test_daemon.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlmodel import col

from monitor.models import Lease
from tests.e2e.harness import Monitor, wait_until
from tests.e2e.test_faults_common import installation
from tests.support.replay import ReplaySite

pytestmark = pytest.mark.e2e


@pytest.fixture
def monitor(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, replay_site: ReplaySite
) -> Iterator[Monitor]:
    """A copy of the session's migrated SQLite schema (see ``tests/e2e/conftest.py``)."""
    fresh = installation(tmp_path, tmp_path_factory, replay_site, ran=False)
    yield fresh
    fresh.close()


def _started(monitor: Monitor, name: str) -> bool:
    return "started: watching" in monitor.log(name)


def test_a_restart_after_sigkill_takes_over_the_lock_at_once(monitor: Monitor) -> None:
    first = monitor.start("first")
    wait_until("the first daemon", lambda: _started(monitor, "first"))
    monitor.kill(first)  # its lease is still valid for 30 s
    second = monitor.start("second")
    wait_until("the restart", lambda: _started(monitor, "second"))
    assert f":{first.pid} is gone: taking over its SQLite lock" in monitor.log("second")
    third = monitor.cli("run", timeout=30)  # the new holder is alive: refused, named
    assert third.returncode == 2 and f":{second.pid})" in third.stderr
    assert monitor.stop(second) == 0


def test_a_daemon_that_lost_its_lock_stops_instead_of_running_alongside(monitor: Monitor) -> None:
    daemon = monitor.start()
    wait_until("the daemon", lambda: _started(monitor, "daemon"))
    later = datetime.now(UTC) + timedelta(seconds=60)
    with monitor.db() as db:  # as if it froze past its lease and another daemon took over
        db.execute(
            update(Lease)
            .where(col(Lease.name) == "daemon")
            .values(owner="elsewhere:1", expires_at=later)
        )
        db.commit()
    assert daemon.wait(timeout=60) == 0  # by itself: the heartbeat (every 5 s) notices
    assert "lost the SQLite lock to elsewhere:1: stopping" in monitor.log()
