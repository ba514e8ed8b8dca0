"""``cphpost-monitor alerts``: try the notification targets, read the outbox.

Targets are only ever shown masked (``slack://***``, ``json://***@host/***``) with their key,
the hash the outbox stores; the secret URL is never printed.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from monitor.alerts.outbox import idempotency_key, list_alerts
from monitor.alerts.render import one_line
from monitor.alerts.targets import LOG_TARGET, TargetError, load_targets, redact
from monitor.cli.common import UserError, console, console_err, open_store, settings
from monitor.models import DeliveryStatus
from monitor.settings import Settings

alerts_app = typer.Typer(
    help="Notification targets and the alert outbox: send a test, list alerts and deliveries.",
    no_args_is_help=True,
)


@alerts_app.command("test")
def test_command(
    tag: Annotated[
        str | None,
        typer.Option("--tag", "-t", help="Only the targets carrying this apprise tag."),
    ] = None,
) -> None:
    """Send a test notification to every target and show each result (exit 1 if any failed)."""
    # Imported here: sending pulls in apprise's plugins and requests (~0.3 s), which every
    # other command would otherwise pay at start-up.
    from monitor.alerts.deliver import send_test

    s = settings()
    try:
        results = send_test(s, tag)
    except TargetError as exc:
        raise UserError(str(exc)) from None
    if not results:
        if tag:
            console_err.print(Text(f"no notification target carries the tag {tag!r}"))
        else:
            console_err.print(
                "no notification target is configured: set CPHMON_NOTIFY_URLS or "
                "CPHMON_APPRISE_CONFIG (until then alerts go to the log and "
                f"{s.data_dir / 'alerts.jsonl'})",
                highlight=False,
                markup=False,
            )
        raise typer.Exit(1)
    table = Table("target", "result", "detail", title="test notification")
    for masked, ok, detail in results:
        result = Text("ok", style="green") if ok else Text("FAILED", style="bold red")
        table.add_row(Text(masked), result, Text(redact(detail)))
    console.print(table)
    failed = sum(not ok for _, ok, _ in results)
    if failed:
        console_err.print(f"{failed} of {len(results)} targets failed", highlight=False)
        raise typer.Exit(1)


@alerts_app.command("list")
def list_command(
    pending: Annotated[
        bool, typer.Option("--pending", help="Only alerts with a delivery still to send.")
    ] = False,
    failed: Annotated[
        bool, typer.Option("--failed", help="Only alerts with a delivery that gave up.")
    ] = False,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Newest N alerts.")] = 20,
    json_output: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """The outbox, newest first: each alert and its delivery per target (URLs masked)."""
    if pending and failed:
        raise UserError("give --pending or --failed, not both")
    status = DeliveryStatus.PENDING if pending else DeliveryStatus.FAILED if failed else None
    s = settings()
    engine = open_store(s)
    shown = _target_names(s)
    rows = [_row(alert, deliveries, shown) for alert, deliveries in list_alerts(
        engine, status=status, limit=limit
    )]  # fmt: skip
    if json_output:
        typer.echo(json.dumps(rows, ensure_ascii=False))
        return
    if not rows:
        console.print("the outbox is empty" if status is None else f"no {status} deliveries")
        return
    table = Table("id", "created", "kind", "title", "deliveries", title="alerts")
    for row in rows:
        lines = [
            f"{d['target_url']}: {d['status']} ({_attempts(d['attempts'])})"
            + (f" — {d['last_error']}" if d["last_error"] and d["status"] != "sent" else "")
            for d in row["deliveries"]
        ]
        table.add_row(
            str(row["id"]),
            row["created_at"][:16].replace("T", " "),
            Text(row["kind"]),
            Text(row["title"][:80]),
            Text("\n".join(lines) or "(no target routed)"),
        )
    console.print(table)


def _attempts(n: int) -> str:
    return f"{n} attempt" if n == 1 else f"{n} attempts"


def _target_names(s: Settings) -> dict[str, str]:
    """Target key → masked URL; a broken configuration only costs the names (keys shown)."""
    try:
        targets = load_targets(s)
    except TargetError as exc:
        console_err.print(Text(f"warning: {exc}; targets are shown by key"))
        targets = []
    return {t.key: t.masked for t in [*targets, LOG_TARGET]}


def _row(alert: Any, deliveries: list[Any], shown: dict[str, str]) -> dict[str, Any]:
    payload = alert.payload or {}
    return {
        "id": alert.id,
        "created_at": alert.created_at.isoformat(),
        "kind": alert.kind,
        "title": one_line(str(payload.get("title") or "")),
        "url": one_line(str(payload.get("url") or "")),
        "topics": list(alert.topics),
        "dedupe_key": alert.dedupe_key,
        "deliveries": [
            {
                "target": d.target,
                "target_url": shown.get(d.target, f"(not configured) {d.target}"),
                "idempotency_key": idempotency_key(alert.id, d.target),
                "status": d.status,
                "attempts": d.attempts,
                "next_attempt_at": d.next_attempt_at.isoformat(),
                "sent_at": d.sent_at.isoformat() if d.sent_at else None,
                "last_error": redact(d.last_error) if d.last_error else None,
            }
            for d in deliveries
        ],
    }
