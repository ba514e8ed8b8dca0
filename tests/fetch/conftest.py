from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from monitor.db import make_engine, upgrade
from monitor.settings import Settings, load_settings
from tests.dbs import sqlite_url
from tests.support.replay import ReplaySite


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    url = sqlite_url(tmp_path)
    upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture
def make_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, replay_site: ReplaySite
) -> Callable[..., Settings]:
    """Settings for the replay site, free of the caller's ``CPHMON_*`` environment."""
    for name in list(os.environ):
        if name.startswith("CPHMON_"):
            monkeypatch.delenv(name)

    def make(**values: Any) -> Settings:
        base: dict[str, Any] = {
            "site_url": replay_site.origin,
            "data_dir": tmp_path,
            "database_url": sqlite_url(tmp_path),
            "rate_limit": 0,
            "max_retries": 2,
            "poll_interval": 60,
        }
        base.update(values)
        return load_settings(**base)

    return make
