"""``cphpost-monitor backfill``: years of history, fetched once, before the daemon watches."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from datetime import date
from enum import StrEnum
from typing import Annotated, Any, TextIO, cast

import typer
from rich.console import Group
from rich.live import Live
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from monitor.alerts.targets import TargetError
from monitor.backfill import (
    BackfillCounts,
    BackfillRunning,
    Source,
    backfill,
)
from monitor.classify import RulesError
from monitor.cli.common import UserError, console, console_err, open_store, settings
from monitor.db import DatabaseError
from monitor.logs import setup_logging

QUIET_LOGGERS = ("monitor.check", "monitor.backfill")  # one line per article; the bar says it


class SourceChoice(StrEnum):
    sitemap = "sitemap"
    listing = "listing"
    feed = "feed"


def backfill_command(
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            metavar="YYYY-MM-DD",
            help="Oldest publication date to fetch. Default: the start of the archive.",
            show_default=False,
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(
            "--until",
            metavar="YYYY-MM-DD",
            help="Newest publication date to fetch. Default: today.",
            show_default=False,
        ),
    ] = None,
    source: Annotated[
        SourceChoice,
        typer.Option(
            "--source",
            help="Where the URLs come from: the sitemaps (every post, with lastmod), the "
            "archive listings, or the feeds (only the newest posts).",
        ),
    ] = SourceChoice.sitemap,
    listing: Annotated[
        list[str] | None,
        typer.Option(
            "--listing",
            metavar="PATH",
            help="Archive to walk with --source listing (repeatable). Default: the site's "
            "archive listings (cphpost: /category/news/).",
            show_default=False,
        ),
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option("--limit", metavar="N", help="Fetch at most N articles.", show_default=False),
    ] = None,
    alert: Annotated[
        bool,
        typer.Option(
            "--alert",
            help="Alert the relevant articles, through the outbox like the daemon's alerts "
            "(each target's digest setting applies). Default: store them silently.",
        ),
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Read the sources and count what would be fetched; write nothing."
        ),
    ] = False,
    json_output: Annotated[
        bool,
        typer.Option("--json", help="One JSON summary on stdout instead of the bar and table."),
    ] = False,
) -> None:
    """Fetch the site's history: every article not stored yet, or changed since it was stored.

    Walks the sitemaps (or archive listings) back to --since and runs each article through the
    same fetch, extraction and classification as the daemon, at the same rate limit (shared
    with a daemon running on this database). Progress is kept in the database: after Ctrl-C,
    a kill or a network loss, run the same command again to continue; run it again later to
    fetch only what changed. Exit code 1 when some articles or sources failed (a rerun retries
    them), 130 when interrupted.
    """
    first = _day("--since", since)
    last = _day("--until", until)
    if first is not None and last is not None and first > last:
        raise UserError(f"--since {first} is after --until {last}")
    if limit is not None and limit < 1:
        raise UserError(f"--limit must be at least 1, not {limit}")
    s = settings()
    setup_logging(s)
    engine = open_store(s)
    latest = BackfillCounts(dry_run=dry_run)

    def run(progress: Callable[[BackfillCounts], None]) -> Coroutine[Any, Any, BackfillCounts]:
        def keep(counts: BackfillCounts) -> None:
            nonlocal latest
            latest = counts
            progress(counts)

        return backfill(
            s,
            engine,
            since=first,
            until=last,
            source=cast(Source, source.value),
            limit=limit,
            alert=alert,
            dry_run=dry_run,
            listings=tuple(listing or ()),
            progress=keep,
        )

    try:
        with _quiet_article_logs():
            if json_output or not console_err.is_terminal:  # no bar in a pipe or a log file
                counts = asyncio.run(run(lambda _counts: None))
            else:
                counts = _with_progress(run, dry_run)
    except KeyboardInterrupt:
        latest.interrupted = True
        if json_output:
            typer.echo(json.dumps(latest.to_dict()))
        console_err.print(
            f"interrupted: {latest.fetched} done; run the same command again to continue",
            highlight=False,
        )
        raise typer.Exit(130) from None
    except (BackfillRunning, DatabaseError, TargetError, RulesError) as exc:
        raise UserError(str(exc)) from None
    if json_output:
        typer.echo(json.dumps(counts.to_dict()))
    else:
        _print_summary(counts)
    raise typer.Exit(1 if counts.failed or counts.source_errors else 0)


def _day(option: str, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise UserError(f"{option}: {value!r} is not a date (YYYY-MM-DD)") from None


def _with_progress(
    run: Callable[[Callable[[BackfillCounts], None]], Coroutine[Any, Any, BackfillCounts]],
    dry_run: bool,
) -> BackfillCounts:
    """Run under a bar on stderr (checks done of the estimated total, ETA), counts below it."""
    progress = Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TimeRemainingColumn(),
        console=console_err,
    )
    task = progress.add_task("dry run" if dry_run else "backfill", total=None)
    line = _CountsLine(BackfillCounts(dry_run=dry_run))

    def show(counts: BackfillCounts) -> None:
        line.counts = counts
        total = counts.planned if dry_run else counts.total
        progress.update(task, completed=counts.planned if dry_run else counts.checked, total=total)

    stderr = sys.stderr
    with (
        Live(Group(progress, line), console=console_err, refresh_per_second=8),
        _logs_through(stderr, sys.stderr),
    ):
        return asyncio.run(run(show))


class _CountsLine:
    """The counts under the bar, rendered from the latest snapshot at each refresh."""

    def __init__(self, counts: BackfillCounts) -> None:
        self.counts = counts

    def __rich__(self) -> Text:
        c = self.counts
        if c.dry_run:
            parts = [("found", c.found), ("would fetch", c.planned), ("stored", c.skipped)]
        else:
            parts = [
                ("found", c.found),
                ("fetched", c.fetched),
                ("skipped", c.skipped),
                ("relevant", c.relevant),
                ("failed", c.failed),
            ]
        text = Text("  ")
        for index, (name, value) in enumerate(parts):
            if index:
                text.append(" · ", style="dim")
            style = "bold red" if name == "failed" and value else "bold"
            text.append(f"{value:,}", style=style).append(f" {name}")
        return text


def _print_summary(counts: BackfillCounts) -> None:
    table = Table(title="backfill (dry run)" if counts.dry_run else "backfill", show_header=False)
    table.add_column(justify="left")
    table.add_column(justify="right")
    table.add_row("articles found", f"{counts.found:,}")
    if counts.dry_run:
        table.add_row("would be fetched", f"{counts.planned:,}")
        table.add_row("already stored", f"{counts.skipped:,}")
    else:
        table.add_row("fetched", f"{counts.fetched:,}")
        table.add_row("skipped (stored, up to date)", f"{counts.skipped:,}")
        table.add_row("relevant", f"{counts.relevant:,}")
        table.add_row("new versions", f"{counts.new_versions:,}")
        table.add_row("alerts queued", f"{counts.alerts:,}")
        table.add_row("failed", f"{counts.failed:,}", style="red" if counts.failed else None)
    table.add_row("sources read", f"{counts.sources:,}")
    table.add_row("time", f"{counts.elapsed:.1f} s")
    if counts.checked:
        table.add_row("rate", f"{counts.rate:.1f} articles/s")
    console.print(table)
    for error in counts.source_errors:
        console.print(f"[red]source failed:[/] {error}", highlight=False)
    if counts.failed:
        console.print("run the same command again to retry the failed articles")


@contextmanager
def _quiet_article_logs() -> Iterator[None]:
    """Per-article INFO lines would scroll the bar away; warnings still show."""
    loggers = [logging.getLogger(name) for name in QUIET_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        if logger.getEffectiveLevel() == logging.INFO:
            logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


@contextmanager
def _logs_through(original: TextIO, proxy: TextIO) -> Iterator[None]:
    """Log handlers writing to ``original`` stderr write to the bar's ``proxy`` meanwhile, so
    their lines print above the bar instead of through it."""
    handlers = [
        h
        for h in logging.getLogger().handlers
        if isinstance(h, logging.StreamHandler) and h.stream is original
    ]
    for handler in handlers:
        handler.setStream(proxy)
    try:
        yield
    finally:
        for handler in handlers:
            handler.setStream(original)
