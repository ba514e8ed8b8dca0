"""Every deploy test sees the settings model with its defaults: no CPHMON_* from the caller."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.deploy.deployfiles import ENV_PREFIX


@pytest.fixture(autouse=True)
def clean_settings_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith(ENV_PREFIX):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
