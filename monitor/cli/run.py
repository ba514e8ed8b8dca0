"""``cphpost-monitor run`` and ``status``: the daemon and its health."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import typer
from rich.table import Table

from monitor.alerts.targets import TargetError
from monitor.classify import RulesError
from monitor.cli.common import UserError, console, open_store, settings
from monitor.db import DatabaseError
from monitor.logs import setup_logging
from monitor.status import read_status


def run_command(
    once: Annotated[
        bool,
        typer.Option(
            "--once", help="One discovery, every due re-check, one delivery round; then exit."
        ),
    ] = False,
) -> None:
    """Run the monitor: poll feeds, re-check articles, send alerts. Stops cleanly on SIGTERM.

    Defaults: SQLite in the data directory, feeds every 10 minutes, at most 1 request per
    second to the site. Run `cphpost-monitor db upgrade` once before the first start.
    """
    # Imported here: the daemon pulls in every sender (apprise's plugins, requests: ~0.3 s)
    # that the other commands would otherwise pay at start-up.
    from monitor.daemon import AlreadyRunning, Daemon

    s = settings()
    setup_logging(s)
    open_store(s)
    try:
        daemon = Daemon(s)
        code = asyncio.run(daemon.run(once=once))
    except (AlreadyRunning, DatabaseError, TargetError, RulesError) as exc:
        raise UserError(str(exc)) from None
    raise typer.Exit(code)


def status_command(
    json_output: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No output; exit 0 if healthy, 1 if not.")
    ] = False,
) -> None:
    """Health at a glance: last discovery, due queue, outbox backlog, recent errors.

    Exit code 0 when healthy, 1 when not (container health checks use `status --quiet`).
    """
    s = settings()
    status = read_status(open_store(s), s)
    if quiet:
        raise typer.Exit(0 if status.healthy else 1)
    if json_output:
        typer.echo(json.dumps(status.to_dict()))
        raise typer.Exit(0 if status.healthy else 1)
    verdict = "[green]healthy[/]" if status.healthy else "[red]unhealthy[/]"
    console.print(f"cphpost-monitor is {verdict}")
    for problem in status.problems:
        console.print(f"  • {problem}", highlight=False)
    for note in status.notes:
        console.print(f"  • {note}", highlight=False)
    table = Table(show_header=False, box=None)
    table.add_row("last discovery", status.last_discovery or "never")
    table.add_row("articles tracked", f"{status.articles:,} ({status.relevant:,} relevant)")
    table.add_row("re-checks due now", f"{status.due:,}")
    table.add_row("outbox", f"{status.outbox_pending} pending, {status.outbox_failed} failed")
    table.add_row("page template", status.template)
    console.print(table)
    if status.recent_errors:
        errors = Table("when", "url", "error", title="recent fetch errors")
        for e in status.recent_errors:
            errors.add_row(e["at"], e["url"], e["error"])
        console.print(errors)
    raise typer.Exit(0 if status.healthy else 1)
