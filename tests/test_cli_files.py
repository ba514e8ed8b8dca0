"""What a new user meets on disk and on a pipe: a database file that is not ours, private files,
and output that is never wrapped when it is not read on a terminal."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest


def cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``cphpost-monitor ARGS`` as a user runs it, its output on a pipe (not a terminal)."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CPHMON_")}
    environ.pop("COLUMNS", None)
    environ.update({"CPHMON_DATA_DIR": str(tmp_path / "data"), "HOME": str(tmp_path), **env})
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        capture_output=True,
        text=True,
        env=environ,
        timeout=120,
        check=False,
    )


def database(tmp_path: Path) -> Path:
    return tmp_path / "data" / "cphpost-monitor.sqlite3"


@pytest.mark.parametrize("command", [["db", "stats"], ["status"], ["db", "upgrade"]])
def test_a_corrupt_database_file_gives_one_line_naming_the_file_and_exit_code_2(
    tmp_path: Path, command: list[str]
) -> None:
    path = database(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(bytes(range(256)) * 20)

    result = cli(tmp_path, *command)

    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(path) in lines[0]
    assert "not an SQLite database" in lines[0]


def test_a_sqlite_file_of_another_program_is_refused_not_migrated(tmp_path: Path) -> None:
    path = database(tmp_path)
    path.parent.mkdir(parents=True)
    with sqlite3.connect(path) as other:
        other.execute("CREATE TABLE contacts (name TEXT)")

    upgraded = cli(tmp_path, "db", "upgrade")
    stats = cli(tmp_path, "db", "stats")

    assert upgraded.returncode == 2, upgraded.stderr
    assert upgraded.stderr.strip().splitlines() == [
        f"error: {path} is not a cphpost-monitor database (it holds the table contacts): "
        "point CPHMON_DATABASE_URL or CPHMON_DATA_DIR elsewhere"
    ]
    assert stats.returncode == 2
    with sqlite3.connect(path) as other:
        tables = [row[0] for row in other.execute("SELECT name FROM sqlite_master")]
    assert tables == ["contacts"]


def test_the_data_directory_the_database_and_its_wal_are_private_to_their_owner(
    tmp_path: Path,
) -> None:
    assert cli(tmp_path, "db", "upgrade").returncode == 0
    assert cli(tmp_path, "db", "stats").returncode == 0

    data = tmp_path / "data"
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in [data, *data.iterdir()]}
    assert modes["data"] == 0o700
    assert modes["cphpost-monitor.sqlite3"] == 0o600
    assert all(mode & 0o077 == 0 for mode in modes.values()), modes


def test_output_to_a_pipe_never_splits_a_long_path_over_lines(tmp_path: Path) -> None:
    deep = tmp_path / ("a-rather-long-directory-name-" * 4) / "data"

    result = cli(tmp_path, "db", "upgrade", CPHMON_DATA_DIR=str(deep))

    assert result.returncode == 0, result.stderr
    assert f"sqlite:///{deep}/cphpost-monitor.sqlite3" in result.stdout
    assert len(result.stdout.strip().splitlines()) == 1


def test_db_stats_counts_the_rows_of_every_table_as_json(tmp_path: Path) -> None:
    import json

    assert cli(tmp_path, "db", "upgrade").returncode == 0

    result = cli(tmp_path, "db", "stats", "--json")

    assert result.returncode == 0, result.stderr
    stats = json.loads(result.stdout)
    assert {"article", "version", "change", "alert", "delivery"} <= set(stats["tables"])
    assert set(stats["tables"].values()) == {0}
    assert stats["bytes"] > 0
    assert set(stats["table_bytes"]) == set(stats["tables"])
