"""Backfill: years of history before the daemon starts watching.

The backfill walks the sitemaps (or an archive listing, or the feeds) back to ``since`` and runs
every article that is not stored yet, or stored before the source's newer ``lastmod``, through
the same :func:`monitor.check.check` the daemon uses, with the same polite :class:`Fetcher`
(robots.txt, the rate limit shared through the database, retries).

Why it is safe next to a running daemon: candidates are inserted with
:func:`~monitor.store.add_candidates` (unique URL, ``ON CONFLICT DO NOTHING``) and leased *in the
same transaction*, so the daemon never sees a backfill row it could claim (and alert on) before
the backfill does; rows the daemon holds are skipped (it is checking them). Every write is one
short ``BEGIN IMMEDIATE`` transaction on SQLite, which waits for the daemon's instead of failing.
All of this process's database work runs on the event loop's thread, like ``record()``: the
process never waits for itself in SQLite's busy handler, which sleeps (stalling every check).

Why it is resumable: an article's check is one transaction, so everything stored stays stored and
the skip rule passes over it on the next run; on top of that a :class:`Checkpoint` records each
sitemap fully processed (with its ``lastmod``: unchanged sitemaps are not even re-read) and the
listing page reached. A kill -9 leaves leases behind: the next run finds the dead run's name in
the ``backfill`` lease and releases them.

Memory stays flat in the number of articles: one sitemap (or listing page) of candidates at a
time, claimed in bounded batches into a bounded queue worked by a small pool of checks.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import pickle
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urljoin

from sqlalchemy import Engine, inspect
from sqlmodel import Session, col, select

from monitor.check import (
    Context,
    Prepared,
    Report,
    fetch_and_prepare,
    log_report,
    prepare,
    record,
    record_in,
    remember,
)
from monitor.classify import Rules
from monitor.daemon import make_context
from monitor.db import session
from monitor.discover import merge, read_sitemap_index, read_source
from monitor.fetch import FetchResult
from monitor.models import Article, ArticleStatus, Checkpoint, UrlAlias
from monitor.settings import Settings
from monitor.store import (
    Claim,
    acquire_lease,
    add_candidates,
    get_lease,
    release_claims,
    release_lease,
    utcnow,
    worker_name,
)
from scrapers.article import Article as Page
from scrapers.article import Candidate, ExtractionFailure
from scrapers.cphpost import DiscoveryError, SitemapRef, parse_feed, parse_listing, parse_sitemap

log = logging.getLogger(__name__)

Source = Literal["sitemap", "listing", "feed"]
SOURCES: tuple[Source, ...] = ("sitemap", "listing", "feed")
DEFAULT_LISTINGS: tuple[str, ...] = ("/category/news/",)
BACKFILL_LEASE = "backfill"  # one backfill per database; names the process that runs it
LEASE_TTL = 60.0  # renewed every LEASE_TTL / 3 while the backfill runs
MAX_BATCH = 100  # candidates planned (and leased) per transaction
_NEW_VERSION = frozenset({"new", "changed"})
OFFLOAD_AFTER = 100  # claims planned before extraction and classification move to a process
WRITE_BATCH = 16  # checks recorded in one transaction at most
WRITE_WAIT = 0.02  # seconds a check may wait for others to share its transaction
WAITING_CHECKS = 8  # checks fetched and prepared that may wait for the next transaction
_URL_DAY = re.compile(r"/(\d{4})-(\d{2})-(\d{2})/")
_PAGE_NUMBER = re.compile(r"/page/(\d+)/")
_DAY = timedelta(days=1)


class BackfillRunning(Exception):
    """Another backfill holds this database."""


@dataclass(slots=True)
class BackfillCounts:
    """What a backfill found and did; also the progress snapshot passed to ``progress``."""

    found: int = 0  # article URLs in the date range, in the sources read
    fetched: int = 0  # checked: the site answered and the outcome is stored
    skipped: int = 0  # stored and up to date, or being checked by the daemon right now
    relevant: int = 0  # fetched articles about migration
    failed: int = 0  # transient errors and extraction failures: the next run retries them
    new_versions: int = 0
    alerts: int = 0
    planned: int = 0  # queued for a check (a dry run: would be fetched)
    total: int | None = None  # estimate of all checks this run makes (for an ETA)
    sources: int = 0  # sitemaps, listing pages and feeds read
    source_errors: list[str] = field(default_factory=list)
    dry_run: bool = False
    interrupted: bool = False
    elapsed: float = 0.0

    @property
    def checked(self) -> int:
        return self.fetched + self.failed

    @property
    def rate(self) -> float:
        """Checks per second."""
        return self.checked / self.elapsed if self.elapsed > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["elapsed"] = round(self.elapsed, 3)
        data["per_second"] = round(self.rate, 1)
        return data


async def backfill(
    settings: Settings,
    engine: Engine,
    *,
    since: date | None,
    until: date | None,
    source: Source,
    limit: int | None,
    alert: bool,
    dry_run: bool,
    progress: Callable[[BackfillCounts], None] | None = None,
    listings: Sequence[str] = DEFAULT_LISTINGS,
    owner: str | None = None,
) -> BackfillCounts:
    """Fetch and store the history in ``[since, until]`` (publication dates, inclusive).

    ``limit`` caps the number of articles checked; ``alert`` lets relevant articles alert
    through the outbox; ``dry_run`` reads the sources and counts, fetching no article and
    writing nothing. ``progress`` gets a snapshot after every step (the same object, updated).
    Raises :class:`BackfillRunning` when another backfill runs on this database; on
    cancellation (Ctrl-C) it releases its claims, reports ``interrupted`` once more through
    ``progress`` and re-raises.
    """
    if source not in SOURCES:
        raise ValueError(f"source must be one of {', '.join(SOURCES)}, not {source!r}")
    if since is not None and until is not None and since > until:
        raise ValueError(f"since {since} is after until {until}")
    if limit is not None and limit < 1:
        raise ValueError("limit must be at least 1")
    run = _Run(
        settings,
        engine,
        owner or worker_name(),
        since=since,
        until=until,
        limit=limit,
        alert=alert,
        dry_run=dry_run,
        progress=progress,
    )
    return await run.run(source, listings)


# The skip rule and the date filter --------------------------------------------------------------


def article_day(candidate: Candidate) -> date | None:
    """The publication day: from the URL (``/YYYY-MM-DD/``), else the source's dates."""
    match = _URL_DAY.search(candidate.url)
    if match:
        with contextlib.suppress(ValueError):
            return date(int(match[1]), int(match[2]), int(match[3]))
    when = candidate.published or candidate.lastmod
    return when.date() if when is not None else None


