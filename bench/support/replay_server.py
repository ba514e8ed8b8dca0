"""The synthetic replay site in a process of its own, for benchmarks.

In its own process the server does not share the measured interpreter (its GIL, its CPU
accounting): ``bench/backfill.py`` and ``bench/scale.py`` time the monitor, not the site.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60.0  # seconds for the server to answer its first request


class Served(NamedTuple):
    origin: str  # http://127.0.0.1:PORT
    pid: int  # the server's process, to read its CPU time


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def replay_server(n: int) -> Iterator[Served]:
    """``python -m tests.support.replay --synthetic N`` in its own process, up and answering;
    stopped on exit."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.support.replay", "--synthetic", str(n), "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    origin = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                with urllib.request.urlopen(origin + "/robots.txt", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    err = proc.stderr.read().decode() if proc.stderr else ""
                    raise RuntimeError(f"replay server did not start: {err}") from None
                time.sleep(0.1)
        yield Served(origin, proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
