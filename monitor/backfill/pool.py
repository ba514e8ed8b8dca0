"""Extraction and classification in worker processes (:func:`monitor.check.prepare`: pure, and
most of a check's CPU), so they overlap the event loop's HTTP and database work on other cores.

A :class:`concurrent.futures.ProcessPoolExecutor` on a ``forkserver`` context: workers are forked
from a small server process started fresh (with this process's ``sys.path``), so they inherit
no connection to the site or the database, no thread and no lock of this process; the
initializer compiles the rules once per worker. Checks run ``prepare`` inline until the first
worker is ready and for good once the pool is broken (a worker killed); an exception
``prepare`` raises in a worker is raised here, as inline.

Pages go to the workers in chunks, the way the writer groups checks into transactions: a page
is sent at once while a worker has nothing to do, and the pages that arrive while every worker
is busy wait to go together as the next chunk (at most :data:`MAX_CHUNK`). Each submission
costs this process a round of the executor's threads and pipes (about as much CPU as fetching
the page); a chunk pays it once for all its pages.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import multiprocessing
import os
import resource
import signal
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from monitor.check import Prepared, prepare
from monitor.classify import Rules
from monitor.fetch import FetchResult
from scrapers.site import Site

log = logging.getLogger(__name__)

MAX_WORKERS = 3
MAX_CHUNK = 16  # pages per submission at most

_rules: Rules | None = None  # in a worker process: set once by the initializer


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_workers() -> int:
    """One worker per core the event loop leaves free; none on one core (nothing to overlap)."""
    return min(cores() - 1, MAX_WORKERS)


class Pool:
    """``prepare`` for the backfill's checks, in ``workers`` processes."""

    def __init__(self, rules: Rules, site: str, workers: int, scraper: Site) -> None:
        self.rules, self.site, self.workers, self.scraper = rules, site, workers, scraper
        self.jobs = 0  # pages prepared by a worker
        self.chunks = 0  # submissions that carried them
        self.loop = asyncio.get_running_loop()
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])  # workers start with the imports done
        self.executor: ProcessPoolExecutor | None = ProcessPoolExecutor(
            workers, mp_context=context, initializer=_start, initargs=(rules,)
        )
        self.ready = self.loop.run_in_executor(self.executor, _ready)
        self.usage: dict[int, WorkerUsage] = {}
        self.waiting: list[_Job] = []  # pages for the next chunk
        self.in_flight = 0  # chunks submitted and not answered yet

    async def prepare(self, result: FetchResult, known: str | None) -> Prepared:
        """:func:`monitor.check.prepare` of ``result``, by a worker when one is ready."""
        if self.executor is not None and self._ready():
            answer: asyncio.Future[Prepared] = self.loop.create_future()
            self.waiting.append(_Job(result, known, answer))
            self._submit()
            try:
                return await answer
            except _Inline:
                pass  # the pool broke, or could not answer for this chunk
        return prepare(result, self.site, self.rules, known, scraper=self.scraper)

    def _submit(self) -> None:
        """Send the waiting pages to the idle workers (and one chunk ahead, so a worker that
        finishes finds its next chunk queued), spread evenly, :data:`MAX_CHUNK` at most each."""
        executor = self.executor
        while executor is not None and self.waiting and self.in_flight <= self.workers:
            idle = max(self.workers + 1 - self.in_flight, 1)
            size = min(MAX_CHUNK, -(-len(self.waiting) // idle))
            chunk, self.waiting = self.waiting[:size], self.waiting[size:]
            pages = [(job.result, job.known) for job in chunk]
            sent = self.loop.run_in_executor(executor, _prepare_all, pages, self.site, self.scraper)
            self.in_flight += 1
            sent.add_done_callback(functools.partial(self._answered, chunk))

    def _answered(
        self, chunk: list[_Job], done: asyncio.Future[list[Prepared | Exception]]
    ) -> None:
        self.in_flight -= 1
        error = None if done.cancelled() else done.exception()
        if done.cancelled() or isinstance(error, BrokenProcessPool):
            self._gone()
        answers: list[Prepared | Exception] = [_Inline()] * len(chunk)  # inline: the same
        if not done.cancelled() and error is None:  # answer, or the same exception
            answers = done.result()
            self.chunks += 1
        for job, prepared in zip(chunk, answers, strict=True):
            if job.answer.done():  # the check was cancelled meanwhile
                continue
            if isinstance(prepared, Exception):
                job.answer.set_exception(prepared)
            else:
                self.jobs += 1
                job.answer.set_result(prepared)
        self._submit()

    def _ready(self) -> bool:
        if self._ready_now():
            return True
        if self.ready.done():  # the first worker could not start
            self._gone()
        return False

    def _gone(self) -> None:
        if self.executor is not None:
            log.warning("backfill worker process ended: extracting in this process")
            self.executor.shutdown(wait=False, cancel_futures=True)
            self.executor = None
        waiting, self.waiting = self.waiting, []
        for job in waiting:
            if not job.answer.done():
                job.answer.set_exception(_Inline())

    async def close(self, *, measure: bool = False) -> None:
        """Stop the workers (after their current jobs); ``measure``: first ask each worker for
        its CPU time and peak memory (``usage``, for the benchmark)."""
        executor, self.executor = self.executor, None
        if executor is None:
            return
        if measure and self._ready_now():
            try:
                answers = await asyncio.gather(
                    *(self.loop.run_in_executor(executor, _usage) for _ in range(self.workers))
                )
            except BrokenProcessPool:
                answers = []
            for usage in answers:
                self.usage[usage.pid] = usage
        await asyncio.to_thread(executor.shutdown, wait=True, cancel_futures=True)

    def _ready_now(self) -> bool:
        return self.ready.done() and not self.ready.cancelled() and not self.ready.exception()


@dataclass(frozen=True, slots=True)
class _Job:
    result: FetchResult
    known: str | None
    answer: asyncio.Future[Prepared]


class _Inline(Exception):
    """No worker answer for this page: prepare it in this process."""


@dataclass(frozen=True, slots=True)
class WorkerUsage:
    """What one worker process used: CPU seconds and peak RSS (KiB)."""

    pid: int
    cpu: float
    peak_kib: int


# In the worker processes -----------------------------------------------------------------------


def _start(rules: Rules) -> None:
    global _rules
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the backfill, which stops us
    _rules = rules


def _ready() -> int:
    return os.getpid()


def _prepare_all(
    pages: list[tuple[FetchResult, str | None]], site: str, scraper: Site
) -> list[Prepared | Exception]:
    """``prepare`` of each page of a chunk: its result, or the exception it raised."""
    assert _rules is not None, "the initializer sets the rules"
    answers: list[Prepared | Exception] = []
    for result, known in pages:
        try:
            answers.append(prepare(result, site, _rules, known, scraper=scraper))
        except Exception as exc:  # raised in the check that sent this page, as inline
            answers.append(exc)
    return answers


def _usage() -> WorkerUsage:
    time.sleep(0.05)  # hold this worker, so the next request goes to another one
    own = resource.getrusage(resource.RUSAGE_SELF)
    return WorkerUsage(os.getpid(), own.ru_utime + own.ru_stime, own.ru_maxrss)
