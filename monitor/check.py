"""One article's whole path: fetch → extract → compare → classify → store → alert outbox.

:func:`check` is the only place that path is written down; the daemon, ``run --once``, the
``check`` command and the backfill all call it. Everything it decides is recorded in one
transaction, so a crash leaves either the whole outcome (version, change, alert, deliveries) or
none of it — and the lease on the article simply expires, so another check redoes the work.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Table, insert, text, update
from sqlmodel import Session, col, select

from monitor import schedule, templates
from monitor.alerts.outbox import enqueue
from monitor.alerts.render import build_payload
from monitor.classify import Classification, Rules, classify
from monitor.db import session
from monitor.diff import ChangeKind, Diff, Significance, changed_sentences, diff_articles
from monitor.diff import lifecycle as lifecycle_diff
from monitor.diff import render_html as diff_html
from monitor.fetch import FetchResult
from monitor.models import Article, ArticleStatus, Change, FetchLog, UrlAlias, Version
from monitor.runtime import Context
from monitor.settings import Settings
from monitor.store import (
    Claim,
    add_alias,
    find_article,
    lock_claimed,
    renew_claim,
    utcnow,
    versions_of,
)
from scrapers.article import Article as Page
from scrapers.article import ExtractionFailure, fingerprint
from scrapers.site import Site
from scrapers.template import Template

log = logging.getLogger(__name__)


class Outcome(StrEnum):
    """What one check came to; stored in the fetch log, counted by the metrics."""

    NOT_MODIFIED = "not_modified"  # 304 to our validators
    UNCHANGED = "unchanged"  # 200, the same content as the current version
    NEW = "new"  # the first version
    CHANGED = "changed"  # a new version
    RESTORED = "restored"  # back after it was gone
    MISSING = "missing"  # a first 404/410, to be confirmed
    DELETED = "deleted"  # confirmed gone
    GONE = "gone"  # still gone
    REVERSION_HELD = "reversion_held"  # back to an earlier version: held until confirmed
    REVERSION_DROPPED = "reversion_dropped"  # a held reversion that did not come back
    TRANSIENT = "transient"  # a network error or a server error: retried
    EXTRACTION_FAILED = "extraction_failed"  # a page the scraper could not read: retried
    DEFERRED = "deferred"  # the site asked us to wait (Retry-After): next check when it said
    LEASE_LOST = "lease_lost"  # another worker took the article over: nothing recorded


FAILED = frozenset({Outcome.TRANSIENT, Outcome.EXTRACTION_FAILED, Outcome.DEFERRED})
NEW_VERSION = frozenset({Outcome.NEW, Outcome.CHANGED})
NOT_EXTRACTED = frozenset(
    {
        Outcome.NOT_MODIFIED,
        Outcome.MISSING,
        Outcome.DELETED,
        Outcome.GONE,
        Outcome.TRANSIENT,
        Outcome.DEFERRED,
        Outcome.LEASE_LOST,
    }
)


@dataclass(slots=True)
class Report:
    """What one check came to (for logs, counters, ops health and tests)."""

    url: str
    outcome: Outcome
    status: int | None = None
    error: str | None = None
    relevant: bool = False
    alerts: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.outcome in FAILED

    @property
    def extracted(self) -> bool:
        """Whether a page was run through extraction (for the scraper's health)."""
        return self.status != 304 and self.outcome not in NOT_EXTRACTED


@dataclass(frozen=True, slots=True)
class Prepared:
    """The pure part of a check, done before its transaction: the page extracted from a 200
    (or why it could not be), its fingerprint, and its classification (None when the page's
    fingerprint is the current version's: an unchanged page is not classified again)."""

    page: Page | ExtractionFailure
    fingerprint: str | None = None
    verdict: Classification | None = None


Preparer = Callable[[FetchResult, str | None], Awaitable[Prepared]]


async def check(ctx: Context, claim: Claim, now: datetime | None = None) -> Report:
    """Fetch one claimed article and record what happened."""
    result, prepared = await fetch_and_prepare(ctx, claim)
    return record(ctx, claim, result, prepared, now or utcnow())


async def check_holding(ctx: Context, claim: Claim, lease_seconds: float) -> Report:
    """:func:`check`, renewing the claim every third of ``lease_seconds`` while it runs.

    For a check by hand: a short lease, which a killed process lets go of soon (where its death
    cannot be seen: another host), held as long as the check needs.
    """

    async def renew() -> None:
        while True:
            await asyncio.sleep(lease_seconds / 3)
            await asyncio.to_thread(renew_claim, ctx.engine, claim, lease_seconds)

    renewing = asyncio.create_task(renew())
    try:
        return await check(ctx, claim)
    finally:
        renewing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await renewing


async def fetch_and_prepare(
    ctx: Context, claim: Claim, preparer: Preparer | None = None
) -> tuple[FetchResult, Prepared | None]:
    """A check up to its transaction: the fetch, and :func:`prepare` of a 200 — here, or by
    ``preparer`` (given the result and the current version's fingerprint; the backfill's
    runs it in a worker process)."""
    result = await ctx.fetcher.get(claim.url, etag=claim.etag, last_modified=claim.last_modified)
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


def record(
    ctx: Context,
    claim: Claim,
    result: FetchResult,
    prepared: Prepared | None,
    now: datetime,
) -> Report:
    """Apply a fetch outcome (and the page :func:`prepare` made of it) to the store in one
    transaction (the imperative shell)."""
    with session(ctx.engine) as db:
        report = record_in(ctx, db, claim, result, prepared, now, lock_claimed(db, claim))
    log_report(claim, report)
    return report


def record_in(
    ctx: Context,
    db: Session,
    claim: Claim,
    result: FetchResult,
    prepared: Prepared | None,
    now: datetime,
    article: Article | None,
) -> Report:
    """:func:`record` inside the caller's transaction: ``article`` is the claimed article as
    :func:`~monitor.store.lock_claimed` gives it (None: the lease was lost). The backfill
    records several checks in one transaction with it."""
    if article is None:
        return Report(claim.url, Outcome.LEASE_LOST, result.status)
    if result.ok and prepared is not None and isinstance(prepared.page, Page):
        page = prepared.page
        article = _same_story(db, article, page, result.final_url, ctx.settings)
    report = _apply(ctx, db, article, result, prepared, now)
    _insert(
        db,
        _FETCH_LOG,
        at=now,
        url=claim.url,
        status=result.status,
        outcome=report.outcome,
        elapsed_ms=int(result.elapsed * 1000),
        error=report.error,
        worker=ctx.owner,
    )
    article.lease_owner = article.lease_expires = None
    article.last_checked = now
    db.add(article)
    return report


def log_report(claim: Claim, report: Report) -> None:
    """The log line of a recorded check (none when the lease was lost)."""
    if report.outcome == Outcome.LEASE_LOST:
        return
    if report.failed:
        log.warning("check %s: %s (%s)", claim.url, report.outcome, report.error)
    else:
        log.info("check %s: %s%s", claim.url, report.outcome, _alerts_note(report))


def _alerts_note(report: Report) -> str:
    return f" → alert {', '.join(report.alerts)}" if report.alerts else ""


_FETCH_LOG: Table = FetchLog.__table__  # type: ignore[attr-defined]
_VERSION: Table = Version.__table__  # type: ignore[attr-defined]
_CHANGE: Table = Change.__table__  # type: ignore[attr-defined]


def _insert(db: Session, table: Table, **row: Any) -> int | None:
    """INSERT one row of a log-like table (written once, never read back in this transaction)
    with Core on the session's connection; returns its id.

    Cheaper than the ORM's unit of work for rows nothing else in the check touches, and it does
    not autoflush: the article is written once, at commit, instead of before every insert.
    """
    stmt = _INSERTS.get(table.name)
    if stmt is None:  # built once: a statement reused is compiled and cache-keyed once
        stmt = _INSERTS[table.name] = insert(table).returning(table.c.id)
    return db.connection().execute(stmt, row).scalar_one()


_INSERTS: dict[str, Any] = {}
_OTHER_WITH_POST_ID = text(
    "SELECT 1 FROM article WHERE post_id = :post_id AND id != :id"
    " AND current_version_id IS NOT NULL LIMIT 1"
)


def _apply(
    ctx: Context,
    db: Session,
    article: Article,
    result: FetchResult,
    prepared: Prepared | None,
    now: datetime,
) -> Report:
    page = prepared.page if prepared is not None else None
    if result.ok and isinstance(page, Page):
        # before the schedule is read: an old article's first fetch (a backfill) is due by
        # its age, not as a fresh one's
        article.published = page.published or article.published
    regular = _regular_next(ctx.settings, article, now)
    if result.not_modified:
        article.fail_count, article.last_error, article.missing_since = 0, None, None
        article.next_check_at = regular
        outcome = Outcome.NOT_MODIFIED
        if article.pending_version_id is not None:  # 304 to the current version's validators
            article.pending_version_id, outcome = None, Outcome.REVERSION_DROPPED
        return Report(article.url, outcome, 304, relevant=article.relevant)
    if result.missing:
        return _missing(ctx, db, article, result, now, regular)
    if not result.ok or not isinstance(page, Page):
        reason = result.error or (page.reason if isinstance(page, ExtractionFailure) else None)
        failure = isinstance(page, ExtractionFailure)
        outcome = Outcome.EXTRACTION_FAILED if failure else Outcome.TRANSIENT
        if result.deferred:  # Retry-After: next check when the site said, not sooner
            outcome = Outcome.DEFERRED
        article.fail_count += 1
        article.last_error = reason
        article.next_check_at = schedule.retry_after_failure(
            now, article.fail_count, regular, result.retry_after
        )
        return Report(article.url, outcome, result.status, reason, article.relevant)
    _follow_move(db, article, result, ctx.settings)
    article.fail_count, article.last_error, article.missing_since = 0, None, None
    validators = article.etag, article.last_modified
    article.etag, article.last_modified = result.etag, result.last_modified
    article.last_seen = now
    article.next_check_at = regular
    assert prepared is not None  # a Page came from prepare()
    report = _content(ctx, db, article, prepared, page, now)
    if report.outcome == Outcome.REVERSION_HELD:
        # Keep the current version's validators: a reversion that holds must come back as a
        # 200 (and be confirmed), not as a 304 to its own ETag that would hold it forever.
        article.etag, article.last_modified = validators
    return report


def _regular_next(settings: Settings, article: Article, now: datetime) -> datetime:
    born = article.published or article.first_seen
    when = schedule.next_check(now, born, settings.recheck_schedule)
    if not article.relevant and article.version_count and settings.slow_recheck_factor > 1:
        slowest = settings.recheck_schedule[-1][1]
        stretched = min((when - now).total_seconds() * settings.slow_recheck_factor, slowest)
        when = max(when, now + timedelta(seconds=stretched))
    return when


def _missing(
    ctx: Context,
    db: Session,
    article: Article,
    result: FetchResult,
    now: datetime,
    regular: datetime,
) -> Report:
    """404/410: note it, confirm with a second fetch later, only then mark the article gone."""
    if article.status == ArticleStatus.GONE:
        article.next_check_at = regular
        return Report(article.url, Outcome.GONE, result.status, relevant=article.relevant)
    if article.missing_since is None:
        article.missing_since = now
        article.next_check_at = now + timedelta(seconds=ctx.settings.delete_confirm_after)
        return Report(article.url, Outcome.MISSING, result.status, relevant=article.relevant)
    article.status = ArticleStatus.GONE
    article.etag = article.last_modified = None
    article.next_check_at = regular
    report = Report(article.url, Outcome.DELETED, result.status, relevant=article.relevant)
    if article.current_version_id is not None:
        diff = lifecycle_diff(ChangeKind.DELETED)
        change_id = _add_change(db, article, article.current_version_id, None, diff, now)
        current = db.get(Version, article.current_version_id)
        if current is not None and article.relevant:
            _alert(
                ctx,
                db,
                report,
                "deleted",
                article,
                change_id,
                Page.from_dict(current.data),
                None,
                None,
                diff,
                now,
            )
    return report


def _follow_move(db: Session, article: Article, result: FetchResult, settings: Settings) -> None:
    """A permanent redirect to another article URL: the article moved and keeps its history."""
    if not result.permanent_redirect:
        return
    target = settings.scraper.canonicalize(result.final_url, settings.site_url)
    if not target or target == article.url:
        return
    other = find_article(db, target)
    if other is not None and other.id != article.id:
        return  # already tracked under the new URL: leave both, the alias table links them
    add_alias(db, article.url, article.id or 0)
    log.info("article moved: %s -> %s", article.url, target)
    article.url = target


def _same_story(
    db: Session, article: Article, page: Page, final_url: str, settings: Settings
) -> Article:
    """The tracked article this first fetch is another URL of, else ``article`` itself.

    A URL never recorded whose page carries the post id of an article already tracked under
    another URL (the slug changed and a feed listed the new URL before the old one's re-check
    followed its 301) is that article: the new row goes, both URLs lead to the tracked article,
    which now lives at the URL that served the page and keeps its history (one story, one alert).
    """
    if article.current_version_id is not None or not page.post_id:
        return article
    params = {"post_id": page.post_id, "id": article.id}
    if db.connection().execute(_OTHER_WITH_POST_ID, params).first() is None:
        return article  # the usual case, answered without loading (and locking) an article
    query = (
        select(Article)
        .where(Article.post_id == page.post_id, col(Article.id) != article.id)
        .where(col(Article.current_version_id).is_not(None))
        .order_by(col(Article.id))
        .with_for_update()
    )
    original = db.exec(query).first()
    if original is None:
        return article
    db.execute(
        update(UrlAlias)
        .where(col(UrlAlias.article_id) == article.id)
        .values(article_id=original.id)
    )
    db.delete(article)
    db.flush()
    here = settings.scraper.canonicalize(final_url, settings.site_url) or article.url
    taken = db.exec(select(Article).where(Article.url == here)).first()
    if taken is not None and taken.id != original.id:
        here = original.url
    for url in {article.url, original.url} - {here}:
        add_alias(db, url, original.id or 0)
    log.info("same story: %s is %s, now at %s", article.url, original.url, here)
    original.url = here
    original.lease_owner, original.lease_expires = article.lease_owner, article.lease_expires
    return original


def _content(
    ctx: Context, db: Session, article: Article, prepared: Prepared, page: Page, now: datetime
) -> Report:
    fp = prepared.fingerprint or fingerprint(page)
    was_gone = article.status == ArticleStatus.GONE
    article.status = ArticleStatus.PAYWALLED if page.paywalled else ArticleStatus.LIVE
    article.post_id = page.post_id or article.post_id
    article.section = page.section or article.section
    current = db.get(Version, article.current_version_id) if article.current_version_id else None
    if current is not None and current.fingerprint == fp:
        outcome = Outcome.UNCHANGED
        if article.pending_version_id is not None:
            article.pending_version_id, outcome = None, Outcome.REVERSION_DROPPED
        report = Report(article.url, outcome, 200, relevant=article.relevant)
        if was_gone:
            diff = lifecycle_diff(ChangeKind.RESTORED)
            change_id = _add_change(db, article, current.id, current.id, diff, now)
            report.outcome = Outcome.RESTORED
            if article.relevant:
                _alert(ctx, db, report, "restored", article, change_id, page, None, None, diff, now)
        return report
    if current is not None:
        earlier = _reversion_target(db, article, current, fp, now, ctx.settings.flipflop_window)
        if earlier is not None and article.pending_version_id != earlier.id:
            diff = diff_articles(Page.from_dict(current.data), page)
            _add_change(db, article, current.id, earlier.id, diff, now, held=True)
            article.pending_version_id = earlier.id
            return Report(article.url, Outcome.REVERSION_HELD, 200, relevant=article.relevant)
    article.pending_version_id = None
    verdict = prepared.verdict if prepared.fingerprint == fp else None
    return _new_version(ctx, db, article, current, page, fp, verdict, now, was_gone)


def _reversion_target(
    db: Session, article: Article, current: Version, fp: str, now: datetime, window: float
) -> Version | None:
    """An earlier version with this content that the article left less than ``window`` ago."""
    history = list(versions_of(db, article.id or 0))
    for index in range(len(history) - 1, -1, -1):
        version = history[index]
        if version.id == current.id or version.fingerprint != fp:
            continue
        left_at = history[index + 1].fetched_at if index + 1 < len(history) else now
        if (now - left_at).total_seconds() <= window:
            return version
        return None
    return None


def _new_version(
    ctx: Context,
    db: Session,
    article: Article,
    current: Version | None,
    page: Page,
    fp: str,
    verdict: Classification | None,
    now: datetime,
    was_gone: bool,
) -> Report:
    if verdict is None:  # prepare() was told this content was known: it is not any more
        verdict = classify(page.title, page.standfirst, list(page.paragraphs), ctx.rules)
    version_id = _insert(
        db,
        _VERSION,
        article_id=article.id or 0,
        seq=article.version_count + 1,
        fingerprint=fp,
        fetched_at=now,
        title=page.title,
        paywalled=page.paywalled,
        data=page.to_dict(),
        relevant=verdict.relevant,
        classification=verdict.to_dict(),
    )
    old = Page.from_dict(current.data) if current is not None else None
    was_relevant = article.relevant
    diff = diff_articles(old, page)
    change_id = _add_change(db, article, current.id if current else None, version_id, diff, now)
    article.current_version_id = version_id
    article.version_count += 1
    article.relevant = verdict.relevant
    article.topics = list(verdict.topics)
    outcome = Outcome.NEW if old is None else Outcome.CHANGED
    report = Report(article.url, outcome, 200, None, verdict.relevant)
    if was_gone:
        report.outcome = Outcome.RESTORED
    kind = alert_kind(
        is_new=old is None,
        was_relevant=was_relevant,
        relevant=verdict.relevant,
        diff=diff,
        restored=was_gone,
    )
    if kind is not None:
        _alert(ctx, db, report, kind, article, change_id, page, old, verdict, diff, now)
    return report


def alert_kind(
    *, is_new: bool, was_relevant: bool, relevant: bool, diff: Diff, restored: bool = False
) -> str | None:
    """Which alert, if any, a new version earns (pure: the routing of attention)."""
    if is_new:
        return "new" if relevant else None
    if not (was_relevant or relevant):
        return None  # never about migration, before or after
    if restored:
        return "restored"
    if relevant and not was_relevant:
        return "relevance_gained"
    if ChangeKind.PAYWALL in diff.kinds:
        return "paywall"
    if diff.significance >= Significance.SUBSTANTIVE:
        return "changed"
    return None  # cosmetic and minor edits are stored, not alerted


def _add_change(
    db: Session,
    article: Article,
    from_id: int | None,
    to_id: int | None,
    diff: Diff,
    now: datetime,
    *,
    held: bool = False,
) -> int | None:
    """Record a change; returns its id."""
    kinds = [str(k) for k in diff.kinds] or ["unchanged"]
    return _insert(
        db,
        _CHANGE,
        article_id=article.id or 0,
        from_version_id=from_id,
        to_version_id=to_id,
        kind="reversion" if held else kinds[0],
        kinds=kinds,
        significance=int(diff.significance),
        diff=diff.to_dict(),
        held=held,
        created_at=now,
    )


def _alert(
    ctx: Context,
    db: Session,
    report: Report,
    kind: str,
    article: Article,
    change_id: int | None,
    page: Page,
    old: Page | None,
    verdict: Classification | None,
    diff: Diff,
    now: datetime,
) -> None:
    if not ctx.alerts_enabled:
        return
    topics = list(verdict.topics) if verdict is not None else list(article.topics)
    payload = build_payload(
        kind=kind,
        url=article.url,
        title=page.title,
        section=article.section,
        published=page.published.isoformat() if page.published else None,
        topics=topics,
        evidence=verdict.summary() if verdict is not None else "",
        changes=changed_sentences(old, page) if old is not None else [],
        diff_html=diff_html(old, page) if old is not None else None,
        change_kinds=[str(k) for k in diff.kinds],
        detail="; ".join(c.detail for c in diff.changes if c.detail)[:500],
        why=verdict.evidence if verdict is not None else (),
    )
    key = f"new:{article.id}" if kind == "new" else f"change:{change_id}"
    alert = enqueue(
        db,
        (),  # targets are resolved at delivery (monitor.alerts.outbox.fan_out)
        kind=kind,
        dedupe_key=key,
        payload=payload,
        topics=topics,
        article_id=article.id,
        change_id=change_id,
        now=now,
        ops_tag=ctx.settings.ops_tag,
    )
    if alert is not None:
        report.alerts.append(kind)