def in_range(candidate: Candidate, since: date | None, until: date | None) -> bool:
    day = article_day(candidate)
    if day is None:
        return True  # undated: the range cannot exclude it
    return (since is None or day >= since) and (until is None or day <= until)


def up_to_date(article: Article | None, candidate: Candidate) -> bool:
    """Stored (a version, or confirmed gone) and checked since the source's ``lastmod``."""
    if article is None:
        return False
    if article.current_version_id is None and article.status != ArticleStatus.GONE:
        return False
    if candidate.lastmod is None:
        return True  # feeds and listings carry no lastmod: stored is enough
    checked = article.last_checked
    return checked is not None and _aware(checked) >= _aware(candidate.lastmod)


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


# Units of work and their checkpoints -----------------------------------------------------------


@dataclass(eq=False, slots=True)
class _Unit:
    """One sitemap or listing page: done when closed and every check it queued has finished."""

    key: str
    marker: str | None
    next_page: str | None = None  # listing pages: where the walk goes on
    outstanding: int = 0
    closed: bool = False
    complete: bool = True  # False: something was filtered out, cut by --limit, or failed
    on_done: Callable[[_Unit], Awaitable[None]] | None = None
    finished: bool = False

    @property
    def ok(self) -> bool:
        return self.finished and self.complete


@dataclass(slots=True)
class _Chain:
    """The pages of one listing walk. While it runs, the checkpoint is the first page not yet
    done (where a rerun continues); once every page is done, ``done`` with how far back it went
    (``cover``: a date, or "" for the end of the archive)."""

    key: str
    pending: list[_Unit] = field(default_factory=list)  # in page order
    record_pages: bool = True  # an incremental walk leaves the finished checkpoint alone
    cover: str | None = None  # set when the walk has ended without an error


def _read_checkpoints(engine: Engine, keys: Sequence[str]) -> dict[str, Checkpoint]:
    if not keys:
        return {}
    with session(engine) as db:
        rows = db.exec(select(Checkpoint).where(col(Checkpoint.key).in_(keys))).all()
        return {row.key: row for row in rows}


def _write_checkpoint(engine: Engine, key: str, done: bool, marker: str | None) -> None:
    with session(engine) as db:
        row = db.get(Checkpoint, key)
        if row is None:
            row = Checkpoint(key=key, updated_at=utcnow())
        row.done, row.marker, row.updated_at = done, marker, utcnow()
        db.add(row)


# Planning and claiming --------------------------------------------------------------------------


def _known(db: Session, urls: Sequence[str], *, lock: bool = False) -> dict[str, Article]:
    """Stored articles by URL, aliases included (a moved article answers for its old URL)."""
    query = select(Article).where(col(Article.url).in_(urls))
    if lock:
        query = query.with_for_update(skip_locked=True)
    found = {a.url: a for a in db.exec(query)}
    missing = [u for u in urls if u not in found]
    if missing:
        aliases = db.exec(select(UrlAlias).where(col(UrlAlias.url).in_(missing))).all()
        ids = {a.article_id for a in aliases}
        if ids:
            query = select(Article).where(col(Article.id).in_(ids))
            if lock:
                query = query.with_for_update(skip_locked=True)
            by_id = {a.id: a for a in db.exec(query)}
            for alias in aliases:
                if alias.article_id in by_id:
                    found[alias.url] = by_id[alias.article_id]
    return found


