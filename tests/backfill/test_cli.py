"""``cphpost-monitor backfill``: input errors, the JSON summary, the table, the exit codes."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable

import pytest
import typer
from sqlalchemy import Engine
from sqlmodel import select

import monitor.cli
from monitor.cli.backfill import backfill_command
from monitor.db import session
from monitor.models import Checkpoint
from monitor.settings import Settings
from tests.backfill.conftest import stored
from tests.support.replay import ReplaySite

EDITED = (
    "/2023-05-22/news/"
    "number-of-rejected-asylum-seekers-earmarked-for-deportation-halved-in-two-years/"
)

Cli = Callable[..., tuple[int, str, str]]


@pytest.fixture
def cli(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    settings: Settings,
    engine: Engine,
) -> Cli:
    """``cphpost-monitor backfill ARGS`` through the real entry point: (exit code, out, err)."""
    app = typer.Typer()
    app.callback()(lambda: None)
    app.command("backfill")(backfill_command)
    monkeypatch.setattr(monitor.cli, "app", app)
    monkeypatch.delenv("CPHMON_CONFIG", raising=False)
    for name, value in {
        "CPHMON_SITE_URL": settings.site_url,
        "CPHMON_DATABASE_URL": settings.effective_database_url,
        "CPHMON_DATA_DIR": str(settings.data_dir),
        "CPHMON_RATE_LIMIT": "0",
        "CPHMON_MAX_RETRIES": "0",
    }.items():
        monkeypatch.setenv(name, value)

    def invoke(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        monkeypatch.setattr(sys, "argv", ["cphpost-monitor", "backfill", *args])
        with pytest.raises(SystemExit) as exit_info:
            monitor.cli.main()
        out, err = capsys.readouterr()
        return int(exit_info.value.code or 0), out, err

    return invoke


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "2024-13-01"], "--since: '2024-13-01' is not a date (YYYY-MM-DD)"),
        (["--until", "last week"], "--until: 'last week' is not a date (YYYY-MM-DD)"),
        (
            ["--since", "2024-05-01", "--until", "2024-01-01"],
            "--since 2024-05-01 is after --until 2024-01-01",
        ),
        (["--limit", "0"], "--limit must be at least 1, not 0"),
    ],
)
def test_bad_input_exits_2_with_one_line(cli: Cli, args: list[str], message: str) -> None:
    code, out, err = cli(*args)
    assert (code, out, err) == (2, "", f"error: {message}\n")


def test_an_unknown_source_is_a_usage_error(cli: Cli) -> None:
    code, _out, err = cli("--source", "rss")
    assert code == 2
    assert "'rss' is not one of 'sitemap', 'listing', 'feed'" in err


def test_json_prints_one_summary_object_on_stdout(cli: Cli, engine: Engine) -> None:
    code, out, _err = cli("--json")
    summary = json.loads(out)
    assert code == 0 and out.count("\n") == 1
    keys = ("found", "fetched", "skipped", "relevant", "failed", "new_versions", "alerts")
    assert {k: summary[k] for k in keys} == {
        "found": 33,
        "fetched": 33,
        "skipped": 0,
        "relevant": 17,
        "failed": 0,
        "new_versions": 33,
        "alerts": 0,
    }
    assert len(stored(engine)) == 33


def test_the_summary_table_names_every_count(cli: Cli) -> None:
    code, out, _err = cli("--since", "2023-01-01")
    rows = {
        cells[0]: cells[1]
        for line in out.splitlines()
        if len(cells := [c.strip() for c in line.strip("│ ").split("│")]) == 2
    }
    assert code == 0
    assert {k: rows[k] for k in ("articles found", "fetched", "relevant", "failed")} == {
        "articles found": "4",
        "fetched": "4",
        "relevant": "1",
        "failed": "0",
    }


def test_a_dry_run_reports_what_would_be_fetched(cli: Cli, engine: Engine) -> None:
    code, out, _err = cli("--dry-run", "--json")
    summary = json.loads(out)
    assert code == 0
    assert (summary["dry_run"], summary["planned"], summary["fetched"]) == (True, 33, 0)
    assert stored(engine) == {}


def test_a_failed_article_exits_1_and_the_rerun_fetches_only_it(
    cli: Cli, replay_site: ReplaySite, engine: Engine
) -> None:
    replay_site.fault(EDITED, "status", times=1, status=503)
    code, out, _err = cli()
    assert code == 1
    assert "run the same command again to retry the failed articles" in out
    with session(engine) as db:  # the sitemap holding it is not marked done
        assert [c.key.rsplit("/", 1)[1] for c in db.exec(select(Checkpoint))] == [
            "post-sitemap.xml"
        ]
    replay_site.reset_log()
    code, out, _err = cli("--json")
    assert (code, json.loads(out)["fetched"]) == (0, 1)
    assert [r.path for r in replay_site.requests if r.path.startswith("/20")] == [EDITED]
