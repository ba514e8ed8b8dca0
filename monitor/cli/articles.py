"""``check``, ``history`` and ``diff``: one article, looked at by hand."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import Engine
from sqlmodel import col, select

from monitor.check import Outcome, Report, check_holding
from monitor.cli.common import UserError, console, open_store, settings
from monitor.db import session
from monitor.diff import Significance, render_page, render_unified
from monitor.fetch import Fetcher
from monitor.models import Change, Version
from monitor.runtime import make_context
from monitor.settings import Settings
from monitor.store import Held, add_candidates, claim_article, find_article, utcnow, worker_name
from monitor.store import versions_of as _versions
from scrapers.article import Article as Page
from scrapers.article import Candidate

CHECK_LEASE = 30.0  # seconds; renewed while the check runs, so a killed check frees it soon
UrlArg = Annotated[str, typer.Argument(help="Article URL (canonical, shortlink or old-site URL).")]


def check_command(url: UrlArg) -> None:
    """Fetch an article once, store a version if it changed, and print what changed."""
    s = settings()
    engine = open_store(s)
    canonical = asyncio.run(_resolve(s, url))
    ctx = make_context(s, engine, worker_name())
    with session(engine) as db:
        add_candidates(db, [Candidate(canonical, "cli")], utcnow())
        article = find_article(db, canonical)
        assert article is not None and article.id is not None
        article_id = article.id
    claim = claim_article(engine, article_id, ctx.owner, CHECK_LEASE)
    if isinstance(claim, Held):
        raise UserError(
            f"{claim.owner} is checking this article right now (lease until {claim.until}); "
            "try again then"
        )
    assert claim is not None

    async def go() -> Report:
        try:
            return await check_holding(ctx, claim, CHECK_LEASE)
        finally:
            await ctx.fetcher.aclose()

    report = asyncio.run(go())
    console.print(f"{report.url}: [bold]{report.outcome}[/]", highlight=False)
    if report.error:
        console.print(f"  {report.error}", highlight=False)
    if report.alerts:
        console.print(f"  alert queued: {', '.join(report.alerts)}")
    if report.outcome in (Outcome.CHANGED, Outcome.NEW, Outcome.RESTORED):
        _print_latest_change(engine, article_id)
    if report.failed:
        raise typer.Exit(1)


async def _resolve(s: Settings, url: str) -> str:
    """The canonical URL: directly, or by following the site's redirect for a shortlink."""
    canonical = s.scraper.canonicalize(url, s.site_url)
    if canonical:
        return canonical
    if not s.scraper.same_site(url, s.site_url):
        raise UserError(f"{url} is not on the configured site {s.site_url}")
    async with Fetcher(s) as fetcher:
        result = await fetcher.get(url)
    canonical = s.scraper.canonicalize(result.final_url, s.site_url)
    if not canonical:
        raise UserError(f"{url} does not lead to an article ({result.error or result.status})")
    return canonical


def _print_latest_change(engine: Engine, article_id: int) -> None:
    with session(engine) as db:
        change = db.exec(
            select(Change)
            .where(Change.article_id == article_id)
            .order_by(col(Change.id).desc())
            .limit(1)
        ).first()
    if change is None:
        return
    label = Significance(change.significance).label
    console.print(f"  {', '.join(change.kinds)} ({label})", highlight=False)
    for item in change.diff.get("changes", [])[:10]:
        console.print(f"   - {item.get('kind')}: {item.get('detail')}", highlight=False)


def history_command(url: UrlArg) -> None:
    """List an article's versions and changes: time, kind and significance."""
    s = settings()
    engine = open_store(s)
    with session(engine) as db:
        article = find_article(db, s.scraper.canonicalize(url, s.site_url) or url)
        if article is None:
            raise UserError(f"{url} is not tracked (run `cphpost-monitor check {url}`)")
        versions = {v.id: v for v in _versions(db, article.id or 0)}
        changes = db.exec(
            select(Change).where(Change.article_id == article.id).order_by(col(Change.id))
        ).all()
    console.print(
        f"[bold]{article.url}[/] — {article.status}, {article.version_count} version(s), "
        f"{'relevant: ' + ', '.join(article.topics) if article.relevant else 'not relevant'}",
        highlight=False,
    )
    table = Table("when", "version", "change", "significance", "title")
    for change in changes:
        to = versions.get(change.to_version_id)
        frm = versions.get(change.from_version_id)
        span = f"{frm.seq if frm else '—'} → {to.seq if to else '—'}"
        label = Significance(change.significance).label
        kind = ", ".join(change.kinds) + (" (held: reversion)" if change.held else "")
        table.add_row(
            change.created_at.isoformat(timespec="seconds"),
            span,
            kind,
            label,
            to.title if to else "",
        )
    console.print(table)


def diff_command(
    url: UrlArg,
    from_seq: Annotated[
        int | None, typer.Option("--from", help="Older version number (default: previous).")
    ] = None,
    to_seq: Annotated[
        int | None, typer.Option("--to", help="Newer version number (default: latest).")
    ] = None,
    html: Annotated[bool, typer.Option("--html", help="A full HTML page, <ins>/<del>.")] = False,
) -> None:
    """Show what changed between two stored versions of an article."""
    s = settings()
    engine = open_store(s)
    with session(engine) as db:
        article = find_article(db, s.scraper.canonicalize(url, s.site_url) or url)
        if article is None:
            raise UserError(f"{url} is not tracked (run `cphpost-monitor check {url}`)")
        versions = list(_versions(db, article.id or 0))
    if len(versions) < 2 and (from_seq is None or to_seq is None):
        raise UserError(f"{article.url} has {len(versions)} version(s): nothing to compare")
    by_seq = {v.seq: v for v in versions}
    new = _pick(by_seq, to_seq if to_seq is not None else versions[-1].seq, article.url)
    old = _pick(by_seq, from_seq if from_seq is not None else new.seq - 1, article.url)
    a, b = Page.from_dict(old.data), Page.from_dict(new.data)
    if html:
        page = render_page(
            a, b, url=article.url, old_version=(old.seq, old.fetched_at),
            new_version=(new.seq, new.fetched_at),
        )  # fmt: skip
        typer.echo(page, nl=False)
    else:
        typer.echo(render_unified(a, b))


def _pick(by_seq: dict[int, Version], seq: int, url: str) -> Version:
    if seq not in by_seq:
        known = ", ".join(str(n) for n in sorted(by_seq)) or "none"
        raise UserError(f"{url} has no version {seq} (versions: {known})")
    return by_seq[seq]