@dataclass(slots=True)
class _Plan:
    needed: int  # candidates not stored, or stored before their lastmod
    skipped: int  # up to date, or held by another worker (the daemon is checking it)
    claims: list[Claim]  # leased to us, at most ``room`` of them


def plan_batch(
    engine: Engine,
    candidates: Sequence[Candidate],
    *,
    owner: str,
    lease_seconds: float,
    room: int | None,
    dry_run: bool,
    now: datetime | None = None,
) -> _Plan:
    """Decide what to check and lease it, in one transaction.

    Unknown and outdated candidates go through ``add_candidates`` and are leased to ``owner``
    before the transaction commits, so no daemon can claim them first; ``room`` caps how many
    (``--limit``). A dry run only reads.
    """
    now = now or utcnow()
    with session(engine) as db:
        known = _known(db, [c.url for c in candidates])
        todo = [c for c in candidates if not up_to_date(known.get(c.url), c)]
        needed, skipped = len(todo), len(candidates) - len(todo)
        if room is not None:
            todo = todo[: max(room, 0)]
        if dry_run or not todo:
            return _Plan(needed, skipped, [])
        add_candidates(db, todo, now)
        rows = _known(db, [c.url for c in todo], lock=True)
        claims: list[Claim] = []
        claimed: set[int] = set()
        expires = now + timedelta(seconds=lease_seconds)
        for cand in todo:
            article = rows.get(cand.url)
            if article is None or article.id is None or article.id in claimed:
                skipped += 1  # locked by a daemon's claim (PostgreSQL), or an alias seen twice
                continue
            held = article.lease_expires is not None and _aware(article.lease_expires) > now
            if article.lease_owner not in (None, owner) and held:
                skipped += 1  # the daemon is checking it right now
                continue
            article.lease_owner, article.lease_expires = owner, expires
            db.add(article)
            claimed.add(article.id)
            claims.append(
                Claim(
                    article.id,
                    article.url,
                    article.etag,
                    article.last_modified,
                    article.status,
                    article.current_version_id,
                    owner,
                )
            )
        return _Plan(needed, skipped, claims)


# The backfill lease ----------------------------------------------------------------------------


def take_backfill_lease(engine: Engine, owner: str) -> str | None:
    """Become the one backfill of this database; returns the previous run's name when that run
    died holding it (its article leases are released here, so the rerun can claim them)."""
    held = get_lease(engine, BACKFILL_LEASE)
    previous = held.owner if held is not None else None
    if not acquire_lease(engine, BACKFILL_LEASE, owner, LEASE_TTL):
        if previous is None or not _dead_here(previous):
            until = held.expires_at if held is not None else None
            when = f" (lease until {_aware(until).isoformat(timespec='seconds')})" if until else ""
            raise BackfillRunning(
                f"another backfill ({previous or 'unknown'}) is running on this database{when}; "
                "wait for it to finish or stop it"
            )
        release_lease(engine, BACKFILL_LEASE, previous)
        if not acquire_lease(engine, BACKFILL_LEASE, owner, LEASE_TTL):
            raise BackfillRunning("another backfill took over the database just now; try again")
    if previous is not None and previous != owner:
        released = release_claims(engine, previous)
        if released:
            log.info("released %d article leases of the stopped backfill %s", released, previous)
        return previous
    return None


def _dead_here(owner: str) -> bool:
    """True when ``owner`` (``host:pid``) is a process of this host that no longer runs."""
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:  # a killed child its parent has not reaped yet is a zombie: dead too
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[:1] == ["Z"]


# Extraction and classification in a worker process ---------------------------------------------


