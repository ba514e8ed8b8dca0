from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import Monitor
from tests.support.replay import ReplaySite


@pytest.fixture
def monitor(tmp_path: Path, replay_site: ReplaySite) -> Iterator[Monitor]:
    """A fresh SQLite installation watching the replay site (schema created)."""
    installation = Monitor(tmp_path, replay_site.origin)
    installation.upgrade()
    yield installation
    installation.close()
