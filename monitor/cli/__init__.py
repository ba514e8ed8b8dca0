"""The ``cphpost-monitor`` command line.

Each command group lives in its own module and registers itself on :data:`app`; this module
only holds the global options and turns user mistakes into one clear line and exit code 2.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from monitor import __version__
from monitor.cli.common import UserError, console_err
from monitor.settings import ENV_PREFIX, SettingsError

app = typer.Typer(
    name="cphpost-monitor",
    help=(
        "Watch The Copenhagen Post for migration articles: store every version, "
        "notice edits, alert through email, Slack and every channel apprise speaks."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"cphpost-monitor {__version__}")
        raise typer.Exit()


@app.callback()
def _global(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help=f"TOML settings file (also {ENV_PREFIX}CONFIG). Environment variables win.",
            show_default=False,
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    if config is not None:
        os.environ[f"{ENV_PREFIX}CONFIG"] = str(config)


def _register() -> None:
    """Each command lives in its own module; the order here is the order in ``--help``."""
    from monitor.cli import alerts, articles, backfill, classify, db, extract, run, web

    app.command("run")(run.run_command)
    app.command("status")(run.status_command)
    app.command("check")(articles.check_command)
    app.command("history")(articles.history_command)
    app.command("diff")(articles.diff_command)
    app.command("backfill")(backfill.backfill_command)
    app.command("extract")(extract.extract_command)
    app.command("classify")(classify.classify_command)
    app.add_typer(alerts.alerts_app, name="alerts")
    app.add_typer(db.db_app, name="db")
    app.command("web")(web.web_command)


_register()


def main() -> None:
    """Console-script entry point: user mistakes exit 2 with one line, never a traceback."""
    try:
        code = app(standalone_mode=False)  # non-standalone click returns Exit's code
    except (SettingsError, UserError) as exc:
        console_err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except typer.Abort:
        console_err.print("aborted")
        sys.exit(130)
    except KeyboardInterrupt:
        console_err.print("interrupted")
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:  # click's usage errors arrive here in non-standalone mode
        # typer vendors its own click (typer._click): recognise its ClickException by shape
        show, exit_code = getattr(exc, "show", None), getattr(exc, "exit_code", None)
        if callable(show) and isinstance(exit_code, int):
            show()
            sys.exit(exit_code)
        raise
    sys.exit(code if isinstance(code, int) else 0)
