"""A local replay of cphpost.dk, so that no test ever talks to the live site.

:class:`ReplaySite` serves the recorded pages of ``tests/fixtures/cphpost`` (see its README) from
a threaded HTTP server on 127.0.0.1, with ``https://cphpost.dk`` rewritten to its own origin as a
staging mirror would, so every link in a feed, sitemap or page leads back to it. While the
service under test polls it, a test edits pages, publishes articles, swaps in later recordings
and injects faults; the request log lets it check politeness (rate, conditional requests).

``ReplaySite.synthetic(n)`` serves ``n`` generated articles instead, for scale tests and the
backfill benchmark. By hand: ``python -m tests.support.replay --port 8123 [--synthetic N]``.
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import fnmatch
import hashlib
import io
import json
import math
import re
import signal
import socket
import struct
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from tests.support import pages
from tests.support.pages import CET, LIVE, ArticleSpec
from tests.support.synthetic import NEWEST, generate

FIXTURES_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "cphpost"
HTML = "text/html; charset=UTF-8"
XML = "application/xml; charset=UTF-8"
RSS = "application/rss+xml; charset=UTF-8"
LOOP_PREFIX = "/__loop__"  # the "b" of a redirect loop a -> b -> a
FAULT_KINDS = frozenset(
    {
        "status",
        "retry_after",
        "delay",
        "reset",
        "truncate",
        "maintenance",
        "invalid_utf8",
        "huge",
        "redirect_loop",
        "offsite_redirect",
        "not_xml",
        "xml_bomb",
        "xxe",
    }
)
INVALID_UTF8 = b"\xff\xfe\xc3\x28\xa0\xa1\xe2\x28\xa1\xf0\x28\x8c\xbc"


def densest(times: Sequence[float], window_s: float = 1.0) -> int:
    """Most of ``times`` inside any half-open window ``[t, t + window_s)``: a rate limit's proof."""
    ordered = sorted(times)
    return max(
        (bisect.bisect_left(ordered, t + window_s) - i for i, t in enumerate(ordered)), default=0
    )


class LoggedRequest(NamedTuple):
    """One request as the site saw it; headers have lower-case names."""

    time: float  # time.monotonic() at arrival
    method: str
    path: str  # path and query, as requested
    status: int | None  # what was (or is being) answered; None when the socket was dropped
    headers: dict[str, str]


@dataclass(frozen=True, slots=True)
class _Resource:
    status: int
    body: bytes = b""
    content_type: str = HTML
    last_modified: float | None = None  # epoch seconds, whole
    location: str | None = None
    kind: str = "page"


@dataclass(eq=False)
class Fault:
    """An injected fault; ``remaining`` counts down when ``times`` was given, ``hits`` up."""

    pattern: str
    kind: str
    remaining: int | None
    opts: dict[str, Any]
    hits: int = 0


@dataclass
class _Plan:
    """What the handler sends: computed under the lock, sent outside it."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""
    delay: float = 0.0
    reset_after: int | None = None  # bytes of body to send before a TCP reset
    stream: tuple[int, int] | None = None  # huge: (total bytes, chunk bytes)
    stream_length: bool = False  # huge: announce Content-Length instead of chunking
    close: bool = False


def _key(url_or_path: str) -> str:
    """Path plus query: what identifies a page on the site, whatever origin it was named with."""
    parts = urlsplit(url_or_path)
    path = parts.path or "/"
    return f"{path}?{parts.query}" if parts.query else path


def _etag(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=8).hexdigest() + '"'


def _as_bytes(body: str | bytes) -> bytes:
    return body.encode("utf-8") if isinstance(body, str) else body


def _iso_epoch(value: str) -> float:
    return float(math.floor(datetime.fromisoformat(value).timestamp()))


def _recorded_date(entry: dict[str, Any], body: bytes) -> float | None:
    """Last-Modified as the site would send it: the recorded one, or a feed's build date."""
    if "last_modified" in entry:
        return _iso_epoch(entry["last_modified"])
    if m := re.search(rb"<lastBuildDate>([^<]+)</lastBuildDate>", body):
        with contextlib.suppress(TypeError, ValueError):
            return parsedate_to_datetime(m.group(1).decode()).timestamp()
    return None


