"""The database goes away under a running worker, and comes back.

The worker reaches PostgreSQL through a TCP proxy on loopback that the test can cut (every
connection reset, new ones refused) and restore. While the database is gone the worker must
not exit and must not send requests to the site (no rate-limit slot can be reserved: it fails
closed); once it is back, work resumes by itself and an edit made during the outage is alerted
exactly once.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from monitor.db import upgrade
from tests.dbs import pg_schema_url
from tests.e2e.harness import Monitor, more_rounds
from tests.support.replay import ReplaySite
from tests.support.sinks import WebhookSink

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

RATE_LIMIT = 10.0
# The outage lasts until the worker has tried to reach the database this many times and been
# refused: rounds observed, not seconds slept, so a loaded machine tests as much as a quiet one
# (each round would have sent requests had the worker failed open).
OUTAGE_ROUNDS = 3
# Requests that may still reach the site after the cut: those whose rate-limit slot was
# reserved before it, at most one per fetch slot (concurrency, 2 by default) plus the feed
# and the sitemap jobs. Counted, not timed: a loaded machine may send them late.
IN_FLIGHT = 2 + 2


class CuttableProxy:
    """A TCP proxy on 127.0.0.1 to ``upstream``; :meth:`cut` resets everything and refuses
    new connections until :meth:`restore`."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.up = threading.Event()
        self.up.set()
        self.closing = threading.Event()
        self.refused = 0  # connections refused while cut
        self._refusals = threading.Condition()
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        self.listener.settimeout(0.1)
        while not self.closing.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if not self.up.is_set():
                client.close()
                with self._refusals:
                    self.refused += 1
                    self._refusals.notify_all()
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open.update((client, server))
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            src.settimeout(None)
            while data := src.recv(65536):
                dst.sendall(data)
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        with self._refusals:
            self.refused = 0
        self.up.clear()
        with self._lock:
            conns, self._open = list(self._open), set()
        for sock in conns:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def restore(self) -> None:
        self.up.set()

    def wait_refused(self, n: int, timeout: float) -> None:
        """Block until ``n`` connections were refused since the last :meth:`cut`."""
        with self._refusals:
            if not self._refusals.wait_for(lambda: self.refused >= n, timeout):
                raise TimeoutError(f"{self.refused} of {n} connections refused in {timeout} s")

    def close(self) -> None:
        self.closing.set()
        self.cut()
        self.listener.close()
        self._thread.join(timeout=5)


@pytest.fixture
def site() -> Iterator[ReplaySite]:
    with ReplaySite.synthetic(40) as replay:
        yield replay


@pytest.fixture
def proxied_url() -> Iterator[tuple[str, CuttableProxy]]:
    with pg_schema_url() as url:
        upgrade(url)  # directly: the schema exists before the proxy is involved
        parts = urlsplit(url)
        proxy = CuttableProxy((parts.hostname or "127.0.0.1", parts.port or 5432))
        netloc = parts.netloc.replace(f"{parts.hostname}:{parts.port}", f"127.0.0.1:{proxy.port}")
        try:
            yield urlunsplit(parts._replace(netloc=netloc)), proxy
        finally:
            proxy.close()


def test_a_worker_survives_a_database_outage_and_sends_nothing_meanwhile(
    tmp_path: Path,
    site: ReplaySite,
    webhook_sink: WebhookSink,
    proxied_url: tuple[str, CuttableProxy],
) -> None:
    url, proxy = proxied_url
    monitor = Monitor(tmp_path, site.origin, database_url=url)
    try:
        monitor.set(feeds="/feed/", recheck_schedule="*:3s", poll_interval=2)
        monitor.run_once()
        target = next(s for s in reversed(site.articles) if s.migration)
        assert monitor.article(site.url(target.path)).relevant
        monitor.set(rate_limit=RATE_LIMIT, lease_seconds=4, notify_urls=webhook_sink.json_url())
        worker = monitor.start("worker")
        site.reset_log()
        site.wait_for("/20*", 5, timeout=60)  # re-checking

        proxy.cut()
        cut_at = time.monotonic()
        site.edit(target.path, _edit)
        proxy.wait_refused(OUTAGE_ROUNDS, timeout=120)
        assert worker.poll() is None, "the worker exited when the database went away"
        late = [(round(r.time - cut_at, 2), r.path) for r in site.requests if r.time > cut_at]
        assert len(late) <= IN_FLIGHT, f"requests without a database (no slot to reserve): {late}"
        proxy.restore()
        restored_at = time.monotonic()

        webhook_sink.wait_for(1, timeout=60)  # the edit, checked once the database is back
        assert site.count("/20*", since=restored_at) >= 1  # re-checks resumed by themselves
        more_rounds(site, 2)  # more rounds: the alert is not sent twice
        assert monitor.stop(worker) == 0
        assert len(webhook_sink.requests) == 1
        assert [a.kind for a in monitor.alerts() if a.kind == "changed"] == ["changed"]
        assert len(monitor.versions(site.url(target.path))) == 2
    finally:
        monitor.close()


def _edit(page: str) -> str:
    anchor = '<div class="entry-content">\n'
    return page.replace(
        anchor,
        anchor + "<p>Update: the council in Vejle commented on Friday, with new figures.</p>\n",
        1,
    )
