"""One backfill run: a walker produces leased claims, a small pool of checks consumes them.

Every article goes through the same fetch, :func:`monitor.check.prepare` and record as the
daemon's checks, with the same polite :class:`~monitor.fetch.Fetcher` (robots.txt, the rate
limit shared through the database, retries). Memory stays flat in the number of articles: one
sitemap (or listing page) of candidates at a time, claimed in bounded batches into a bounded
queue worked by a small pool of checks.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Engine

from monitor.backfill.plan import (
    BACKFILL_LEASE,
    LEASE_TTL,
    batch_size,
    chunks,
    plan_batch,
    take_backfill_lease,
)
from monitor.backfill.pool import Pool, default_workers
from monitor.backfill.sources import (
    SOURCES,
    Source,
    Unit,
    Walker,
    in_range,
)
from monitor.backfill.timings import Timings, timed
from monitor.backfill.writer import Writer
from monitor.check import NEW_VERSION, Outcome, Prepared, Report, fetch_and_prepare, prepare
from monitor.fetch import FetchResult
from monitor.runtime import Context, make_context
from monitor.settings import Settings
from monitor.store import Claim, acquire_lease, release_claims, release_lease, utcnow, worker_name
from scrapers.article import Candidate

log = logging.getLogger(__name__)

OFFLOAD_AFTER = 100  # claims planned before extraction and classification move to processes
WAITING_CHECKS = 12  # checks fetched and prepared that may wait for the next transaction


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
    listings: Sequence[str] = (),  # none given: the site's own archive listings
    owner: str | None = None,
    workers: int | None = None,
    timings: Timings | None = None,
) -> BackfillCounts:
    """Fetch and store the history in ``[since, until]`` (publication dates, inclusive).

    ``limit`` caps the number of articles checked; ``alert`` lets relevant articles alert
    through the outbox; ``dry_run`` reads the sources and counts, fetching no article and
    writing nothing. ``progress`` gets a snapshot after every step (the same object, updated).
    ``workers``: processes for extraction and classification (None: one per spare core, once
    the run is long enough to repay starting them; 0: none). ``timings`` collects CPU time by
    stage (the benchmark's). Raises :class:`BackfillRunning` when another backfill runs on
    this database; on cancellation (Ctrl-C) it releases its claims, reports ``interrupted``
    once more through ``progress`` and re-raises.
    """
    if source not in SOURCES:
        raise ValueError(f"source must be one of {', '.join(SOURCES)}, not {source!r}")
    if since is not None and until is not None and since > until:
        raise ValueError(f"since {since} is after until {until}")
    if limit is not None and limit < 1:
        raise ValueError("limit must be at least 1")
    run = Run(
        settings,
        engine,
        owner or worker_name(),
        since=since,
        until=until,
        limit=limit,
        alert=alert,
        dry_run=dry_run,
        progress=progress,
        workers=workers,
        timings=timings,
    )
    return await run.run(source, tuple(listings) or settings.scraper.listing_paths)


class Run:
    """One backfill; the :class:`~monitor.backfill.sources.Sink` of its walker."""

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
        workers: int | None = None,
        timings: Timings | None = None,
    ) -> None:
        self.settings, self.engine, self.owner = settings, engine, owner
        self.since, self.until, self.limit = since, until, limit
        self.alert, self.dry_run, self.progress = alert, dry_run, progress
        self.workers, self.timings = workers, timings
        self.counts = BackfillCounts(dry_run=dry_run)
        self.batch = batch_size(settings)
        self.queue: asyncio.Queue[tuple[Claim, Unit] | None] = asyncio.Queue(self.batch)
        self.ctx: Context | None = None
        self.pool: Pool | None = None
        self.writer: Writer | None = None
        self.busy = 0  # checks in flight
        self.units_total: int | None = None  # sitemaps or listing pages this run expects
        self.units_read = 0.0  # of them, planned so far (a fraction for the current one)
        self.started = time.monotonic()

    # Lifecycle ---------------------------------------------------------------------------

    async def run(self, source: Source, listings: Sequence[str]) -> BackfillCounts:
        self.started = time.monotonic()
        ctx = self.ctx = make_context(self.settings, self.engine, self.owner, alerts=self.alert)
        if not self.dry_run:
            try:
                take_backfill_lease(self.engine, self.owner)
            except BaseException:
                await ctx.fetcher.aclose()
                raise
        checks = [asyncio.create_task(self._checks(ctx)) for _ in range(self._pool_size())]
        heartbeat = None if self.dry_run else asyncio.create_task(self._heartbeat())
        self.writer = None
        if not self.dry_run:
            fetching = self._pool_size() - WAITING_CHECKS
            self.writer = Writer(ctx, lambda: self.busy, self.timings, fetching=fetching)
        writing = None if self.writer is None else asyncio.create_task(self.writer.run())
        walker = Walker(self.settings, self.engine, ctx.fetcher, self, self.since, self.dry_run)
        completed = False
        try:
            await walker.walk(source, listings)
            for _ in checks:
                await self.queue.put(None)
            await asyncio.gather(*checks)
            completed = True
        except asyncio.CancelledError:
            self.counts.interrupted = True
            raise
        finally:
            tasks = [*checks, *[t for t in (heartbeat, writing) if t is not None]]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await ctx.fetcher.aclose()
            await self._close_pool()
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

    def _maybe_start_pool(self) -> None:
        """Move extraction and classification to worker processes once the run is long
        enough to repay starting them (about a second of CPU), when there is a core for it."""
        if self.pool is not None:
            return
        workers = default_workers() if self.workers is None else self.workers
        if workers < 1 or (self.workers is None and self.counts.planned < OFFLOAD_AFTER):
            return
        assert self.ctx is not None
        self.pool = Pool(self.ctx.rules, self.settings.site_url, workers, self.settings.scraper)

    async def _close_pool(self) -> None:
        pool, self.pool = self.pool, None
        if pool is None:
            return
        await pool.close(measure=self.timings is not None)
        if self.timings is not None:
            self.timings.prepared_by_workers += pool.jobs
            self.timings.worker_chunks += pool.chunks
            self.timings.worker_cpu += sum(u.cpu for u in pool.usage.values())
            peak = max((u.peak_kib for u in pool.usage.values()), default=0)
            self.timings.worker_peak_kib = max(self.timings.worker_peak_kib, peak)

    def _report(self) -> None:
        self.counts.elapsed = time.monotonic() - self.started
        if self.progress is not None:
            self.progress(self.counts)

    @property
    def _room(self) -> int | None:
        return None if self.limit is None else self.limit - self.counts.planned

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

    # The walker's sink ---------------------------------------------------------------------

    @property
    def limit_reached(self) -> bool:
        room = self._room
        return room is not None and room <= 0

    def expect(self, units: int | None) -> None:
        if self.units_total is None:
            self.units_total = units

    def source_read(self) -> None:
        self.counts.sources += 1

    def source_error(self, message: str) -> None:
        log.warning("backfill source failed: %s", message)
        self.counts.source_errors.append(message)
        self._report()

    async def feed(self, candidates: Sequence[Candidate], unit: Unit) -> tuple[int, int]:
        """Plan ``candidates`` in batches and queue their claims (waits while the queue is full).

        ``unit`` stays incomplete (no checkpoint) when the date range or ``--limit`` left some
        of its articles out: a later run without them must still read it.
        """
        counts = self.counts
        site = self.settings.scraper
        wanted = [c for c in candidates if in_range(c, self.since, self.until, site)]
        if len(wanted) < len(candidates):
            unit.complete = False
        counts.found += len(wanted)
        planned_before, read_before = counts.planned, self.units_read
        for index, batch in enumerate(chunks(wanted, self.batch)):
            room = self._room
            if room is not None and room <= 0:
                unit.complete = False
                break
            with timed(self.timings, "plan_batch"):
                plan = plan_batch(  # on the loop's thread: see monitor.backfill.writer
                    self.engine,
                    batch,
                    owner=self.owner,
                    lease_seconds=self.settings.lease_seconds,
                    room=room,
                    dry_run=self.dry_run,
                )
            await asyncio.sleep(0)
            counts.skipped += plan.skipped
            if room is not None and plan.needed > room:
                unit.complete = False  # cut by --limit
            if self.dry_run:
                counts.planned += plan.needed if room is None else min(plan.needed, room)
            else:
                counts.planned += len(plan.claims)
                self._maybe_start_pool()
            self.units_read = read_before + min(1.0, (index + 1) * self.batch / len(wanted))
            self._estimate()
            self._report()
            for claim in plan.claims:
                unit.outstanding += 1
                await self.queue.put((claim, unit))
        self.units_read = read_before + 1
        return len(wanted), counts.planned - planned_before

    async def close(self, unit: Unit) -> None:
        unit.closed = True
        await unit.maybe_done()

    # The checks ----------------------------------------------------------------------------

    async def _checks(self, ctx: Context) -> None:
        while True:
            item = await self.queue.get()
            if item is None:
                return
            claim, unit = item
            self.busy += 1
            try:
                await self._check(ctx, claim, unit)
            except Exception:  # a bug in one check must not end the backfill
                log.exception("check of %s crashed", claim.url)
            finally:
                self.busy -= 1
                if self.writer is not None:
                    self.writer.poke()
            unit.outstanding -= 1
            await unit.maybe_done()
            self._report()

    async def _check(self, ctx: Context, claim: Claim, unit: Unit) -> None:
        """:func:`monitor.check.check`, prepared by the pool and recorded by the writer.

        The check is counted when the writer answers, not when this task next runs: a run
        cancelled in between (Ctrl-C) still counts every check it stored."""
        preparer = self.pool.prepare if self.pool is not None else None
        if preparer is None and self.timings is not None:
            preparer = self._prepare_timed
        try:
            result, prepared = await fetch_and_prepare(ctx, claim, preparer)
        except Exception:
            self._tally(None, unit)
            raise
        assert self.writer is not None
        answer = self.writer.hand((claim, result, prepared, utcnow()))
        answer.add_done_callback(functools.partial(self._recorded, unit))
        await answer

    def _recorded(self, unit: Unit, answer: asyncio.Future[Report]) -> None:
        if not answer.cancelled():  # cancelled: the writer never saw it
            self._tally(None if answer.exception() else answer.result(), unit)

    async def _prepare_timed(self, result: FetchResult, known: str | None) -> Prepared:
        assert self.ctx is not None
        with timed(self.timings, "prepare inline (extract, classify)"):
            site, scraper = self.settings.site_url, self.settings.scraper
            return prepare(result, site, self.ctx.rules, known, scraper=scraper)

    def _tally(self, report: Report | None, unit: Unit) -> None:
        counts = self.counts
        if report is None or report.failed:
            counts.failed += 1
            unit.complete = False
            return
        if report.outcome == Outcome.LEASE_LOST:
            counts.skipped += 1  # another worker took it over and stores it
            return
        counts.fetched += 1
        counts.relevant += report.relevant
        counts.new_versions += report.outcome in NEW_VERSION
        counts.alerts += len(report.alerts)