def _etag_matches(header: str, etag: str) -> bool:
    """Weak comparison, as RFC 9110 prescribes for If-None-Match."""
    if header.strip() == "*":
        return True
    bare = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == bare for tag in header.split(","))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    site: ReplaySite

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hanging up mid-request is routine here (timeouts, faults): no traceback."""
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    """Turns requests into ``ReplaySite._plan`` calls and sends the plan, faults included."""

    protocol_version = "HTTP/1.1"  # keep-alive, like the real site; needed for chunked bodies
    timeout = 30  # idle keep-alive connections give up their thread
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes: without this, Nagle plus delayed ACKs
        # add 40 ms to every response.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.site._connections.add(self.connection)
        self.server.site._count_connection()

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        self.server.site._connections.discard(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the site keeps its own log."""

    def do_GET(self) -> None:
        self._serve(head=False)

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def _other(self) -> None:
        self._serve(head=False)

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _other

    def _serve(self, head: bool) -> None:
        arrived = time.monotonic()
        site = self.server.site
        headers = {k.lower(): v for k, v in self.headers.items()}
        plan = site._plan(self.command, _key(self.path), headers, arrived)
        try:
            if plan.delay and site._stopping.wait(plan.delay):
                self.close_connection = True
                return
            self.send_response(plan.status)
            for name, value in plan.headers:
                self.send_header(name, value)
            if plan.close:
                self.send_header("Connection", "close")
                self.close_connection = True
            if plan.stream is not None:
                self._stream(head, plan)
                return
            self.end_headers()
            if head:
                return
            if plan.reset_after is not None:
                self.wfile.write(plan.body[: plan.reset_after])
                self.wfile.flush()
                self._reset()
                return
            self.wfile.write(plan.body)
        except OSError:  # the client left (timeout, hang-up) or stop() cut the connection
            self.close_connection = True

    def _stream(self, head: bool, plan: _Plan) -> None:
        assert plan.stream is not None
        total, chunk_size = plan.stream
        if plan.stream_length:
            self.send_header("Content-Length", str(total))
        else:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if head:
            return
        opening = (
            b'<!DOCTYPE html>\n<html lang="en-GB"><head><meta charset="UTF-8">'
            b"<title>The Copenhagen Post</title></head><body>\n"
        )
        line = b"<p>" + b"The Copenhagen Post " * 40 + b"</p>\n"
        filler = line * (chunk_size // len(line) + 1)
        sent = 0
        while sent < total and not self.server.site._stopping.is_set():
            piece = (opening + filler)[:chunk_size] if sent == 0 else filler[:chunk_size]
            piece = piece[: total - sent]
            if plan.stream_length:
                self.wfile.write(piece)
            else:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            sent += len(piece)
        if not plan.stream_length:
            self.wfile.write(b"0\r\n\r\n")

    def _reset(self) -> None:
        """Drop the connection with a TCP RST (SO_LINGER 0), the way a crashed proxy does."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with contextlib.suppress(OSError):
            self.rfile.close()  # the socket closes (and resets) once its files are closed
            self.wfile.close()
            self.connection.close()
        # http.server still flushes and closes these after the handler returns.
        self.rfile, self.wfile = io.BytesIO(), io.BytesIO()


class ReplaySite:
    """The recorded cphpost.dk on ``http://127.0.0.1:PORT``, editable and breakable by tests.

    Pages are addressed by path plus query (``"/feed/"``, ``"/?p=148207"``); a full URL with any
    origin is accepted too. Edits are thread-safe and take effect on the next request. Bodies are
    stored as recorded (links to ``https://cphpost.dk``) and rewritten when served.
    """

    _redesign: Callable[[str], str] | None = None  # see redesign()

    def __init__(
        self,
        fixtures_dir: Path | str = FIXTURES_DIR,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        recorded: bool = True,
    ) -> None:
        self.fixtures_dir = Path(fixtures_dir).resolve()
        self.host, self._port = host, port
        self._lock = threading.RLock()
        self._logged = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._opened = 0  # TCP connections accepted since the last reset_log()
        self._headers: dict[str, list[tuple[str, str]]] = {}  # extra response headers by key
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._origin: str | None = None
        self._static: dict[str, _Resource] = {}
        self._versions: dict[str, dict[str, _Resource]] = {}
        self._overrides: dict[str, _Resource] = {}
        self._alternates: dict[str, tuple[list[bytes], int]] = {}
        self._faults: list[Fault] = []
        self._log: list[LoggedRequest] = []
        self._catalog: _Catalog | None = None
        self._feed_size = 10
        self._next_post_id = 1
        self.today = date.today()
        self.entries: list[dict[str, Any]] = []
        if recorded:
            self._load_manifest()
        else:
            self._load_robots()

    # Lifecycle ------------------------------------------------------------------------------

    @classmethod
    def synthetic(
        cls,
        n_articles: int,
        *,
        seed: int = 1,
        migration_share: float = 0.3,
        newest: datetime = NEWEST,
        spacing: timedelta = timedelta(hours=7),
        feed_size: int = 20,
        sitemap_size: int = 1000,
        listing_size: int = 10,
        fixtures_dir: Path | str = FIXTURES_DIR,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> ReplaySite:
        """A site of ``n_articles`` generated articles (not started), pages rendered on demand.

        ``/feed/`` and ``/category/<section>/feed/`` list the newest ``feed_size``;
        ``/sitemap_index.xml`` names post sitemaps of at most ``sitemap_size`` URLs, oldest
        first as Yoast writes them; ``/category/<section>/[page/N/]`` lists ``listing_size``
        per page; ``/?p=ID`` and slash-less URLs redirect. ``site.articles`` is the ground truth.
        """
        site = cls(fixtures_dir, host=host, port=port, recorded=False)
        specs = generate(
            n_articles,
            seed=seed,
            migration_share=migration_share,
            newest=newest,
            spacing=spacing,
        )
        site._catalog = _Catalog(
            specs,
            pages.article_template(site.fixtures_dir),
            feed_size=feed_size,
            sitemap_size=sitemap_size,
            listing_size=listing_size,
            today=site.today,
        )
        site._feed_size = feed_size
        site._next_post_id = max((s.post_id for s in specs), default=0) + 1
        return site

    def start(self) -> ReplaySite:
        if self._server is not None:
            return self
        self._stopping.clear()
        server = _Server((self.host, self._port), _Handler)
        server.site = self
        self._server = server
        self._port = int(server.server_address[1])  # a restart comes back on the same port
        self._origin = f"http://{self.host}:{self._port}"
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.name = f"replay-site-{self._port}"
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and cut open connections (delayed answers give up at once)."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        for conn in list(self._connections):
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> ReplaySite:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:PORT``; the port stays the same across a restart."""
        if self._origin is None:
            raise RuntimeError("the replay site is not started")
        return self._origin

    @property
    def port(self) -> int:
        return int(self.origin.rsplit(":", 1)[1])

    @property
    def connections_opened(self) -> int:
        """TCP connections accepted since start (or the last ``reset_log``): to prove reuse."""
        with self._lock:
            return self._opened

    def _count_connection(self) -> None:
        with self._lock:
            self._opened += 1

    def set_headers(self, path: str, **headers: str) -> None:
        """Send these response headers with ``path`` from now on (``cache_control="max-age=60"``
        sends ``Cache-Control``); no arguments: none."""
        items = [(name.replace("_", "-").title(), value) for name, value in headers.items()]
        with self._lock:
            self._headers[_key(path)] = items

    @property
    def open_connections(self) -> int:
        """Client connections being served or kept alive right now (to spot leaks and hang-ups)."""
        return len(self._connections)

    def url(self, path: str = "/") -> str:
        """Absolute URL on this site for a path (or for a recorded ``https://cphpost.dk`` URL)."""
        return self.origin + _key(path)

    # What there is --------------------------------------------------------------------------

    def paths(self, kind: str | None = None) -> list[str]:
        """Manifest paths in manifest order, optionally of one kind (``"article"``, ...)."""
        return [_key(e["url"]) for e in self.entries if kind is None or e["kind"] == kind]

    @property
    def articles(self) -> list[ArticleSpec]:
        """Generated articles of a synthetic site, oldest first (empty for the recorded site)."""
        return list(self._catalog.specs) if self._catalog else []

    def body(self, path: str) -> bytes:
        """The body a plain GET of ``path`` gets now (rewritten; faults and flip-flops aside)."""
        with self._lock:
            res = self._lookup(_key(path))
        return self._rewrite(self._redesigned(res)) if res else b""

    # Editing --------------------------------------------------------------------------------

    def set_page(
        self,
        path: str,
        body: str | bytes,
        status: int = 200,
        content_type: str = HTML,
    ) -> None:
        """Serve ``body`` at ``path`` from now on (new ETag, newer Last-Modified)."""
        key = _key(path)
        with self._lock:
            self._put(key, _Resource(status, _as_bytes(body), content_type))

    def edit(self, path: str, transform: Callable[[str], str]) -> None:
        """Rewrite the current page through ``transform`` (text as stored: live-site links)."""
        key = _key(path)
        with self._lock:
            res = self._lookup(key)
            if res is None or res.location is not None:
                raise KeyError(f"no page to edit at {key}")
            text = res.body.decode("utf-8", errors="surrogateescape")
            new = transform(text).encode("utf-8", errors="surrogateescape")
            self._put(key, replace(res, body=new))

    def delete(self, path: str, status: int = 404) -> None:
        """Make ``path`` answer ``status`` (404 or 410) with the site's not-found page."""
        key = _key(path)
        with self._lock:
            self._put(key, _Resource(status, pages.not_found_page().encode(), kind="missing"))

    def restore(self, path: str) -> None:
        """Back to the recording (or to nothing, for an added page); ends any flip-flop."""
        key = _key(path)
        with self._lock:
            self._overrides.pop(key, None)
            self._alternates.pop(key, None)

    def use_version(self, path: str, file: str | None = None) -> None:
        """Serve the later recording (``article-version``) of ``path``; ``file`` picks one."""
        key = _key(path)
        with self._lock:
            versions = self._versions.get(key, {})
            if file is None and len(versions) == 1:
                res = next(iter(versions.values()))
            else:
                found = [v for f, v in versions.items() if file and (f == file or f.endswith(file))]
                if len(found) != 1:
                    raise KeyError(f"no single version {file!r} of {key}; have {list(versions)}")
                res = found[0]
            self._put(key, res)

    def redesign(self, transform: Callable[[str], str] | None) -> None:
        """Serve every article page through ``transform`` from now on: a theme redesign (the
        markup changes, the text stays). Edits and articles added meanwhile are served
        redesigned too; a page ``transform`` raises ``ValueError`` on is served as it is.
        ``None`` switches back to the original theme."""
        with self._lock:
            self._redesign = transform

    def _redesigned(self, res: _Resource) -> bytes:
        transform = self._redesign
        if transform is None or res.status != 200 or b'class="entry-content"' not in res.body:
            return res.body
        try:
            return transform(res.body.decode("utf-8")).encode("utf-8")
        except ValueError:
            return res.body

    def versions(self, path: str) -> list[str]:
        """Manifest files of the later recordings of ``path``."""
        return list(self._versions.get(_key(path), {}))

    def alternate(self, path: str, bodies: Sequence[str | bytes]) -> None:
        """Serve ``bodies`` in turn, one per request, cyclically: a CDN flip-flopping."""
        if not bodies:
            raise ValueError("alternate() needs at least one body")
        with self._lock:
            self._alternates[_key(path)] = ([_as_bytes(b) for b in bodies], 0)

    def redirect(self, path: str, location: str, status: int = 301) -> None:
        """Make ``path`` redirect to ``location`` (a path, or an absolute URL kept as is)."""
        with self._lock:
            self._put(_key(path), _Resource(status, location=location, kind="redirect"))

    def add_article(
        self,
        slug: str,
        title: str,
        paragraphs: Sequence[str],
        *,
        date: datetime | None = None,
        post_id: int | None = None,
        section: str = "news",
        author: str = "The Copenhagen Post",
        standfirst: str | None = None,
        tags: Sequence[str] = (),
        related: Sequence[tuple[str, str]] = (),
    ) -> ArticleSpec:
        """Publish a new article, as WordPress would, and return what was published.

        The page is rendered from a recorded article; it goes on top of ``/feed/``, of the feeds
        and first listing pages of its category and tags where the site has them, and into the
        last post sitemap (a new one past the size limit) with the index's ``lastmod`` updated.
        ``/?p=ID`` and the slash-less URL redirect to it. ``date`` defaults to now.
        """
        published = (date or datetime.now(CET)).replace(microsecond=0)
        if published.tzinfo is None:
            published = published.replace(tzinfo=CET)
        with self._lock:
            if post_id is None:
                post_id = self._next_post_id
            self._next_post_id = max(self._next_post_id, post_id + 1)
            spec = ArticleSpec(
                path=f"/{published:%Y-%m-%d}/{section}/{slug}/",
                title=title,
                paragraphs=tuple(paragraphs),
                published=published,
                post_id=post_id,
                section=section,
                author=author,
                standfirst=standfirst if standfirst is not None else _standfirst(paragraphs),
                tags=tuple(tags),
                related=tuple(related),
            )
            page = pages.article_template(self.fixtures_dir).render(spec, today=self.today)
            self._put(spec.path, _Resource(200, page.encode(), HTML))
            self._put(f"/?p={post_id}", _Resource(301, location=spec.url, kind="redirect"))
            self._put(spec.path.rstrip("/"), _Resource(301, location=spec.url, kind="redirect"))
            feeds = ["/feed/", f"/category/{section}/feed/"]
            feeds += [f"/tag/{pages.slugify(t)}/feed/" for t in tags]
            for feed in feeds:
                self._edit_existing(feed, lambda t: pages.feed_with_item(t, spec, self._feed_size))
            for listing in [f"/category/{section}/"] + [f"/tag/{pages.slugify(t)}/" for t in tags]:
                self._edit_existing(listing, lambda t: pages.listing_with_teaser(t, spec))
            self._add_to_sitemap(spec)
        return spec

    # Faults ---------------------------------------------------------------------------------

    def fault(self, pattern: str, kind: str, times: int | None = None, **opts: Any) -> Fault:
        """Break requests whose path(+query) matches the glob ``pattern``.

        ``times=N`` lifts the fault after N matching requests. Kinds and options:
        ``status`` (status=503), ``retry_after`` (status=429, seconds=1, http_date=False),
        ``delay`` (seconds=5: then the normal answer), ``reset`` (fraction=0.3 of the body,
        then a TCP reset), ``truncate`` (fraction=0.4, Content-Length of the cut body),
        ``maintenance`` (status=200), ``invalid_utf8``, ``huge`` (mb=50, chunk_kb=64,
        content_length=False: chunked), ``redirect_loop`` (status=301), ``offsite_redirect``
        (location="http://127.0.0.2:1/", status=301), ``not_xml`` (content_type=HTML),
        ``xml_bomb`` (levels=9), ``xxe`` (target="file:///etc/passwd").
        The first matching fault added wins.
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; one of {sorted(FAULT_KINDS)}")
        if times is not None and times < 1:
            raise ValueError("times must be at least 1")
        new = Fault(pattern, kind, times, opts)
        with self._lock:
            self._faults.append(new)
        return new

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    # Request log ----------------------------------------------------------------------------

    @property
    def requests(self) -> list[LoggedRequest]:
        """Every request so far, in arrival order (a copy)."""
        with self._lock:
            return list(self._log)

    def count(
        self,
        pattern: str = "*",
        method: str | None = None,
        *,
        since: float | None = None,
        until: float | None = None,
    ) -> int:
        """Requests whose path(+query) matches the glob ``pattern`` (and ``method``), that
        arrived at or after ``since`` and at or before ``until`` (``time.monotonic()`` values)
        where given: rounds of the service between two moments of a test."""
        return sum(
            1
            for r in self._matching(pattern, method)
            if (since is None or r.time >= since) and (until is None or r.time <= until)
        )

    def max_rate(self, window_s: float = 1.0, pattern: str = "*") -> int:
        """Most requests that arrived within any ``window_s`` seconds: to check rate limits."""
        return densest([r.time for r in self._matching(pattern, None)], window_s)

    def wait_for(self, pattern: str = "*", n: int = 1, timeout: float = 10.0) -> int:
        """Block until ``n`` requests matched ``pattern``; the count, or TimeoutError."""
        deadline = time.monotonic() + timeout
        with self._logged:
            while (seen := self.count(pattern)) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{seen} of {n} requests for {pattern} in {timeout} s")
                self._logged.wait(left)
            return seen

    def reset_log(self) -> None:
        with self._lock:
            self._log.clear()
            self._opened = 0

    def _matching(self, pattern: str, method: str | None) -> list[LoggedRequest]:
        with self._lock:
            return [
                r
                for r in self._log
                if (r.path == pattern or fnmatch.fnmatchcase(r.path, pattern))
                and (method is None or r.method == method)
            ]

    # Internals ------------------------------------------------------------------------------

    def _load_robots(self) -> None:
        robots = (self.fixtures_dir / "robots.txt").read_bytes()
        self._static["/robots.txt"] = _Resource(200, robots, "text/plain; charset=UTF-8", 0.0)

    def _load_manifest(self) -> None:
        self.entries = json.loads((self.fixtures_dir / "manifest.json").read_text("utf-8"))
        loaded = float(math.floor(time.time()))
        post_ids = [0]
        for entry in self.entries:
            key, kind = _key(entry["url"]), entry["kind"]
            if m := re.fullmatch(r"/\?p=(\d+)", key):
                post_ids.append(int(m.group(1)))
            if "location" in entry:
                res = _Resource(entry["status"], location=entry["location"], kind=kind)
            elif "file" not in entry:
                res = _Resource(entry["status"], pages.not_found_page().encode(), kind=kind)
            else:
                body = (self.fixtures_dir / entry["file"]).read_bytes()
                res = _Resource(
                    entry["status"],
                    body,
                    entry.get("content_type", HTML),
                    _recorded_date(entry, body) or loaded,
                    kind=kind,
                )
            if kind == "article-version":
                self._versions.setdefault(key, {})[entry["file"]] = res
            else:
                self._static[key] = res
        self._next_post_id = max(post_ids) + 1

    def _lookup(self, key: str) -> _Resource | None:
        """Current resource at ``key``: edits, then the recording, then the generated site."""
        for candidate in (key, key.split("?", 1)[0]) if "?" in key else (key,):
            if candidate == "/" and candidate != key:
                break  # "/?p=unknown" is a 404, not the front page
            res = self._overrides.get(candidate) or self._static.get(candidate)
            if res is None and self._catalog is not None:
                res = self._catalog.resource(candidate)
            if res is not None:
                return res
        return None

    def _put(self, key: str, res: _Resource) -> None:
        """Store an edit with a Last-Modified strictly after the one it replaces."""
        previous = self._lookup(key)
        now = float(math.floor(time.time()))
        if previous is not None and previous.last_modified is not None:
            now = max(now, previous.last_modified + 1)
        self._overrides[key] = replace(res, last_modified=now)
        self._alternates.pop(key, None)

    def _edit_existing(self, key: str, transform: Callable[[str], str]) -> None:
        res = self._lookup(key)
        if res is not None and res.status == 200 and res.location is None:
            self._put(key, replace(res, body=transform(res.body.decode("utf-8")).encode()))

    def _add_to_sitemap(self, spec: ArticleSpec) -> None:
        index = self._lookup("/sitemap_index.xml")
        if index is None:
            return
        text = index.body.decode("utf-8")
        locs = re.findall(r"<loc>([^<]+)</loc>", text)
        last = _key(locs[-1]) if locs else "/post-sitemap.xml"
        current = self._lookup(last)
        url = pages.sitemap_url(spec.path, spec.published)
        limit = self._catalog.sitemap_size if self._catalog else 1000
        if current is None or current.body.count(b"<url>") >= limit:
            number = len(locs) + 1
            last = f"/post-sitemap{number}.xml"
            self._put(
                last, _Resource(200, pages.urlset([(spec.path, spec.published)]).encode(), XML)
            )
            entry = (
                f"<sitemap><loc>{LIVE}{last}</loc>"
                f"<lastmod>{spec.published.isoformat()}</lastmod></sitemap>\n"
            )
            text = text.replace("</sitemapindex>", entry + "</sitemapindex>")
        else:
            body = current.body.decode("utf-8").replace("</urlset>", url + "</urlset>")
            self._put(last, replace(current, body=body.encode()))
            text = re.sub(
                rf"(<loc>[^<]*{re.escape(last)}</loc><lastmod>)[^<]*(</lastmod>)",
                lambda m: m.group(1) + spec.published.isoformat() + m.group(2),
                text,
            )
        self._put("/sitemap_index.xml", replace(index, body=text.encode()))

    def _rewrite(self, data: bytes) -> bytes:
        origin = self.origin.encode()
        return (
            data.replace(b"https://cphpost.dk", origin)
            .replace(b"http://cphpost.dk", origin)
            .replace(b"//cphpost.dk", origin.removeprefix(b"http:"))
        )

    def _location(self, location: str) -> str:
        if location.startswith("/"):
            return self.origin + location
        return self._rewrite(location.encode()).decode()

    def _plan(self, method: str, key: str, headers: dict[str, str], arrived: float) -> _Plan:
        with self._lock:
            plan = self._plan_locked(method, key, headers)
            self._log.append(LoggedRequest(arrived, method, key, plan.status, headers))
            self._logged.notify_all()
            return plan

    def _plan_locked(
        self, method: str, key: str, headers: dict[str, str], faults: bool = True
    ) -> _Plan:
        if key.startswith(LOOP_PREFIX + "/"):
            target = self.origin + key.removeprefix(LOOP_PREFIX)
            return _Plan(301, [("Location", target), *_empty()])
        fault = self._take_fault(key) if faults else None
        if fault is not None and fault.kind == "delay":
            plan = self._plan_locked(method, key, headers, faults=False)  # the normal answer, late
            plan.delay = float(fault.opts.get("seconds", 5.0))
            return plan
        res = self._lookup(key)
        if key in self._alternates:
            bodies, turn = self._alternates[key]
            self._alternates[key] = (bodies, turn + 1)
            base = res or _Resource(200)
            res = replace(base, status=200, body=bodies[turn % len(bodies)], location=None)
        if res is None:
            res = _Resource(404, pages.not_found_page().encode(), kind="missing")
        if fault is not None:
            return self._fault_plan(fault, key, res)
        if method not in ("GET", "HEAD"):  # the request body stays unread: close
            return _Plan(405, [("Allow", "GET, HEAD"), *_empty()], close=True)
        if res.location is not None:
            return _Plan(res.status, [("Location", self._location(res.location)), *_empty()])
        body = self._rewrite(self._redesigned(res))
        etag = _etag(body)
        meta = [("ETag", etag), *self._headers.get(key, [])]
        if res.last_modified is not None:
            meta.append(("Last-Modified", formatdate(res.last_modified, usegmt=True)))
        if res.status == 200 and self._not_modified(headers, etag, res.last_modified):
            return _Plan(304, meta)
        return _Plan(res.status, _entity(res.content_type, body) + meta, body)

    @staticmethod
    def _not_modified(headers: dict[str, str], etag: str, last_modified: float | None) -> bool:
        if "if-none-match" in headers:  # it takes precedence over If-Modified-Since
            return _etag_matches(headers["if-none-match"], etag)
        since = headers.get("if-modified-since")
        if since and last_modified is not None:
            try:
                return parsedate_to_datetime(since).timestamp() >= last_modified
            except (TypeError, ValueError):
                return False
        return False

    def _take_fault(self, key: str) -> Fault | None:
        for fault in self._faults:
            if fault.pattern == key or fnmatch.fnmatchcase(key, fault.pattern):
                fault.hits += 1
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                return fault
        return None

    def _fault_plan(self, fault: Fault, key: str, res: _Resource) -> _Plan:
        kind, opts = fault.kind, fault.opts
        if kind == "status":
            status = int(opts.get("status", 503))
            return _Plan(status, *_page(pages.error_page(status)))
        if kind == "retry_after":
            status, seconds = int(opts.get("status", 429)), float(opts.get("seconds", 1))
            when = (
                formatdate(time.time() + seconds, usegmt=True)
                if opts.get("http_date")
                else str(math.ceil(seconds))
            )
            headers, body = _page(pages.error_page(status))
            return _Plan(status, [("Retry-After", when), *headers], body)
        if kind == "maintenance":
            return _Plan(int(opts.get("status", 200)), *_page(pages.maintenance_page()))
        if kind == "not_xml":
            content_type = str(opts.get("content_type", HTML))
            body = pages.front_page().encode()
            return _Plan(200, _entity(content_type, body), body)
        if kind in ("xml_bomb", "xxe"):
            doc = _xml_attack(kind, key, opts).encode()
            content_type = res.content_type if "xml" in res.content_type else XML
            return _Plan(200, _entity(content_type, doc), doc)
        if kind == "redirect_loop":
            status = int(opts.get("status", 301))
            return _Plan(status, [("Location", self.origin + LOOP_PREFIX + key), *_empty()])
        if kind == "offsite_redirect":
            status = int(opts.get("status", 301))
            return _Plan(
                status, [("Location", str(opts.get("location", "http://127.0.0.2:1/"))), *_empty()]
            )
        if kind == "huge":
            total = int(float(opts.get("mb", 50)) * 1024 * 1024)
            chunk = int(float(opts.get("chunk_kb", 64)) * 1024)
            return _Plan(
                200,
                [("Content-Type", HTML)],
                stream=(total, chunk),
                stream_length=bool(opts.get("content_length", False)),
                close=True,
            )
        body = self._rewrite(res.body)
        if kind == "reset":
            cut = int(len(body) * float(opts.get("fraction", 0.3)))
            return _Plan(
                res.status, _entity(res.content_type, body), body, reset_after=cut, close=True
            )
        if kind == "truncate":
            body = body[: int(len(body) * float(opts.get("fraction", 0.4)))]
            return _Plan(
                res.status, [*_entity(res.content_type, body), ("ETag", _etag(body))], body
            )
        if kind == "invalid_utf8":
            anchor = body.find(b'<div class="entry-content">\n<p>')
            at = (
                anchor + len(b'<div class="entry-content">\n<p>') + 12
                if anchor >= 0
                else len(body) // 2
            )
            body = body[:at] + INVALID_UTF8 + body[at:]
            return _Plan(
                res.status, [*_entity(res.content_type, body), ("ETag", _etag(body))], body
            )
        raise AssertionError(f"unhandled fault kind {kind}")  # pragma: no cover


def _entity(content_type: str, body: bytes) -> list[tuple[str, str]]:
    return [("Content-Type", content_type), ("Content-Length", str(len(body)))]


def _empty() -> list[tuple[str, str]]:
    return [("Content-Type", HTML), ("Content-Length", "0")]


def _page(text: str) -> tuple[list[tuple[str, str]], bytes]:
    body = text.encode()
    return _entity(HTML, body), body


def _standfirst(paragraphs: Sequence[str]) -> str:
    first = next((p for p in paragraphs if not p.startswith("## ")), "")
    return first if len(first) <= 160 else first[:157].rsplit(" ", 1)[0] + " […]"


def _xml_attack(kind: str, key: str, opts: dict[str, Any]) -> str:
    """A billion-laughs or external-entity document shaped like what ``key`` should be."""
    if kind == "xml_bomb":
        levels = int(opts.get("levels", 9))
        decls = ['<!ENTITY lol0 "lol">'] + [
            f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, levels + 1)
        ]
        ref = f"&lol{levels};"
    else:
        decls = [f'<!ENTITY xxe SYSTEM "{opts.get("target", "file:///etc/passwd")}">']
        ref = "&xxe;"
    root = "sitemapindex" if "sitemap_index" in key else "urlset" if "sitemap" in key else "rss"
    doctype = f"<!DOCTYPE {root} [\n " + "\n ".join(decls) + "\n]>\n"
    if root == "rss":
        content = (
            '<rss version="2.0"><channel><title>The Copenhagen Post</title>'
            f"<link>{LIVE}/</link><item><title>{ref}</title>"
            f"<link>{LIVE}/2025-06-01/news/entity/</link><description>{ref}</description>"
            "</item></channel></rss>\n"
        )
    else:
        tag = "sitemap" if root == "sitemapindex" else "url"
        content = (
            f'<{root} xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><{tag}>'
            f"<loc>{LIVE}/{ref}</loc><lastmod>2025-06-01T09:00:00+01:00</lastmod></{tag}>"
            f"</{root}>\n"
        )
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + doctype + content


@dataclass
class _Catalog:
    """The generated site: every page derived from ``specs`` when asked, recent ones cached."""

    specs: list[ArticleSpec]
    template: pages.ArticleTemplate
    feed_size: int
    sitemap_size: int
    listing_size: int
    today: date
    by_path: dict[str, ArticleSpec] = field(init=False)
    by_id: dict[int, ArticleSpec] = field(init=False)
    sections: dict[str, list[ArticleSpec]] = field(init=False)  # newest first
    cache: OrderedDict[str, _Resource | None] = field(init=False)
    cache_lock: threading.Lock = field(init=False)

    def __post_init__(self) -> None:
        self.by_path = {s.path: s for s in self.specs}
        self.by_id = {s.post_id: s for s in self.specs}
        self.sections = {}
        for spec in reversed(self.specs):
            self.sections.setdefault(spec.section, []).append(spec)
        self.cache = OrderedDict()
        self.cache_lock = threading.Lock()

    def resource(self, key: str) -> _Resource | None:
        with self.cache_lock:
            if key in self.cache:
                self.cache.move_to_end(key)
                return self.cache[key]
        res = self._render(key)
        with self.cache_lock:
            self.cache[key] = res
            if len(self.cache) > 512:
                self.cache.popitem(last=False)
        return res

    def _render(self, key: str) -> _Resource | None:
        if spec := self.by_path.get(key):
            page = self.template.render(spec, today=self.today)
            return _Resource(200, page.encode(), HTML, spec.published.timestamp(), kind="article")
        if (m := re.fullmatch(r"/\?p=(\d+)", key)) and (spec := self.by_id.get(int(m.group(1)))):
            return _Resource(301, location=spec.url, kind="redirect")
        if spec := self.by_path.get(key + "/"):
            return _Resource(301, location=spec.url, kind="redirect")
        newest = list(reversed(self.specs))
        if key == "/feed/":
            return self._feed(key, "The Copenhagen Post", newest)
        if (m := re.fullmatch(r"/category/([a-z-]+)/feed/", key)) and m.group(1) in self.sections:
            title = f"The Copenhagen Post &#187; {pages.section_label(m.group(1))}"
            return self._feed(key, title, self.sections[m.group(1)])
        if m := re.fullmatch(r"/category/([a-z-]+)/(?:page/(\d+)/)?", key):
            return self._listing(m.group(1), int(m.group(2) or 1))
        if key == "/sitemap_index.xml":
            maps = [
                (self._sitemap_path(i), max((s.published for s in chunk), default=NEWEST))
                for i, chunk in enumerate(self._chunks())
            ]
            return _Resource(200, pages.sitemap_index(maps).encode(), XML, _last(maps))
        if m := re.fullmatch(r"/post-sitemap(\d*)\.xml", key):
            number = int(m.group(1) or 1)
            chunks = self._chunks()
            if m.group(1) == "1" or not 1 <= number <= len(chunks):
                return None
            entries = [(s.path, s.published) for s in chunks[number - 1]]
            return _Resource(200, pages.urlset(entries).encode(), XML, _last(entries))
        return None

    def _feed(self, key: str, title: str, newest: list[ArticleSpec]) -> _Resource:
        items = newest[: self.feed_size]
        body = pages.feed_document(key, title, items).encode()
        return _Resource(200, body, RSS, items[0].published.timestamp() if items else 0.0)

    def _listing(self, section: str, page: int) -> _Resource | None:
        specs = self.sections.get(section, [])
        pages_count = max(1, math.ceil(len(specs) / self.listing_size))
        if not specs or page > pages_count:
            return None
        chunk = specs[(page - 1) * self.listing_size : page * self.listing_size]
        base = f"/category/{section}/"
        label = pages.section_label(section)
        body = pages.listing_page(base, label, page, pages_count, chunk).encode()
        return _Resource(200, body, HTML, chunk[0].published.timestamp())

    def _chunks(self) -> list[list[ArticleSpec]]:
        size = self.sitemap_size
        return [self.specs[i : i + size] for i in range(0, len(self.specs), size)] or [[]]

    @staticmethod
    def _sitemap_path(index: int) -> str:
        return "/post-sitemap.xml" if index == 0 else f"/post-sitemap{index + 1}.xml"


def _last(entries: list[tuple[str, datetime]]) -> float:
    return max((when.timestamp() for _, when in entries), default=0.0)


def main(argv: Sequence[str] | None = None) -> None:
    """Serve the recorded (or a synthetic) site until Ctrl-C."""
    parser = argparse.ArgumentParser(prog="python -m tests.support.replay", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8123)
    parser.add_argument("--synthetic", type=int, metavar="N", help="serve N generated articles")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--fixtures", type=Path, default=FIXTURES_DIR)
    args = parser.parse_args(argv)
    if args.synthetic is not None:
        site = ReplaySite.synthetic(
            args.synthetic,
            seed=args.seed,
            fixtures_dir=args.fixtures,
            host=args.host,
            port=args.port,
        )
    else:
        site = ReplaySite(args.fixtures, host=args.host, port=args.port)

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # SIGTERM (as from Popen.terminate) stops as cleanly as Ctrl-C

    signal.signal(signal.SIGTERM, interrupt)
    with site:
        what = (
            f"{args.synthetic} generated articles" if args.synthetic is not None else "recordings"
        )
        print(
            f"serving {what} on {site.origin} (feed {site.url('/feed/')}); Ctrl-C stops", flush=True
        )
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                signal.pause()  # until Ctrl-C or SIGTERM (see interrupt)


if __name__ == "__main__":
    main()
