"""One article, by hand: the ``check``, ``history`` and ``diff`` commands' work, as values.

The command line only parses, calls these and prints: :func:`check_by_hand` resolves the URL,
tracks it, claims it (a short lease, renewed while the check runs) and checks it;
:func:`tracked` is the one lookup of a tracked article with its versions (and changes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlmodel import col, select

from monitor.check import check_holding
from monitor.db import session
from monitor.fetch import Fetcher
from monitor.models import Article, Change, Version
from monitor.outcome import NEW_VERSION, Outcome, Report
from monitor.runtime import make_context
from monitor.settings import Settings
from monitor.store import (
    Held,
    add_candidates,
    claim_article,
    find_article,
    utcnow,
    versions_of,
    worker_name,
)
from scrapers.article import Candidate

CHECK_LEASE = 30.0  # seconds; renewed while the check runs, so a killed check frees it soon


class NotAnArticle(ValueError):
    """The URL is not on the configured site, or does not lead to an article."""


@dataclass(frozen=True, slots=True)
class ByHand:
    """What a check by hand came to, and the change it stored (when it stored one)."""

    report: Report
    article_id: int
    change: Change | None = None


@dataclass(frozen=True, slots=True)
class Tracked:
    """A tracked article with its versions in order (and its changes, when asked for)."""

    article: Article
    versions: Sequence[Version]
    changes: Sequence[Change] = ()


async def resolve(settings: Settings, url: str) -> str:
    """The canonical URL: directly, or by following the site's redirect for a shortlink."""
    scraper, site = settings.scraper, settings.site_url
    canonical = scraper.canonicalize(url, site)
    if canonical:
        return canonical
    if not scraper.same_site(url, site):
        raise NotAnArticle(f"{url} is not on the configured site {site}")
    async with Fetcher(settings) as fetcher:
        result = await fetcher.get(url)
    canonical = scraper.canonicalize(result.final_url, site)
    if not canonical:
        raise NotAnArticle(f"{url} does not lead to an article ({result.error or result.status})")
    return canonical


async def check_by_hand(settings: Settings, engine: Engine, url: str) -> ByHand | Held:
    """Track ``url`` (if new), claim it and check it now; :class:`Held` when another live
    worker is checking it. Raises :class:`NotAnArticle` for a URL that is not one."""
    canonical = await resolve(settings, url)
    with session(engine) as db:
        add_candidates(db, [Candidate(canonical, "cli")], utcnow())
        article = find_article(db, canonical)
        assert article is not None and article.id is not None
        article_id = article.id
    ctx = make_context(settings, engine, worker_name())
    try:
        claim = claim_article(engine, article_id, ctx.owner, CHECK_LEASE)
        if isinstance(claim, Held):
            return claim
        assert claim is not None
        report = await check_holding(ctx, claim, CHECK_LEASE)
    finally:
        await ctx.fetcher.aclose()
    stored = report.outcome in NEW_VERSION or report.outcome == Outcome.RESTORED
    return ByHand(report, article_id, latest_change(engine, article_id) if stored else None)


def latest_change(engine: Engine, article_id: int) -> Change | None:
    with session(engine) as db:
        return db.exec(
            select(Change)
            .where(Change.article_id == article_id)
            .order_by(col(Change.id).desc())
            .limit(1)
        ).first()


def tracked(
    engine: Engine, settings: Settings, url: str, *, changes: bool = False
) -> Tracked | None:
    """The article ``url`` names (canonical, shortlink, old or moved URL), with its versions;
    None when it is not tracked."""
    with session(engine) as db:
        article = find_article(db, settings.scraper.canonicalize(url, settings.site_url) or url)
        if article is None:
            return None
        versions = list(versions_of(db, article.id or 0))
        found: Sequence[Change] = ()
        if changes:
            query = select(Change).where(Change.article_id == article.id)
            found = db.exec(query.order_by(col(Change.id))).all()
    return Tracked(article, versions, found)
