"""``cphpost-monitor web`` as a real process: refuses unsafe binds, serves the database."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.web.conftest import Filled

TOKEN = "0123456789abcdef0123456789abcdef"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def env_for(filled: Filled, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CPHMON_")}
    env.update(
        CPHMON_DATABASE_URL=filled.url,
        CPHMON_DATA_DIR=str(filled.settings.data_dir),
        CPHMON_SITE_URL="https://cphpost.dk",
    )
    env.update(extra)
    return env


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "monitor", "web", *args]


def test_binding_all_interfaces_without_a_token_exits_2_with_one_line(filled: Filled) -> None:
    done = subprocess.run(
        command("--host", "0.0.0.0", "--port", str(free_port())),
        env=env_for(filled),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "CPHMON_WEB_TOKEN" in lines[0], done.stderr
    assert "Traceback" not in done.stderr


def test_a_database_without_schema_exits_2(tmp_path: Path, filled: Filled) -> None:
    env = env_for(filled, CPHMON_DATABASE_URL=f"sqlite:///{tmp_path / 'none.sqlite3'}")
    done = subprocess.run(command(), env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "db upgrade" in done.stderr


@pytest.fixture
def server(filled: Filled) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = free_port()
    process = subprocess.Popen(
        command("--host", "127.0.0.1", "--port", str(port)),
        env=env_for(filled, CPHMON_WEB_TOKEN=TOKEN),
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"{base}/healthz", timeout=2)
            break
        except httpx.TransportError:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline, "the web view did not start"
            time.sleep(0.05)
    yield base, process
    process.terminate()
    process.wait(timeout=30)


def test_the_web_command_serves_the_pages_and_says_a_token_is_required(
    server: tuple[str, subprocess.Popen[str]],
) -> None:
    base, process = server
    assert httpx.get(f"{base}/").status_code == 401
    page = httpx.get(f"{base}/", headers={"Authorization": f"Bearer {TOKEN}"})
    assert page.status_code == 200 and "Recent changes" in page.text
    assert "server" not in page.headers
    process.terminate()
    process.wait(timeout=30)
    assert process.stderr is not None
    first = process.stderr.readline()
    assert first.startswith(f"web view on {base}/")
    assert "token required" in first and "read-only" in first
