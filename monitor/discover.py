"""Discovery: feeds for new articles, the sitemap index for edits anywhere in the archive.

Every source is fetched conditionally (:mod:`monitor.validators`): an unchanged feed, index or
sitemap is one 304, with no parse and no write. Feeds are read every poll interval; new URLs
become articles due now. The sitemap index is read every sitemap interval, and every sitemap
whose ``lastmod`` there moved since we last read it is fetched (not only the newest one): an
article whose ``lastmod`` is newer than our last check of it is made due before every routine
re-check. Only the newest sitemap adds articles we do not track (older ones hold the archive,
which the backfill loads on purpose). Only one worker runs discovery at a time (a named lease).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, bindparam, or_, update
from sqlmodel import Session, col, select

from monitor.db import session
from monitor.fetch import Fetcher
from monitor.models import Article
from monitor.store import add_candidates, utcnow
from monitor.validators import Validators, load_validators, save_validators
from scrapers.article import Candidate
from scrapers.site import DiscoveryError, SitemapRef

log = logging.getLogger(__name__)

# Due before every routine re-check (claims take the most overdue first): an edit the site
# announced is checked ahead of the sweep.
EDITED_DUE = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(slots=True)
class DiscoveryReport:
    sources: int = 0  # sources asked for
    failed: list[str] = field(default_factory=list)  # "URL: reason" (one line if unreachable)
    failures: int = 0  # sources that failed
    found: int = 0
    new: int = 0
    pulled_forward: int = 0
    not_modified: int = 0  # sources that answered 304
    sitemaps_read: int = 0  # child sitemaps fetched this round

    @property
    def all_failed(self) -> bool:
        return self.sources > 0 and self.failures == self.sources


@dataclass(slots=True)
class SourceRead:
    """One conditional fetch of a source: its entries (None: unchanged, or failed)."""

    url: str
    entries: list[Any] | None = None
    validators: Validators | None = None  # to store once the entries are stored
    error: str | None = None


async def read_source(
    fetcher: Fetcher, path: str, parse: Callable[[bytes, str], Sequence[Candidate]]
) -> tuple[list[Candidate], str | None]:
    """Fetch one feed or sitemap and parse it (unconditionally: the backfill reads each once)."""
    read = await read_conditional(fetcher, path, parse)
    return read.entries or [], read.error


async def read_sitemap_index(fetcher: Fetcher, path: str) -> tuple[list[SitemapRef], str | None]:
    read = await read_conditional(fetcher, path, fetcher.scraper.parse_sitemap_index)
    return read.entries or [], read.error


async def read_conditional(
    fetcher: Fetcher,
    path: str,
    parse: Callable[[bytes, str], Sequence[Any]],
    seen: Validators | None = None,
) -> SourceRead:
    """Fetch one feed or sitemap (conditionally when ``seen``) and parse a 200; a fault is a
    reason, not an exception."""
    result = await fetcher.get(
        path,
        accept="xml",
        etag=seen.etag if seen else None,
        last_modified=seen.last_modified if seen else None,
    )
    url = result.url
    if result.not_modified:
        return SourceRead(url)
    if not result.ok:
        return SourceRead(url, error=result.error or f"HTTP {result.status}")
    try:
        entries = list(parse(result.body, fetcher.site))
    except DiscoveryError as exc:
        return SourceRead(url, error=f"unusable: {exc}")
    marker = seen.marker if seen else None
    return SourceRead(url, entries, Validators(url, result.etag, result.last_modified, marker))


def newest(refs: Sequence[SitemapRef]) -> SitemapRef | None:
    """The sitemap new posts go into: the last listed (Yoast and WordPress list them oldest
    first). Not the newest ``lastmod``: an edit of an old article moves its old sitemap's."""
    return refs[-1] if refs else None


def moved(ref: SitemapRef, seen: Validators | None) -> bool:
    """Whether a child sitemap may hold news: never read, undated, or its lastmod moved."""
    if seen is None or seen.marker is None or ref.lastmod is None:
        return True
    return ref.lastmod.isoformat() != seen.marker


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


def mark_edited(db: Session, candidates: Sequence[Candidate]) -> int:
    """Make due first every tracked article whose ``lastmod`` is newer than what we know of it
    (its hint, and our last check); returns how many. One query per 500 URLs, one UPDATE for
    each edited article."""
    dated = {c.url: c.lastmod for c in candidates if c.lastmod is not None}
    urls = list(dated)
    edited: list[dict[str, Any]] = []
    for start in range(0, len(urls), 500):
        chunk = urls[start : start + 500]
        query = select(Article.id, Article.url, Article.lastmod_hint, Article.last_checked).where(
            col(Article.url).in_(chunk)
        )
        for article_id, url, hint, checked in db.exec(query):
            lastmod = dated[url]
            assert lastmod is not None
            if _newer(lastmod, hint) and _newer(lastmod, checked):
                edited.append({"b_id": article_id, "b_hint": lastmod})
    if edited:
        # Checked again in the UPDATE itself: a worker may have recorded a check of the
        # article since it was read above (PostgreSQL, READ COMMITTED), and must not be
        # sent back for a page it fetched a moment ago.
        unchecked_since = or_(
            col(Article.last_checked).is_(None), col(Article.last_checked) < bindparam("b_hint")
        )
        stmt = (
            update(Article)
            .where(col(Article.id) == bindparam("b_id"), unchecked_since)
            .values(lastmod_hint=bindparam("b_hint"), next_check_at=EDITED_DUE)
        )
        db.connection().execute(stmt, edited)
    return len(edited)


