from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import Monitor
from tests.e2e.test_faults_common import installation
from tests.support.replay import ReplaySite


@pytest.fixture
def monitor(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, replay_site: ReplaySite
) -> Iterator[Monitor]:
    """A fresh SQLite installation watching the replay site: a copy of the schema that
    ``db upgrade`` made once per session (a second ``db upgrade`` per test costs a second or
    more of imports and alembic, and tests nothing new)."""
    fresh = installation(tmp_path, tmp_path_factory, replay_site, ran=False)
    yield fresh
    fresh.close()
