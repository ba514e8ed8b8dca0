"""The pure part of a check, before its transaction: the fetch, the extraction of a 200 (refused
when garbled), its fingerprint and its classification."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from monitor import templates
from monitor.classify import Rules, classify
from monitor.fetch import FetchResult
from monitor.outcome import Prepared
from monitor.runtime import Context
from monitor.store import Claim, Slot
from scrapers.article import Article as Page
from scrapers.article import ExtractionFailure, fingerprint
from scrapers.site import Site
from scrapers.template import Template

Preparer = Callable[[FetchResult, str | None], Awaitable[Prepared]]


async def fetch_and_prepare(
    ctx: Context, claim: Claim, preparer: Preparer | None = None, *, slot: Slot | None = None
) -> tuple[FetchResult, Prepared | None]:
    """A check up to its transaction: the fetch, and :func:`prepare` of a 200 — here, or by
    ``preparer`` (given the result and the current version's fingerprint; the backfill's
    runs it in a worker process)."""
    result = await ctx.fetcher.get(
        claim.url, etag=claim.etag, last_modified=claim.last_modified, slot=slot
    )
    prepared: Prepared | None = None
    if result.ok and preparer is not None:
        prepared = await preparer(result, claim.fingerprint)
    elif result.ok:
        learned = templates.active(ctx.engine)  # issue 21: a learned page template, if any
        site, scraper = ctx.settings.site_url, ctx.settings.scraper
        prepared = prepare(result, site, ctx.rules, claim.fingerprint, learned, scraper=scraper)
    # issue 21: pages without a body container teach (or are read by) a learned template
    page = templates.observe(ctx, claim, result, prepared.page if prepared else None)
    if prepared is not None and page is not None and page is not prepared.page:
        prepared = Prepared(page)  # read again under a template: record() classifies it
    return result, prepared


def prepare(
    result: FetchResult,
    site: str,
    rules: Rules,
    known: str | None,
    template: Template | None = None,  # issue 21: a learned page template (monitor/templates)
    *,
    scraper: Site,
) -> Prepared:
    """Extract the page of a 200 (refused when garbled), fingerprint it, and classify it
    unless the fingerprint is ``known`` (the current version's).

    It runs before the write transaction opens (classifying is the slowest step), so no writer
    holds the database lock meanwhile; it is pure, so it may run in another process.
    """
    page = scraper.extract(result.body, result.final_url, site, result.encoding, template)
    page = refuse_garbled(page, result.body)
    if not isinstance(page, Page):
        return Prepared(page)
    fp = fingerprint(page)
    if fp == known:
        return Prepared(page, fp)
    return Prepared(page, fp, classify(page.title, page.standfirst, list(page.paragraphs), rules))


REPLACEMENT = "\ufffd"


def refuse_garbled(page: Page | ExtractionFailure, body: bytes) -> Page | ExtractionFailure:
    """An article whose text holds replacement characters the page never sent was corrupted.

    Bytes invalid in the page's encoding decode to U+FFFD. Stored, they would make a version
    the site never had: alerted once as an edit, and again when the clean page returns. Such a
    page counts as a failed extraction, fetched again at the next check. (A page that really
    sends U+FFFD, as UTF-8 bytes, is taken as it is.)
    """
    if not isinstance(page, Page) or REPLACEMENT.encode() in body:
        return page
    texts = (page.title, page.standfirst, page.author, *page.paragraphs, *page.related_links)
    if any(REPLACEMENT in text for text in texts):
        return ExtractionFailure(page.url, "article text has bytes invalid in the page's encoding")
    return page
