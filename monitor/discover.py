"""Discovery: read the site's feeds (and, as a backstop, its newest sitemap) for article URLs.

New URLs become articles due for a check now; a ``lastmod`` newer than what we know pulls a
known article's next check forward. Only one worker runs discovery at a time (a named lease).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine

from monitor.db import session
from monitor.fetch import Fetcher
from monitor.store import add_candidates, utcnow
from scrapers.article import Candidate
from scrapers.cphpost import (
    DiscoveryError,
    SitemapRef,
    parse_feed,
    parse_sitemap,
    parse_sitemap_index,
)

log = logging.getLogger(__name__)


@dataclass(slots=True)
class DiscoveryReport:
    sources: int = 0
    failed: list[str] = field(default_factory=list)  # "URL: reason"
    found: int = 0
    new: int = 0
    pulled_forward: int = 0

    @property
    def all_failed(self) -> bool:
        return self.sources > 0 and len(self.failed) == self.sources


async def read_source(
    fetcher: Fetcher, path: str, parse: Callable[[bytes, str], Sequence[Candidate]]
) -> tuple[list[Candidate], str | None]:
    """Fetch one feed or sitemap and parse it; a fault is a reason, not an exception."""
    result = await fetcher.get(path, accept="xml")
    if not result.ok:
        return [], result.error or f"HTTP {result.status}"
    try:
        return list(parse(result.body, fetcher.site)), None
    except DiscoveryError as exc:
        return [], f"unusable: {exc}"


async def read_sitemap_index(fetcher: Fetcher, path: str) -> tuple[list[SitemapRef], str | None]:
    result = await fetcher.get(path, accept="xml")
    if not result.ok:
        return [], result.error or f"HTTP {result.status}"
    try:
        return list(parse_sitemap_index(result.body, fetcher.site)), None
    except DiscoveryError as exc:
        return [], f"unusable: {exc}"


def newest(refs: Sequence[SitemapRef]) -> SitemapRef | None:
    """The sitemap most likely to hold new posts: newest lastmod, else the last listed."""
    if not refs:
        return None
    dated = [r for r in refs if r.lastmod is not None]
    if dated:
        return max(dated, key=lambda r: r.lastmod or datetime.min)
    return refs[-1]


def merge(candidates: Sequence[Candidate]) -> list[Candidate]:
    """One candidate per URL, in first-seen order, keeping a ``lastmod`` hint when any has one."""
    merged: dict[str, Candidate] = {}
    for cand in candidates:
        known = merged.get(cand.url)
        if known is None or (known.lastmod is None and cand.lastmod is not None):
            merged[cand.url] = cand if known is None else _with_lastmod(known, cand)
    return list(merged.values())


def _with_lastmod(known: Candidate, other: Candidate) -> Candidate:
    return Candidate(
        known.url, known.source, known.title, known.published, other.lastmod, known.categories
    )


async def discover(
    fetcher: Fetcher,
    engine: Engine,
    feeds: Sequence[str],
    *,
    sitemap_index: str | None = None,
    now: datetime | None = None,
) -> DiscoveryReport:
    """Read ``feeds`` (and the newest sitemap when ``sitemap_index`` is given); store what's new."""
    report = DiscoveryReport()
    candidates: list[Candidate] = []
    for path in feeds:
        report.sources += 1
        found, error = await read_source(fetcher, path, parse_feed)
        if error:
            report.failed.append(f"{path}: {error}")
        candidates.extend(found)
    if sitemap_index:
        report.sources += 1
        refs, error = await read_sitemap_index(fetcher, sitemap_index)
        ref = newest(refs)
        if error or ref is None:
            report.failed.append(f"{sitemap_index}: {error or 'no sitemaps listed'}")
        else:
            found, error = await read_source(fetcher, ref.url, parse_sitemap)
            if error:
                report.failed.append(f"{ref.url}: {error}")
            candidates.extend(found)
    unique = merge(candidates)
    report.found = len(unique)
    with session(engine) as db:
        added = add_candidates(db, unique, now or utcnow())
    report.new, report.pulled_forward = added.new, added.pulled_forward
    for failure in report.failed:
        log.warning("discovery source failed: %s", failure)
    log.info(
        "discovery: %d sources, %d URLs, %d new, %d pulled forward",
        report.sources,
        report.found,
        report.new,
        report.pulled_forward,
    )
    return report