class _Offload:
    """Runs :func:`monitor.check.prepare` (extraction, fingerprint, classification: pure, and
    most of a check's CPU) in one worker process, so it overlaps the event loop's HTTP and
    database work on another core.

    The worker is joined by a socket pair. While this process runs one thread (no lock can
    be held by a thread that would not exist in the child), it is forked: ready at once, the
    rules already compiled; the child closes every inherited descriptor but its socket and
    its standard streams (no connection to the site or the database stays open in it) and
    never returns. Otherwise it is a fresh interpreter (``python -c``, the parent's
    ``sys.path``; not multiprocessing's spawn, which re-runs the main module), ready after
    about a second of imports. Jobs and answers are pickled; the event loop reads answers
    when the socket is readable (no executor threads to wake). Checks run ``prepare`` inline
    until the worker is ready and for good once it has ended (its unanswered jobs too); an
    exception ``prepare`` raises in the worker is raised here, as inline.
    """

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.ready = False
        self.waiting: dict[int, asyncio.Future[tuple[bool, Any]]] = {}
        self.jobs = 0
        self.loop = asyncio.get_running_loop()
        ours, theirs = socket.socketpair()
        self.process: _Forked | subprocess.Popen[bytes] | None
        if _can_fork():
            self.process = _Forked.start(theirs, ours, ctx.rules)
            theirs.close()
        else:
            code = (  # this process's sys.path (not the working directory's packages); the
                # rules are read before the slow imports, so large rules never wait
                "import json, sys; sys.path[:] = json.loads(sys.argv[2]); "
                "from multiprocessing.connection import Connection; "
                "conn = Connection(int(sys.argv[1])); rules = conn.recv_bytes(); "
                "import pickle; from monitor.backfill import _serve; "
                "_serve(conn, pickle.loads(rules))"
            )
            self.process = subprocess.Popen(
                [sys.executable, "-c", code, str(theirs.fileno()), json.dumps(sys.path)],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C stops the backfill, which stops the worker
            )
            theirs.close()
            ours.sendall(_frame(_dumps(ctx.rules)))  # it reads them first thing
        # Sends are awaited, never blocking: a send blocking the loop while the worker blocks
        # sending a long answer would wait for ever (each waiting for the other to read).
        ours.setblocking(False)
        self.sock = ours
        self.sending = asyncio.Lock()  # one frame at a time
        self.received = bytearray()
        self.loop.add_reader(ours.fileno(), self._readable)

    async def __call__(self, claim: Claim, result: FetchResult) -> Page | ExtractionFailure:
        ctx = self.ctx
        site = ctx.settings.site_url
        prepared: Prepared | None = None
        if self.ready and self.process is not None:
            self.jobs += 1
            job, answer = self.jobs, self.loop.create_future()
            self.waiting[job] = answer
            try:
                frame = _frame(_dumps((job, result, site, claim.fingerprint)))
                async with self.sending:
                    await self.loop.sock_sendall(self.sock, frame)
                ok, value = await answer
            except OSError:
                self._gone()
                ok, value = True, None  # prepare it here
            except _WorkerEnded:
                ok, value = True, None
            finally:
                self.waiting.pop(job, None)
            if not ok:
                raise value
            prepared = value
        if prepared is None:
            prepared = prepare(result, site, ctx.rules, claim.fingerprint)
        page, fp, verdict = prepared
        remember(ctx, fp, verdict)
        return page

    def _readable(self) -> None:
        received = self.received
        try:
            while chunk := self.sock.recv(1 << 20):
                received += chunk
        except BlockingIOError:
            chunk = b"-"  # all read for now
        except OSError:
            chunk = b""
        while len(received) >= 4:  # the worker's frames: 4-byte big-endian length, pickle
            end = 4 + int.from_bytes(received[:4], "big")
            if len(received) < end:
                break
            job, ok, value = pickle.loads(received[4:end])
            del received[:end]
            if job == 0:
                self.ready = True
            elif (answer := self.waiting.get(job)) is not None and not answer.done():
                answer.set_result((ok, value))
        if not chunk:
            self._gone()  # the worker closed its end: it has ended

    def _gone(self) -> None:
        if self.process is not None:
            log.warning("backfill worker process ended: extracting in this process")
        self.close()

    def close(self) -> None:
        """Stop the worker (it ends at the socket's end); unanswered checks prepare inline."""
        process, self.process = self.process, None
        if process is None:
            return
        self.ready = False
        with contextlib.suppress(ValueError, OSError):
            self.loop.remove_reader(self.sock.fileno())
        self.sock.close()
        for answer in self.waiting.values():
            if not answer.done():
                answer.set_exception(_WorkerEnded())
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


class _WorkerEnded(Exception):
    pass