def _newer(a: datetime, b: datetime | None) -> bool:
    if b is None:
        return True
    if b.tzinfo is None:
        b = b.replace(tzinfo=UTC)
    return a > b


async def discover(
    fetcher: Fetcher,
    engine: Engine,
    feeds: Sequence[str],
    *,
    sitemap_index: str | None = None,
    now: datetime | None = None,
) -> DiscoveryReport:
    """Read ``feeds`` (and the sitemaps that changed, when ``sitemap_index`` is given)."""
    report = DiscoveryReport()
    absolute = [fetcher.site + p if p.startswith("/") else p for p in feeds]
    index_url = None
    if sitemap_index:
        index_url = fetcher.site + sitemap_index if sitemap_index.startswith("/") else sitemap_index
    seen = load_validators(engine, [*absolute, *([index_url] if index_url else [])])
    fresh: list[Candidate] = []  # may add articles
    archive: list[Candidate] = []  # known articles only
    done: list[Validators] = []
    for url in absolute:
        read = await _read(fetcher, url, fetcher.scraper.parse_feed, seen.get(url), report)
        if read.entries is not None and read.validators is not None:
            fresh.extend(read.entries)
            done.append(read.validators)
    if index_url:
        await _read_sitemaps(
            fetcher, engine, index_url, seen.get(index_url), report, fresh, archive, done
        )
    _summarise_failures(fetcher, report)
    if fresh or archive or done:
        unique = merge(fresh)
        report.found = len(unique) + len(archive)
        with session(engine) as db:
            report.pulled_forward = mark_edited(db, [*unique, *archive])
            added = add_candidates(db, unique, now or utcnow())
            save_validators(db, done)
        report.new = added.new
        report.pulled_forward += added.pulled_forward
    log.info(
        "discovery: %d sources (%d unchanged), %d URLs, %d new, %d made due",
        report.sources,
        report.not_modified,
        report.found,
        report.new,
        report.pulled_forward,
    )
    return report


async def _read(
    fetcher: Fetcher,
    url: str,
    parse: Callable[[bytes, str], Sequence[Any]],
    seen: Validators | None,
    report: DiscoveryReport,
) -> SourceRead:
    report.sources += 1
    read = await read_conditional(fetcher, url, parse, seen)
    if read.error:
        report.failures += 1
        report.failed.append(f"{_path(fetcher, url)}: {read.error}")
    elif read.entries is None:
        report.not_modified += 1
    return read


async def _read_sitemaps(
    fetcher: Fetcher,
    engine: Engine,
    index_url: str,
    seen: Validators | None,
    report: DiscoveryReport,
    fresh: list[Candidate],
    archive: list[Candidate],
    done: list[Validators],
) -> None:
    """The index, then every child sitemap whose lastmod moved; the index's validators are
    kept only when every child it named was read, so a failed one is tried again next round."""
    index = await _read(fetcher, index_url, fetcher.scraper.parse_sitemap_index, seen, report)
    if index.error:
        return
    if index.entries is None:  # unchanged: only the newest sitemap may have grown unannounced
        if seen is not None and seen.marker:
            top = SitemapRef(seen.marker)
            await _read_children(fetcher, engine, [top], top, report, fresh, archive, done)
        return
    refs: list[SitemapRef] = index.entries
    newest_ref = newest(refs)
    if newest_ref is None:
        report.failures += 1
        report.failed.append(f"{_path(fetcher, index_url)}: no sitemaps listed")
        return
    if await _read_children(fetcher, engine, refs, newest_ref, report, fresh, archive, done):
        assert index.validators is not None
        index.validators.marker = newest_ref.url
        done.append(index.validators)


async def _read_children(
    fetcher: Fetcher,
    engine: Engine,
    refs: Sequence[SitemapRef],
    top: SitemapRef,
    report: DiscoveryReport,
    fresh: list[Candidate],
    archive: list[Candidate],
    done: list[Validators],
) -> bool:
    """Read the newest sitemap (conditionally) and every other whose lastmod moved; True when
    none failed. Only the newest one may add articles."""
    known = load_validators(engine, [r.url for r in refs])
    complete = True
    for ref in refs:
        before = known.get(ref.url)
        if ref is not top and not moved(ref, before):
            continue
        read = await _read(fetcher, ref.url, fetcher.scraper.parse_sitemap, before, report)
        if read.error:
            complete = False
            continue
        if read.entries is None:
            continue  # 304: nothing to store either
        report.sitemaps_read += 1
        (fresh if ref is top else archive).extend(read.entries)
        marker = ref.lastmod.isoformat() if ref.lastmod else None
        validators = read.validators or Validators(ref.url)
        done.append(Validators(ref.url, validators.etag, validators.last_modified, marker))
    return complete


def _summarise_failures(fetcher: Fetcher, report: DiscoveryReport) -> None:
    """One line per failed source; when the site cannot be reached at all, that one line."""
    if fetcher.unreachable is not None and report.failed:
        report.failed = [fetcher.unreachable]  # the fetcher said it, once
        return
    for failure in report.failed:
        log.warning("discovery source failed: %s", failure)


def _path(fetcher: Fetcher, url: str) -> str:
    return url.removeprefix(fetcher.site) or url
