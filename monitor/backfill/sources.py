"""Where the backfill's URLs come from: the date filter, the checkpoints and the source walkers.

A walker reads the sitemaps (or an archive listing, or the feeds) newest first and hands each
sitemap or listing page to its :class:`Sink` as a :class:`Unit`; once every check a unit queued
has finished, the walker records a :class:`~monitor.models.Checkpoint` (a sitemap fully
processed, with its ``lastmod``: unchanged sitemaps are not even re-read; the listing page
reached), so a rerun continues where this one stopped.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal, Protocol
from urllib.parse import urljoin

from sqlalchemy import Engine
from sqlmodel import col, select

from monitor.db import session
from monitor.discover import merge, read_sitemap_index, read_source
from monitor.fetch import Fetcher
from monitor.models import Checkpoint
from monitor.settings import Settings
from monitor.store import utcnow
from scrapers.article import Candidate
from scrapers.site import DiscoveryError, Site, SitemapRef

Source = Literal["sitemap", "listing", "feed"]
SOURCES: tuple[Source, ...] = ("sitemap", "listing", "feed")
_DAY = timedelta(days=1)


# The date filter -------------------------------------------------------------------------------


def article_day(candidate: Candidate, site: Site) -> date | None:
    """The publication day: from the URL when the site's layout names it, else the source's."""
    day = site.article_day(candidate.url)
    if day is not None:
        return day
    when = candidate.published or candidate.lastmod
    return when.date() if when is not None else None


def in_range(candidate: Candidate, since: date | None, until: date | None, site: Site) -> bool:
    day = article_day(candidate, site)
    if day is None:
        return True  # undated: the range cannot exclude it
    return (since is None or day >= since) and (until is None or day <= until)


# Units of work and their checkpoints -----------------------------------------------------------


@dataclass(eq=False, slots=True)
class Unit:
    """One sitemap or listing page: done when closed and every check it queued has finished."""

    key: str
    marker: str | None
    next_page: str | None = None  # listing pages: where the walk goes on
    outstanding: int = 0
    closed: bool = False
    complete: bool = True  # False: something was filtered out, cut by --limit, or failed
    on_done: Callable[[Unit], Awaitable[None]] | None = None
    finished: bool = False

    @property
    def ok(self) -> bool:
        return self.finished and self.complete

    async def maybe_done(self) -> None:
        """Run ``on_done`` once: when closed and no check it queued is outstanding."""
        if self.closed and self.outstanding == 0 and not self.finished:
            self.finished = True
            if self.on_done is not None:
                await self.on_done(self)


@dataclass(slots=True)
class Chain:
    """The pages of one listing walk. While it runs, the checkpoint is the first page not yet
    done (where a rerun continues); once every page is done, ``done`` with how far back it went
    (``cover``: a date, or "" for the end of the archive)."""

    key: str
    pending: list[Unit] = field(default_factory=list)  # in page order
    record_pages: bool = True  # an incremental walk leaves the finished checkpoint alone
    cover: str | None = None  # set when the walk has ended without an error


def read_checkpoints(engine: Engine, keys: Sequence[str]) -> dict[str, Checkpoint]:
    if not keys:
        return {}
    with session(engine) as db:
        rows = db.exec(select(Checkpoint).where(col(Checkpoint.key).in_(keys))).all()
        return {row.key: row for row in rows}


def write_checkpoint(engine: Engine, key: str, done: bool, marker: str | None) -> None:
    with session(engine) as db:
        row = db.get(Checkpoint, key)
        if row is None:
            row = Checkpoint(key=key, updated_at=utcnow())
        row.done, row.marker, row.updated_at = done, marker, utcnow()
        db.add(row)


# The walkers -----------------------------------------------------------------------------------


class Sink(Protocol):
    """What a walker hands its units to (the run)."""

    @property
    def limit_reached(self) -> bool: ...

    def expect(self, units: int | None) -> None:
        """How many units this walk is expected to read (for the ETA); called once."""

    def source_read(self) -> None: ...

    def source_error(self, message: str) -> None: ...

    async def feed(self, candidates: Sequence[Candidate], unit: Unit) -> tuple[int, int]:
        """Queue checks of ``candidates``; returns (found in the date range, queued)."""
        ...

    async def close(self, unit: Unit) -> None:
        """Nothing more comes for ``unit``: its checkpoint follows its last check."""


@dataclass(slots=True)
class Walker:
    """Reads one kind of source for the sink, recording checkpoints (unless a dry run)."""

    settings: Settings
    engine: Engine
    fetcher: Fetcher
    sink: Sink
    since: date | None
    dry_run: bool

    async def walk(self, source: Source, listings: Sequence[str]) -> None:
        if source == "sitemap":
            await self.sitemaps()
        elif source == "listing":
            for path in listings:
                await self.listing(path)
        else:
            await self.feeds()

    async def sitemaps(self) -> None:
        index = self.settings.sitemap_path
        refs, error = await read_sitemap_index(self.fetcher, index)
        self.sink.source_read()
        if error:
            self.sink.source_error(f"{index}: {error}")
            return
        refs = sorted(refs, key=_newest_first)
        marks = read_checkpoints(self.engine, [f"sitemap:{r.url}" for r in refs])
        todo = [r for r in refs if self._wanted(r, marks.get(f"sitemap:{r.url}"))]
        self.sink.expect(len(todo))
        for ref in todo:
            if self.sink.limit_reached:
                break
            parse = self.fetcher.scraper.parse_sitemap
            found, error = await read_source(self.fetcher, ref.url, parse)
            self.sink.source_read()
            if error:
                self.sink.source_error(f"{ref.url}: {error}")
                continue
            marker = ref.lastmod.isoformat() if ref.lastmod is not None else None
            unit = Unit(f"sitemap:{ref.url}", marker, on_done=self._sitemap_done)
            await self.sink.feed(found, unit)
            await self.sink.close(unit)

    def _wanted(self, ref: SitemapRef, mark: Checkpoint | None) -> bool:
        since = self.since
        if ref.lastmod is not None and since is not None and ref.lastmod.date() < since - _DAY:
            return False  # every post in it was published before it last changed: all too old
        if mark is not None and mark.done and ref.lastmod is not None:
            return mark.marker != ref.lastmod.isoformat()  # done, and unchanged since
        return True

    async def _sitemap_done(self, unit: Unit) -> None:
        if unit.complete and not self.dry_run:
            write_checkpoint(self.engine, unit.key, True, unit.marker)

    async def listing(self, path: str) -> None:
        """Newest first, page by page, until ``since``, the archive's end, or (after a finished
        walk that reached as far back) the first page whose articles are all stored."""
        site = self.settings.site_url
        key = f"listing:{path}"
        mark = read_checkpoints(self.engine, [key]).get(key)
        chain = Chain(key)
        page: str | None = urljoin(site + "/", path)
        incremental = mark is not None and mark.done and _covers(mark.marker, self.since)
        if mark is not None and not mark.done and mark.marker:
            page = mark.marker  # an interrupted walk: continue at the first unfinished page
        chain.record_pages = not incremental
        cover: str | None = None
        first = True
        while page is not None and not self.sink.limit_reached:
            result = await self.fetcher.get(page)
            self.sink.source_read()
            if not result.ok:
                self.sink.source_error(f"{page}: {result.error or f'HTTP {result.status}'}")
                return
            try:
                listing = self.fetcher.scraper.parse_listing(result.body, site)
            except DiscoveryError as exc:
                self.sink.source_error(f"{page}: unusable: {exc}")
                return
            if first:
                self.sink.expect(self.fetcher.scraper.listing_pages_left(result.body, page))
                first = False
            unit = Unit(key, page, listing.next_page, on_done=self._page_done(chain))
            chain.pending.append(unit)
            found, planned = await self.sink.feed(listing.candidates, unit)
            await self.sink.close(unit)
            if incremental and found and not planned:
                cover = mark.marker if mark is not None else None
                break  # all stored here: the rest was walked before, as far back as needed
            scraper = self.fetcher.scraper
            days = [d for c in listing.candidates if (d := article_day(c, scraper)) is not None]
            if self.since is not None and days and max(days) < self.since:
                cover = self.since.isoformat()
                break  # newest first: everything further back is older still
            page = listing.next_page
            if page is None:
                cover = ""
        if cover is not None and not self.sink.limit_reached:
            chain.cover = cover
            await self._chain_progress(chain)

    def _page_done(self, chain: Chain) -> Callable[[Unit], Awaitable[None]]:
        async def done(_unit: Unit) -> None:
            await self._chain_progress(chain)

        return done

    async def _chain_progress(self, chain: Chain) -> None:
        """Move the listing checkpoint past the leading pages that are done."""
        resume: str | None = None
        while chain.pending and chain.pending[0].ok:
            resume = chain.pending.pop(0).next_page
        if self.dry_run:
            return
        if chain.cover is not None and not chain.pending:
            write_checkpoint(self.engine, chain.key, True, chain.cover)
            chain.cover = None  # written once
        elif resume is not None and chain.record_pages:
            write_checkpoint(self.engine, chain.key, False, resume)

    async def feeds(self) -> None:
        candidates: list[Candidate] = []
        for path in self.settings.feed_paths:
            found, error = await read_source(self.fetcher, path, self.fetcher.scraper.parse_feed)
            self.sink.source_read()
            if error:
                self.sink.source_error(f"{path}: {error}")
            candidates.extend(found)
        unit = Unit("feeds", None)
        await self.sink.feed(merge(candidates), unit)
        await self.sink.close(unit)


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
