"""The monitoring daemon: APScheduler jobs wiring discovery, re-checks, delivery, housekeeping.

Every job first asks the database for the right to run (a named lease or row claims), so the
same daemon runs as one process on SQLite or as N processes on one PostgreSQL without doing
the same work twice. On SQLite a second daemon is refused: the ``daemon`` lease names the
process that holds it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import Engine

from monitor import metrics
from monitor.alerts.deliver import deliver_due, release_deliveries
from monitor.alerts.targets import Target, load_targets
from monitor.check import Outcome, Report, check
from monitor.db import check_schema, get_engine, is_sqlite
from monitor.discover import DiscoveryReport, discover
from monitor.health import Cycle, record_cycle
from monitor.runtime import Context, make_context
from monitor.settings import Settings
from monitor.store import (
    Claim,
    acquire_lease,
    claim_due,
    get_lease,
    prune,
    release_claims,
    release_lease,
    renew_claim,
    take_singleton,
    utcnow,
    worker_name,
)

log = logging.getLogger(__name__)

DAEMON_LEASE = "daemon"  # SQLite only: one daemon per database file
DISCOVERY_LEASE = "discovery"
SITEMAP_LEASE = "sitemap"
HOUSEKEEPING_LEASE = "housekeeping"
FRESH_CLAIM = 0.99  # share of its lease a claim has left when it needs no renewal
STOP_GRACE = 8.0  # seconds in-flight work may take after SIGTERM (exit within 10 s)


class AlreadyRunning(Exception):
    """Another daemon holds this SQLite database."""


@dataclass
class Daemon:
    settings: Settings
    owner: str = field(default_factory=worker_name)
    engine: Engine = field(init=False)
    ctx: Context = field(init=False)
    targets: list[Target] = field(init=False)
    stopping: asyncio.Event = field(init=False)
    _inflight: set[asyncio.Task[Any]] = field(init=False, default_factory=set)
    _jobs: set[asyncio.Task[Any]] = field(init=False, default_factory=set)
    _woken: dict[str, asyncio.Task[Any]] = field(init=False, default_factory=dict)
    _running: bool = field(init=False, default=False)  # the scheduler runs (not run --once)

    def __post_init__(self) -> None:
        self.engine = get_engine(self.settings)
        check_schema(self.engine)
        self.targets = load_targets(self.settings)

    # Lifecycle ---------------------------------------------------------------------------

    def _lock_sqlite(self) -> None:
        if not is_sqlite(self.engine):
            return
        ttl = max(30.0, self.settings.recheck_interval * 3)
        lock = take_singleton(self.engine, DAEMON_LEASE, self.owner, ttl)
        if not lock.held:
            raise AlreadyRunning(
                f"another daemon ({lock.holder or 'another process'}) is running on this SQLite "
                f"database (lease until {lock.until}); stop it first, or move to PostgreSQL to "
                "run several workers"
            )
        if lock.replaced is not None:
            # killed (SIGKILL, OOM) without releasing the lock: its articles (released by
            # take_singleton) and deliveries would stay idle until their leases expire
            sends = release_deliveries(self.engine, lock.replaced)
            log.warning(
                "daemon %s is gone: taking over its SQLite lock, %d article claims and "
                "%d deliveries",
                lock.replaced,
                lock.released,
                sends,
            )

    async def _heartbeat(self) -> None:
        if is_sqlite(self.engine):
            ttl = max(30.0, self.settings.recheck_interval * 3)
            kept = await asyncio.to_thread(
                acquire_lease, self.engine, DAEMON_LEASE, self.owner, ttl
            )
            if not kept:  # frozen past the lease (SIGSTOP, a suspended VM) and replaced
                held = await asyncio.to_thread(get_lease, self.engine, DAEMON_LEASE)
                log.error(
                    "daemon %s lost the SQLite lock to %s: stopping, one daemon per database",
                    self.owner,
                    held.owner if held else "another process",
                )
                self.stopping.set()

    async def run(self, *, once: bool = False) -> int:
        self._lock_sqlite()
        self.stopping = asyncio.Event()
        self.ctx = make_context(self.settings, self.engine, self.owner)
        try:
            if once:
                await self.run_once()
            else:
                await self._run_forever()
        finally:
            await self._shutdown()
        return 0

    async def run_once(self) -> None:
        """One discovery (feeds and sitemap), every due re-check, one delivery round."""
        await self.discovery_job(force=True)
        await self.discovery_job(sitemap=True, force=True)
        # Each article due now is checked once: one that fails (or falls due) during the run
        # waits for the next run, else a short schedule under a lasting fault never ends.
        cutoff = utcnow()
        while not self.stopping.is_set():
            reports = await self.recheck_job(max_batches=1, due_before=cutoff)
            if not reports:
                break
        await self.delivery_job()

    async def _run_forever(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        s = self.settings
        scheduler = AsyncIOScheduler()
        now = datetime.now().astimezone()
        jobs: list[tuple[str, Callable[[], Awaitable[Any]], float, float]] = [
            ("discovery", self.discovery_job, s.poll_interval, min(30.0, s.poll_interval * 0.1)),
            ("sitemap", self.sitemap_job, s.sitemap_interval, 0.0),
            ("recheck", self.recheck_job, s.recheck_interval, 0.0),
            ("delivery", self.delivery_job, s.delivery_interval, 0.0),
            ("housekeeping", self.housekeeping_job, 3600.0, 0.0),
        ]
        if is_sqlite(self.engine):
            jobs.append(("heartbeat", self._heartbeat, max(5.0, s.recheck_interval), 0.0))
        for job_id, job, every, jitter in jobs:
            # one run at a time, missed runs coalesced, a late run still runs within a period
            scheduler.add_job(
                self._tracked(job),
                "interval",
                seconds=every,
                jitter=jitter or None,
                misfire_grace_time=int(max(1, every)),
                max_instances=1,
                coalesce=True,
                next_run_time=now,
                id=job_id,
            )
        server = await metrics.serve(self.settings, self.engine) if s.health_port else None
        scheduler.start()
        self._running = True
        log.info("daemon %s started: watching %s", self.owner, s.site_url)
        await self.stopping.wait()
        log.info("stopping: no new work; in-flight checks get %.0f s", STOP_GRACE)
        scheduler.pause()
        await self._drain()
        scheduler.shutdown(wait=False)
        await self._finish_jobs()
        if server is not None:
            server.close()

    def _wake(self, job: Callable[[], Awaitable[Any]]) -> None:
        """Run ``job`` now, besides its schedule (claims and leases keep two runs apart), unless
        a woken run of it is still going."""
        name = getattr(job, "__name__", "job")
        if not self._running or self.stopping.is_set():
            return
        running = self._woken.get(name)
        if running is not None and not running.done():
            return
        self._woken[name] = asyncio.ensure_future(self._tracked(job)())

    async def _drain(self) -> None:
        if self._inflight:
            _done, pending = await asyncio.wait(self._inflight, timeout=STOP_GRACE)
            for task in pending:
                task.cancel()  # abandoned: its lease is released below, nothing was written

    def _tracked(self, job: Callable[[], Awaitable[Any]]) -> Callable[[], Awaitable[Any]]:
        """A job the shutdown can wait for, and that ends quietly when abandoned at shutdown."""

        async def run() -> Any:
            task = asyncio.current_task()
            assert task is not None
            self._jobs.add(task)
            try:
                return await job()
            except asyncio.CancelledError:
                log.info("job %s abandoned at shutdown", getattr(job, "__name__", job))
                return None
            finally:
                self._jobs.discard(task)

        run.__name__ = getattr(job, "__name__", "job")
        return run

    async def _finish_jobs(self) -> None:
        """Let running jobs finish their bookkeeping (their checks are done or cancelled)."""
        if self._jobs:
            _done, pending = await asyncio.wait(set(self._jobs), timeout=1.0)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=1.0)

    async def _shutdown(self) -> None:
        await self.ctx.fetcher.aclose()
        released = await asyncio.to_thread(release_claims, self.engine, self.owner)
        for name in (DISCOVERY_LEASE, SITEMAP_LEASE, HOUSEKEEPING_LEASE):
            await asyncio.to_thread(release_lease, self.engine, name, self.owner)
        if is_sqlite(self.engine):
            await asyncio.to_thread(release_lease, self.engine, DAEMON_LEASE, self.owner)
        log.info("daemon %s stopped (%d claims released)", self.owner, released)

    # Jobs ----------------------------------------------------------------------------------

    async def sitemap_job(self) -> DiscoveryReport | None:
        return await self.discovery_job(sitemap=True)

    async def discovery_job(
        self, sitemap: bool = False, force: bool = False
    ) -> DiscoveryReport | None:
        """Read the feeds (and the newest sitemap) on one worker per interval."""
        if self.stopping.is_set():
            return None
        s = self.settings
        name = SITEMAP_LEASE if sitemap else DISCOVERY_LEASE
        interval = s.sitemap_interval if sitemap else s.poll_interval
        # "ran recently" is judged at 80 % of the interval so jitter never skips a round
        granted = await asyncio.to_thread(
            acquire_lease,
            self.engine,
            name,
            self.owner,
            max(60.0, s.total_timeout * 4),
            min_interval=None if force else interval * 0.8,
        )
        if not granted:
            return None
        try:
            report = await discover(
                self.ctx.fetcher,
                self.engine,
                () if sitemap else s.feed_paths,
                sitemap_index=s.sitemap_path if sitemap else None,
            )
        finally:
            await asyncio.to_thread(release_lease, self.engine, name, self.owner, ran=True)
        metrics.DISCOVERED.inc(report.new)
        if report.new or report.pulled_forward:
            self._wake(self.recheck_job)  # new and edited articles: checked now, not next round
        reason = "; ".join(report.failed)
        await self._observe(Cycle(report.sources, report.failures, 0, reason, extracted=0))
        return report

    async def recheck_job(
        self, max_batches: int | None = None, due_before: datetime | None = None
    ) -> list[Report]:
        """Claim due articles, most overdue first, and check them within the rate limit."""
        s = self.settings
        deadline = time.monotonic() + max(s.recheck_interval, 1.0)
        reports: list[Report] = []
        batches = 0
        while not self.stopping.is_set():
            claims = await asyncio.to_thread(
                functools.partial(claim_due, due_before=due_before),
                self.engine,
                self.owner,
                s.recheck_batch,
                s.lease_seconds,
            )
            if not claims:
                break
            slots = asyncio.Semaphore(s.concurrency)
            tasks = [asyncio.create_task(self.check_claim(claim, slots)) for claim in claims]
            self._inflight.update(tasks)
            try:
                done = await asyncio.gather(*tasks, return_exceptions=True)
            finally:
                self._inflight.difference_update(tasks)
            batch = [r for r in done if isinstance(r, Report)]
            for error in (r for r in done if isinstance(r, BaseException)):
                if not isinstance(error, asyncio.CancelledError):
                    log.error("check crashed: %r", error, exc_info=error)
            reports.extend(batch)
            for report in batch:
                metrics.CHECKS.labels(report.outcome).inc()
            if any(r.alerts for r in batch):
                self._wake(self.delivery_job)  # an alert goes out now, not next round
            await self._observe(
                Cycle(
                    len(batch),
                    sum(r.failed for r in batch),
                    sum(r.outcome == Outcome.EXTRACTION_FAILED for r in batch),
                    "; ".join(sorted({r.error for r in batch if r.error}))[:500],
                    extracted=sum(r.extracted for r in batch),
                )
            )
            batches += 1
            if max_batches is not None and batches >= max_batches:
                break
            if len(claims) < s.recheck_batch or time.monotonic() > deadline:
                break
        return reports

    async def check_claim(self, claim: Claim, slots: asyncio.Semaphore) -> Report:
        """Check one claim of a batch once a fetch slot is free, under a lease restarted then.

        A batch is claimed at once but fetched ``concurrency`` at a time at the shared rate
        limit: with several workers the last claims of a batch wait longer than a short lease,
        and a lease counted from the claim would run out meanwhile, letting another worker
        claim and fetch the same article. Restarting the lease when the fetch starts bounds
        what it must cover (the rate-limit wait, the fetch, the record); a claim that was
        retaken meanwhile is dropped here, before any request.

        With the shared rate limit the renewal and the slot of the first request are one
        statement (``Context.reserve``). Without it, a claim taken a moment ago (its lease
        has 99 % left: the first ``concurrency`` of a batch) is not renewed: nobody can hold
        it, and the lease it has covers the check as a renewal would (issue 20: one
        transaction less per idle check).
        """
        async with slots:
            lease = self.settings.lease_seconds
            if self.ctx.reserve is not None:
                slot = await asyncio.to_thread(self.ctx.reserve, claim, lease)
                if slot is None:
                    return Report(claim.url, Outcome.LEASE_LOST)
                return await check(self.ctx, claim, slot=slot)
            if needs_renewal(claim, lease, utcnow()):
                renewed = await asyncio.to_thread(renew_claim, self.engine, claim, lease)
                if not renewed:
                    return Report(claim.url, Outcome.LEASE_LOST)
            return await check(self.ctx, claim)

    async def delivery_job(self) -> None:
        """Send due outbox entries; tracked as in-flight so SIGTERM lets a send finish."""
        task = asyncio.create_task(
            asyncio.to_thread(deliver_due, self.engine, self.settings, owner=self.owner)
        )
        self._inflight.add(task)
        try:
            report = await task
        finally:
            self._inflight.discard(task)
        metrics.DELIVERIES.labels("sent").inc(report.sent)
        metrics.DELIVERIES.labels("failed").inc(report.failed)

    async def housekeeping_job(self) -> None:
        granted = await asyncio.to_thread(
            acquire_lease, self.engine, HOUSEKEEPING_LEASE, self.owner, 600, min_interval=3000
        )
        if not granted:
            return
        try:
            pruned = await asyncio.to_thread(prune, self.engine, self.settings)
            log.info("housekeeping: pruned %d fetch-log rows", pruned)
        finally:
            await asyncio.to_thread(
                release_lease, self.engine, HOUSEKEEPING_LEASE, self.owner, ran=True
            )

    async def _observe(self, cycle: Cycle) -> None:
        kind = await asyncio.to_thread(
            record_cycle,
            self.engine,
            cycle,
            threshold=self.settings.failure_threshold,
            targets=self.ctx.targets,
            ops_tag=self.settings.ops_tag,
            site=self.settings.site_url,
            now=utcnow(),
        )
        if kind is not None:
            log.warning("site health: %s", kind)


def needs_renewal(claim: Claim, lease_seconds: float, now: datetime) -> bool:
    """Whether ``claim``'s lease must be restarted before its fetch: more than 1 % of
    ``lease_seconds`` has run since it was claimed (or its expiry is unknown)."""
    if claim.expires is None:
        return True
    return (claim.expires - now).total_seconds() < lease_seconds * FRESH_CLAIM
