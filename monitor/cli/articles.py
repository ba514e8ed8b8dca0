"""``check``, ``history`` and ``diff``: one article, looked at by hand."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.table import Table

from monitor.cli.common import UserError, console, open_store, settings
from monitor.diff import Significance, render_page, render_unified
from monitor.manual import NotAnArticle, Tracked, check_by_hand, tracked
from monitor.models import Change, Version
from monitor.settings import Settings
from monitor.store import Held
from scrapers.article import Article as Page

UrlArg = Annotated[str, typer.Argument(help="Article URL (canonical, shortlink or old-site URL).")]


def check_command(url: UrlArg) -> None:
    """Fetch an article once, store a version if it changed, and print what changed."""
    s = settings()
    engine = open_store(s)
    try:
        done = asyncio.run(check_by_hand(s, engine, url))
    except NotAnArticle as exc:
        raise UserError(str(exc)) from None
    if isinstance(done, Held):
        raise UserError(
            f"{done.owner} is checking this article right now (lease until {done.until}); "
            "try again then"
        )
    report = done.report
    console.print(f"{report.url}: [bold]{report.outcome}[/]", highlight=False)
    if report.error:
        console.print(f"  {report.error}", highlight=False)
    if report.alerts:
        console.print(f"  alert queued: {', '.join(report.alerts)}")
    if done.change is not None:
        _print_change(done.change)
    if report.failed:
        raise typer.Exit(1)


def _print_change(change: Change) -> None:
    label = Significance(change.significance).label
    console.print(f"  {', '.join(change.kinds)} ({label})", highlight=False)
    for item in change.diff.get("changes", [])[:10]:
        console.print(f"   - {item.get('kind')}: {item.get('detail')}", highlight=False)


def _tracked(s: Settings, url: str, *, changes: bool = False) -> Tracked:
    found = tracked(open_store(s), s, url, changes=changes)
    if found is None:
        raise UserError(f"{url} is not tracked (run `cphpost-monitor check {url}`)")
    return found


def history_command(url: UrlArg) -> None:
    """List an article's versions and changes: time, kind and significance."""
    found = _tracked(settings(), url, changes=True)
    article, changes = found.article, found.changes
    versions = {v.id: v for v in found.versions}
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
    found = _tracked(settings(), url)
    article, versions = found.article, list(found.versions)
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
