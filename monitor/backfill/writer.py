"""Group commit: the backfill records several checks in one transaction.

All of this process's database work runs on the event loop's thread, like ``record()``: the
process never waits for itself in SQLite's busy handler, which sleeps (stalling every check).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import inspect
from sqlmodel import col, select

from monitor.backfill.timings import Timings, timed
from monitor.check import Prepared, Report, log_report, record, record_in
from monitor.db import session
from monitor.fetch import FetchResult
from monitor.models import Article
from monitor.runtime import Context
from monitor.store import Claim
from scrapers.article import Article as Page

log = logging.getLogger(__name__)

WRITE_BATCH = 16  # checks recorded in one transaction at most
WRITE_WAIT = 0.02  # seconds a check may wait for others to share its transaction

Item = tuple[Claim, FetchResult, Prepared | None, datetime]


class Writer:
    """Records checks together, in one transaction (group commit).

    A check hands its fetch and prepared page over and waits for its report. The writer
    records the checks waiting once every check in flight but ``fetching`` of them waits for
    it, or :data:`WRITE_BATCH` do, or the first has waited :data:`WRITE_WAIT`, with
    :func:`record_batch`: one transaction, one SELECT of the claimed articles, one flush.
    Each check's outcome (version, change, alert) is still all or nothing: when any check of
    a batch fails, the batch is rolled back and every check is recorded again in a
    transaction of its own, so one failing check loses no other. A lone check is recorded as
    the daemon records it.

    ``fetching``: the checks the run keeps fetching and preparing while a batch waits, so the
    site and the worker processes have work during the transaction (waiting for every check
    would leave them idle then, and fetch and write by turns).
    """

    def __init__(
        self,
        ctx: Context,
        busy: Callable[[], int],
        timings: Timings | None = None,
        *,
        fetching: int = 0,
    ) -> None:
        self.ctx = ctx
        self.busy = busy  # checks in flight
        self.fetching = fetching
        self.timings = timings
        self.pending: list[tuple[Item, asyncio.Future[Report]]] = []
        self.changed = asyncio.Event()

    async def __call__(self, item: Item) -> Report:
        return await self.hand(item)

    def hand(self, item: Item) -> asyncio.Future[Report]:
        """Queue ``item`` for the next transaction; its report (or exception) when recorded."""
        answer: asyncio.Future[Report] = asyncio.get_running_loop().create_future()
        self.pending.append((item, answer))
        self.changed.set()
        return answer

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
            while len(self.pending) < self._enough() and loop.time() < deadline:
                self.changed.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout_at(deadline):
                        await self.changed.wait()
            batch, self.pending = self.pending[:WRITE_BATCH], self.pending[WRITE_BATCH:]
            batch = [(item, answer) for item, answer in batch if not answer.done()]
            if batch:
                self.write(batch)

    def _enough(self) -> int:
        return min(WRITE_BATCH, max(self.busy() - self.fetching, 1))

    def write(self, batch: list[tuple[Item, asyncio.Future[Report]]]) -> None:
        """Record ``batch`` and answer each check's future."""
        if self.timings is not None:
            self.timings.batches.append(len(batch))
        if len(batch) > 1:
            try:
                with timed(self.timings, "record: batches"):
                    reports = record_batch(self.ctx, [item for item, _answer in batch])
            except Exception:
                log.debug("a batch of %d checks failed: recording them one by one", len(batch))
            else:
                for (item, answer), report in zip(batch, reports, strict=True):
                    log_report(item[0], report)
                    answer.set_result(report)
                return
        for (claim, result, prepared, now), answer in batch:
            try:
                with timed(self.timings, "record: one by one"):
                    report = record(self.ctx, claim, result, prepared, now)
            except Exception as exc:
                answer.set_exception(exc)
            else:
                answer.set_result(report)


def record_batch(ctx: Context, items: Sequence[Item]) -> list[Report]:
    """Record several checks in one transaction, each as :func:`monitor.check.record` would
    in a transaction of its own right after the previous one; raises if any of them fails
    (nothing is then stored)."""
    with session(ctx.engine) as db:
        ids = sorted({claim.id for claim, *_rest in items})
        query = select(Article).where(col(Article.id).in_(ids)).order_by(col(Article.id))
        locked = {a.id: a for a in db.exec(query.with_for_update())}
        reports = []
        stories: set[int] = set()  # post ids given to articles in this transaction so far
        for claim, result, prepared, now in items:
            page = prepared.page if prepared is not None else None
            post_id = page.post_id if isinstance(page, Page) else None
            if post_id and post_id in stories:
                db.flush()  # the first look for the same story reads the database, not us
            article = locked.get(claim.id)
            if article is not None and (
                inspect(article).was_deleted or article.lease_owner != claim.owner
            ):
                article = None  # merged into another (one story), or not ours: lease lost
            reports.append(record_in(ctx, db, claim, result, prepared, now, article))
            if post_id:
                stories.add(post_id)
        return reports