class _Forked:
    """A forked worker, with the little of :class:`subprocess.Popen` that :class:`_Offload`
    uses."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    @classmethod
    def start(cls, theirs: socket.socket, ours: socket.socket, rules: Rules) -> _Forked:
        pid = os.fork()
        if pid:
            return cls(pid)
        code = 1
        try:  # the child: never returns into the event loop it was forked from
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the backfill stops us
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.set_wakeup_fd(-1)
            keep = theirs.fileno()
            os.closerange(3, keep)
            os.closerange(keep + 1, os.sysconf("SC_OPEN_MAX"))
            ours.detach()  # closed above
            _serve(Connection(theirs.detach()), rules)
            code = 0
        finally:
            os._exit(code)

    def send_signal(self, sig: int) -> None:
        if self.returncode is None:
            os.kill(self.pid, sig)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.returncode is None:
            pid, status = os.waitpid(self.pid, 0 if deadline is None else os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
            elif deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(f"worker {self.pid}", timeout or 0.0)
            else:
                time.sleep(0.01)
        return self.returncode


def _dumps(value: Any) -> bytes:
    return pickle.dumps(value, pickle.HIGHEST_PROTOCOL)


def _frame(payload: bytes) -> bytes:
    """One frame as :meth:`multiprocessing.connection.Connection.recv_bytes` reads it."""
    return len(payload).to_bytes(4, "big") + payload


def _serve(conn: Connection, rules: Rules) -> None:
    """The worker process: ``(job, result, site, known)`` answered with ``(job, ok, prepared
    or the exception)`` until the socket closes; job 0 says it is ready."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        conn.send_bytes(_dumps((0, True, None)))
        while True:
            job, result, site, known = pickle.loads(conn.recv_bytes())
            try:
                answer = _dumps((job, True, prepare(result, site, rules, known)))
            except Exception as exc:
                try:
                    answer = _dumps((job, False, exc))
                except Exception:  # an exception that does not pickle
                    answer = _dumps((job, False, RuntimeError(f"{type(exc).__name__}: {exc}")))
            conn.send_bytes(answer)
    except (EOFError, OSError):
        return  # the backfill closed its end (or is gone)


def _can_fork() -> bool:
    """Whether the worker may be forked: no other thread could hold a lock in the child."""
    return hasattr(os, "fork") and threading.active_count() == 1


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


# Group commit ----------------------------------------------------------------------------------

_Item = tuple[Claim, FetchResult, Page | ExtractionFailure | None, datetime]


class _Writer:
    """Records checks together, in one transaction (group commit).

    A check hands its fetch and prepared page over and waits for its report. The writer
    records the checks waiting once every check in flight waits for it, or
    :data:`WRITE_BATCH` do, or the first has waited :data:`WRITE_WAIT`, with
    :func:`record_batch`: one transaction, one SELECT of the claimed articles, one flush.
    Each check's outcome (version, change, alert) is still all or nothing: when any check of
    a batch fails, the batch is rolled back and every check is recorded again in a
    transaction of its own, so one failing check loses no other. A lone check is recorded as
    the daemon records it.
    """

    def __init__(self, ctx: Context, busy: Callable[[], int]) -> None:
        self.ctx = ctx
        self.busy = busy  # checks in flight
        self.pending: list[tuple[_Item, asyncio.Future[Report]]] = []
        self.changed = asyncio.Event()

    async def __call__(self, item: _Item) -> Report:
        answer = asyncio.get_running_loop().create_future()
        self.pending.append((item, answer))
        self.changed.set()
        return await answer

    def poke(self) -> None:
        """A check in flight ended without the writer: maybe all the others wait for it."""
        self.changed.set()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            while not self.pending:
                self.changed.clear()
                await self.changed.wait()
            deadline = loop.time() + WRITE_WAIT
            while len(self.pending) < min(WRITE_BATCH, self.busy()) and loop.time() < deadline:
                self.changed.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout_at(deadline):
                        await self.changed.wait()
            batch, self.pending = self.pending[:WRITE_BATCH], self.pending[WRITE_BATCH:]
            batch = [(item, answer) for item, answer in batch if not answer.done()]
            if batch:
                self._write(batch)

    def _write(self, batch: list[tuple[_Item, asyncio.Future[Report]]]) -> None:
        if len(batch) > 1:
            try:
                reports = record_batch(self.ctx, [item for item, _answer in batch])
            except Exception:
                log.debug("a batch of %d checks failed: recording them one by one", len(batch))
            else:
                for (item, answer), report in zip(batch, reports, strict=True):
                    log_report(item[0], report)
                    answer.set_result(report)
                return
        for (claim, result, page, now), answer in batch:
            try:
                answer.set_result(record(self.ctx, claim, result, page, now))
            except Exception as exc:
                answer.set_exception(exc)


def record_batch(ctx: Context, items: Sequence[_Item]) -> list[Report]:
    """Record several checks in one transaction, each as :func:`monitor.check.record` would
    in a transaction of its own right after the previous one; raises if any of them fails
    (nothing is then stored)."""
    with session(ctx.engine) as db:
        ids = sorted({claim.id for claim, *_rest in items})
        query = select(Article).where(col(Article.id).in_(ids)).order_by(col(Article.id))
        locked = {a.id: a for a in db.exec(query.with_for_update())}
        reports = []
        stories: set[int] = set()  # post ids given to articles in this transaction so far
        for claim, result, page, now in items:
            post_id = page.post_id if isinstance(page, Page) else None
            if post_id and post_id in stories:
                db.flush()  # the first look for the same story reads the database, not us
            article = locked.get(claim.id)
            if article is not None and (
                inspect(article).was_deleted or article.lease_owner != claim.owner
            ):
                article = None  # merged into another (one story), or not ours: lease lost
            reports.append(record_in(ctx, db, claim, result, page, now, article))
            if post_id:
                stories.add(post_id)
        return reports


