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
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, insert
from sqlmodel import Session

from monitor import schedule
from monitor.alerts.outbox import enqueue
from monitor.alerts.render import build_payload
from monitor.classify import Classification, classify
from monitor.db import session
from monitor.diff import ChangeKind, Diff, changed_sentences, diff_articles
from monitor.diff import lifecycle as lifecycle_diff
from monitor.diff import render_html as diff_html
from monitor.fetch import FetchResult
from monitor.identity import follow_move, same_story
from monitor.models import Article, ArticleStatus, Change, FetchLog, Version
from monitor.outcome import (
    FAILED,
    NEW_VERSION,
    NOT_EXTRACTED,
    Outcome,
    Prepared,
    Report,
    alert_kind,
)
from monitor.prepare import Preparer, fetch_and_prepare, prepare, refuse_garbled
from monitor.runtime import Context
from monitor.settings import Settings
from monitor.store import Claim, Slot, lock_claimed, renew_claim, utcnow, versions_of
from monitor.store.recheck import finish_not_modified
from scrapers.article import Article as Page
from scrapers.article import ExtractionFailure, fingerprint

__all__ = [  # the path of one check; its values live in monitor.outcome, its pure part in
    # monitor.prepare (importable from here, as they always were)
    "FAILED",
    "NEW_VERSION",
    "NOT_EXTRACTED",
    "Outcome",
    "Prepared",
    "Preparer",
    "Report",
    "alert_kind",
    "check",
    "check_holding",
    "fetch_and_prepare",
    "log_report",
    "prepare",
    "record",
    "record_in",
    "refuse_garbled",
]

log = logging.getLogger(__name__)


async def check(
    ctx: Context, claim: Claim, now: datetime | None = None, *, slot: Slot | None = None
) -> Report:
    """Fetch one claimed article and record what happened (``slot``: the rate-limit slot of
    its first request, when the caller reserved it)."""
    result, prepared = await fetch_and_prepare(ctx, claim, slot=slot)
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


def record(
    ctx: Context,
    claim: Claim,
    result: FetchResult,
    prepared: Prepared | None,
    now: datetime,
) -> Report:
    """Apply a fetch outcome (and the page :func:`prepare` made of it) to the store in one
    transaction (the imperative shell). A 304 is one statement (:func:`record_not_modified`)."""
    if result.not_modified:
        report = record_not_modified(ctx, claim, result, now)
        if report is not None:
            log_report(claim, report)
            return report
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
        article = same_story(db, article, page, result.final_url, ctx.settings)
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


def record_not_modified(
    ctx: Context, claim: Claim, result: FetchResult, now: datetime
) -> Report | None:
    """A 304 recorded in one statement from what the claim knows (see
    :mod:`monitor.store.recheck`): the same outcome :func:`record_in` gives it. None when this
    claim cannot take that path (it holds a reversion, or was not made by a claim that knows
    the schedule's inputs) or the article changed hands: the general path then decides."""
    if claim.pending_version_id is not None or claim.born is None:
        return None
    regular = regular_next(ctx.settings, claim.born, claim.relevant, claim.version_count, now)
    row = {
        "at": now,
        "url": claim.url,
        "status": 304,
        "outcome": Outcome.NOT_MODIFIED,
        "elapsed_ms": int(result.elapsed * 1000),
        "error": None,
        "worker": ctx.owner,
    }
    if not finish_not_modified(ctx.engine, claim, now=now, next_check_at=regular, log_row=row):
        return None
    return Report(claim.url, Outcome.NOT_MODIFIED, 304, relevant=claim.relevant)


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
    born = article.published or article.first_seen
    regular = regular_next(ctx.settings, born, article.relevant, article.version_count, now)
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
    follow_move(db, article, result, ctx.settings)
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


def regular_next(
    settings: Settings, born: datetime, relevant: bool, version_count: int, now: datetime
) -> datetime:
    """The next regular check of an article ``born`` then: by age, slower for an article
    stored and never relevant (``slow_recheck_factor``)."""
    when = schedule.next_check(now, born, settings.recheck_schedule)
    if not relevant and version_count and settings.slow_recheck_factor > 1:
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