# The run ---------------------------------------------------------------------------------------


def _batch_size(settings: Settings) -> int:
    """Small enough that a leased batch is checked well within the lease at the rate limit."""
    if settings.rate_limit <= 0:
        return MAX_BATCH
    fits = int(settings.rate_limit * settings.lease_seconds / 4)
    return max(settings.concurrency, min(MAX_BATCH, fits))


def _chunks(items: Sequence[Candidate], size: int) -> Iterator[Sequence[Candidate]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class _Run:
    """One backfill: a walker produces leased claims, a small pool of checks consumes them."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        owner: str,
        *,
        since: date | None,
        until: date | None,
        limit: int | None,
        alert: bool,
        dry_run: bool,
        progress: Callable[[BackfillCounts], None] | None,
    ) -> None:
        self.settings, self.engine, self.owner = settings, engine, owner
        self.since, self.until, self.limit = since, until, limit
        self.alert, self.dry_run, self.progress = alert, dry_run, progress
        self.counts = BackfillCounts(dry_run=dry_run)
        self.batch = _batch_size(settings)
        self.queue: asyncio.Queue[tuple[Claim, _Unit] | None] = asyncio.Queue(self.batch)
        self.ctx: Context | None = None
        self.offload: _Offload | None = None
        self.writer: _Writer | None = None
        self.busy = 0  # checks in flight
        self.units_total: int | None = None  # sitemaps or listing pages this run expects
        self.units_read = 0.0  # of them, planned so far (a fraction for the current one)
        self.started = time.monotonic()

    # Lifecycle ---------------------------------------------------------------------------

    async def run(self, source: Source, listings: Sequence[str]) -> BackfillCounts:
        self.started = time.monotonic()
        ctx = make_context(self.settings, self.engine, self.owner, alerts=self.alert)
        self.ctx = ctx
        if not self.dry_run:
            try:
                take_backfill_lease(self.engine, self.owner)
            except BaseException:
                await ctx.fetcher.aclose()
                raise
        workers = [asyncio.create_task(self._worker(ctx)) for _ in range(self._pool_size())]
        heartbeat = None if self.dry_run else asyncio.create_task(self._heartbeat())
        self.writer = None if self.dry_run else _Writer(ctx, lambda: self.busy)
        writing = None if self.writer is None else asyncio.create_task(self.writer.run())
        completed = False
        try:
            if source == "sitemap":
                await self._walk_sitemaps()
            elif source == "listing":
                for path in listings:
                    await self._walk_listing(path)
            else:
                await self._walk_feeds()
            for _ in workers:
                await self.queue.put(None)
            await asyncio.gather(*workers)
            completed = True
        except asyncio.CancelledError:
            self.counts.interrupted = True
            raise
        finally:
            tasks = [*workers, *[t for t in (heartbeat, writing) if t is not None]]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await ctx.fetcher.aclose()
            if self.offload is not None:
                ctx.offload = None
                self.offload.close()
            if not self.dry_run:
                release_claims(self.engine, self.owner)
                release_lease(self.engine, BACKFILL_LEASE, self.owner, ran=completed)
            self.counts.total = self.counts.planned
            self._report()
        log.info(
            "backfill%s: %d found, %d fetched, %d skipped, %d relevant, %d failed in %.1f s",
            " (dry run)" if self.dry_run else "",
            self.counts.found,
            self.counts.fetched,
            self.counts.skipped,
            self.counts.relevant,
            self.counts.failed,
            self.counts.elapsed,
        )
        return self.counts

    def _pool_size(self) -> int:
        # more checks than requests in flight, so extraction and the store overlap the HTTP
        # and the store has several checks to record at once
        return self.settings.concurrency + 1 + WAITING_CHECKS

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(LEASE_TTL / 3)
            if not acquire_lease(self.engine, BACKFILL_LEASE, self.owner, LEASE_TTL):
                log.warning("lost the backfill lease to another process")

    def _report(self) -> None:
        self.counts.elapsed = time.monotonic() - self.started
        if self.progress is not None:
            self.progress(self.counts)

    @property
    def _room(self) -> int | None:
        return None if self.limit is None else self.limit - self.counts.planned

    @property
    def _limit_reached(self) -> bool:
        room = self._room
        return room is not None and room <= 0

    def _estimate(self) -> None:
        """Checks queued so far, plus the unread sources at the rate seen so far."""
        counts = self.counts
        total = counts.planned
        if self.units_total is not None and self.units_read > 0:
            unread = max(self.units_total - self.units_read, 0.0)
            total += round(counts.planned / self.units_read * unread)
        if self.limit is not None:
            total = min(total, self.limit)
        counts.total = total

    # Producer ------------------------------------------------------------------------------

    async def _walk_sitemaps(self) -> None:
        assert self.ctx is not None
        fetcher = self.ctx.fetcher
        index = self.settings.sitemap_path
        refs, error = await read_sitemap_index(fetcher, index)
        self.counts.sources += 1
        if error:
            self._source_error(f"{index}: {error}")
            return
        refs = sorted(refs, key=_newest_first)
        marks = _read_checkpoints(self.engine, [f"sitemap:{r.url}" for r in refs])
        todo = [r for r in refs if self._wanted(r, marks.get(f"sitemap:{r.url}"))]
        self.units_total = len(todo)
        for ref in todo:
            if self._limit_reached:
                break
            found, error = await read_source(fetcher, ref.url, parse_sitemap)
            self.counts.sources += 1
            if error:
                self._source_error(f"{ref.url}: {error}")
                continue
            marker = ref.lastmod.isoformat() if ref.lastmod is not None else None
            unit = _Unit(f"sitemap:{ref.url}", marker, on_done=self._sitemap_done)
            await self._feed(found, unit)
            await self._close(unit)

    def _wanted(self, ref: SitemapRef, mark: Checkpoint | None) -> bool:
        since = self.since
        if ref.lastmod is not None and since is not None and ref.lastmod.date() < since - _DAY:
            return False  # every post in it was published before it last changed: all too old
        if mark is not None and mark.done and ref.lastmod is not None:
            return mark.marker != ref.lastmod.isoformat()  # done, and unchanged since
        return True

    async def _sitemap_done(self, unit: _Unit) -> None:
        if unit.complete and not self.dry_run:
            _write_checkpoint(self.engine, unit.key, True, unit.marker)

    async def _walk_listing(self, path: str) -> None:
        """Newest first, page by page, until ``since``, the archive's end, or (after a finished
        walk that reached as far back) the first page whose articles are all stored."""
        assert self.ctx is not None
        fetcher, site = self.ctx.fetcher, self.settings.site_url
        key = f"listing:{path}"
        mark = _read_checkpoints(self.engine, [key]).get(key)
        chain = _Chain(key)
        page: str | None = urljoin(site + "/", path)
        incremental = mark is not None and mark.done and _covers(mark.marker, self.since)
        if mark is not None and not mark.done and mark.marker:
            page = mark.marker  # an interrupted walk: continue at the first unfinished page
        chain.record_pages = not incremental
        cover: str | None = None
        while page is not None and not self._limit_reached:
            result = await fetcher.get(page)
            self.counts.sources += 1
            if not result.ok:
                self._source_error(f"{page}: {result.error or f'HTTP {result.status}'}")
                return
            try:
                listing = parse_listing(result.body, site)
            except DiscoveryError as exc:
                self._source_error(f"{page}: unusable: {exc}")
                return
            if self.units_total is None:
                self.units_total = _pages_left(result.body, page)
            unit = _Unit(key, page, listing.next_page, on_done=self._page_done(chain))
            chain.pending.append(unit)
            found, planned = self.counts.found, self.counts.planned
            await self._feed(listing.candidates, unit)
            await self._close(unit)
            if incremental and self.counts.found > found and self.counts.planned == planned:
                cover = mark.marker if mark is not None else None
                break  # all stored here: the rest was walked before, as far back as needed
            days = [d for d in map(article_day, listing.candidates) if d is not None]
            if self.since is not None and days and max(days) < self.since:
                cover = self.since.isoformat()
                break  # newest first: everything further back is older still
            page = listing.next_page
            if page is None:
                cover = ""
        if cover is not None and not self._limit_reached:
            chain.cover = cover
            await self._chain_progress(chain)

    def _page_done(self, chain: _Chain) -> Callable[[_Unit], Awaitable[None]]:
        async def done(_unit: _Unit) -> None:
            await self._chain_progress(chain)

        return done

    async def _chain_progress(self, chain: _Chain) -> None:
        """Move the listing checkpoint past the leading pages that are done."""
        resume: str | None = None
        while chain.pending and chain.pending[0].ok:
            resume = chain.pending.pop(0).next_page
        if self.dry_run:
            return
        if chain.cover is not None and not chain.pending:
            _write_checkpoint(self.engine, chain.key, True, chain.cover)
            chain.cover = None  # written once
        elif resume is not None and chain.record_pages:
            _write_checkpoint(self.engine, chain.key, False, resume)

    async def _walk_feeds(self) -> None:
        assert self.ctx is not None
        candidates: list[Candidate] = []
        for path in self.settings.feed_paths:
            found, error = await read_source(self.ctx.fetcher, path, parse_feed)
            self.counts.sources += 1
            if error:
                self._source_error(f"{path}: {error}")
            candidates.extend(found)
        unit = _Unit("feeds", None)
        await self._feed(merge(candidates), unit)
        await self._close(unit)

    def _source_error(self, message: str) -> None:
        log.warning("backfill source failed: %s", message)
        self.counts.source_errors.append(message)
        self._report()

    async def _feed(self, candidates: Sequence[Candidate], unit: _Unit) -> None:
        """Plan ``candidates`` in batches and queue their claims (waits while the queue is full).

        ``unit`` stays incomplete (no checkpoint) when the date range or ``--limit`` left some
        of its articles out: a later run without them must still read it.
        """
        wanted = [c for c in candidates if in_range(c, self.since, self.until)]
        if len(wanted) < len(candidates):
            unit.complete = False
        self.counts.found += len(wanted)
        read_before = self.units_read
        for index, batch in enumerate(_chunks(wanted, self.batch)):
            room = self._room
            if room is not None and room <= 0:
                unit.complete = False
                break
            plan = plan_batch(  # on the loop's thread: see the module's docstring
                self.engine,
                batch,
                owner=self.owner,
                lease_seconds=self.settings.lease_seconds,
                room=room,
                dry_run=self.dry_run,
            )
            await asyncio.sleep(0)
            self.counts.skipped += plan.skipped
            if room is not None and plan.needed > room:
                unit.complete = False  # cut by --limit
            if self.dry_run:
                self.counts.planned += plan.needed if room is None else min(plan.needed, room)
            else:
                self.counts.planned += len(plan.claims)
                self._maybe_offload()
            self.units_read = read_before + min(1.0, (index + 1) * self.batch / len(wanted))
            self._estimate()
            self._report()
            for claim in plan.claims:
                unit.outstanding += 1
                await self.queue.put((claim, unit))
        self.units_read = read_before + 1

    def _maybe_offload(self) -> None:
        """Move extraction and classification to a worker process once the run is long
        enough to repay starting it (about a second of CPU), when there is a core for it."""
        ctx = self.ctx
        if self.offload is not None or ctx is None or ctx.offload is not None:
            return
        if self.counts.planned >= OFFLOAD_AFTER and _cores() > 1:
            self.offload = _Offload(ctx)
            ctx.offload = self.offload

    async def _close(self, unit: _Unit) -> None:
        unit.closed = True
        await self._maybe_done(unit)

    async def _maybe_done(self, unit: _Unit) -> None:
        if unit.closed and unit.outstanding == 0 and not unit.finished:
            unit.finished = True
            if unit.on_done is not None:
                await unit.on_done(unit)

    # Consumers -----------------------------------------------------------------------------

    async def _worker(self, ctx: Context) -> None:
        while True:
            item = await self.queue.get()
            if item is None:
                return
            claim, unit = item
            self.busy += 1
            try:
                report: Report | None = await self._check(ctx, claim)
            except Exception:  # a bug in one check must not end the backfill
                log.exception("check of %s crashed", claim.url)
                report = None
            finally:
                self.busy -= 1
                if self.writer is not None:
                    self.writer.poke()
            self._tally(report, unit)
            unit.outstanding -= 1
            await self._maybe_done(unit)
            self._report()

    async def _check(self, ctx: Context, claim: Claim) -> Report:
        """:func:`monitor.check.check`, recorded by the writer."""
        result, page = await fetch_and_prepare(ctx, claim)
        assert self.writer is not None
        return await self.writer((claim, result, page, utcnow()))

    def _tally(self, report: Report | None, unit: _Unit) -> None:
        counts = self.counts
        if report is None or report.failed:
            counts.failed += 1
            unit.complete = False
            return
        if report.outcome == "lease_lost":
            counts.skipped += 1  # another worker took it over and stores it
            return
        counts.fetched += 1
        counts.relevant += report.relevant
        counts.new_versions += report.outcome in _NEW_VERSION
        counts.alerts += len(report.alerts)


def _newest_first(ref: SitemapRef) -> tuple[int, float]:
    if ref.lastmod is None:
        return (1, 0.0)
    return (0, -ref.lastmod.timestamp())


def _covers(marker: str | None, since: date | None) -> bool:
    """Did a finished walk down to ``marker`` (a date, or "" for the archive's end) reach
    ``since``?"""
    if marker is None:
        return False
    if marker == "":
        return True
    try:
        reached = date.fromisoformat(marker)
    except ValueError:
        return False
    return since is not None and reached <= since


def _pages_left(body: bytes, page: str) -> int | None:
    """Pages from ``page`` to the last one the pagination names (WordPress ``/page/N/``)."""
    numbers = [int(n) for n in _PAGE_NUMBER.findall(body.decode("utf-8", "replace"))]
    if not numbers:
        return None
    current = _PAGE_NUMBER.search(page)
    here = int(current[1]) if current else 1
    return max(max(numbers) - here + 1, 1)
