"""Interrupted backfills continue where they stopped; a daemon alongside duplicates nothing."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import col, select

from monitor.backfill import BackfillCounts, backfill
from monitor.db import session
from monitor.models import Article, Change, Version
from monitor.settings import Settings
from tests.backfill.conftest import article_urls, run, stored
from tests.support.replay import ReplaySite

ROOT = Path(__file__).resolve().parents[2]

BACKFILL_SCRIPT = """
import asyncio
from monitor.backfill import backfill
from monitor.db import get_engine
from monitor.settings import load_settings

s = load_settings()
asyncio.run(backfill(s, get_engine(s), since=None, until=None, source="sitemap", limit=None,
                     alert=False, dry_run=False))
"""

CLI_SCRIPT = """
import typer
import monitor.cli
from monitor.cli.backfill import backfill_command

app = typer.Typer()
app.callback()(lambda: None)
app.command("backfill")(backfill_command)
monitor.cli.app = app
monitor.cli.main()
"""


def service_env(settings: Settings, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "CPHMON_SITE_URL": settings.site_url,
        "CPHMON_DATABASE_URL": settings.effective_database_url,
        "CPHMON_DATA_DIR": str(settings.data_dir),
        "CPHMON_RATE_LIMIT": "0",
        **extra,
    }


OLDER = "/201[2-5]-*"  # the articles of 2012-2015: the end of the older sitemap, read last


def hold_older_articles(site: ReplaySite) -> None:
    """The site answers the older articles only when the test ends (or its faults are
    cleared): a backfill is surely mid-run, holding their leases, once one was asked for."""
    site.fault(OLDER, "delay", seconds=600)


def assert_all_stored_once(site: ReplaySite, engine: Engine) -> None:
    assert stored(engine) == {url: 1 for url in article_urls(site)}
    with session(engine) as db:
        assert db.exec(select(Article).where(col(Article.lease_owner).is_not(None))).all() == []
        changes = db.exec(select(Change)).all()
    assert len(changes) == 33  # one "new" per article: nothing was recorded twice


def test_a_cancelled_backfill_continues_where_it_stopped(
    replay_site: ReplaySite, settings: Settings, engine: Engine
) -> None:
    snapshots: list[BackfillCounts] = []

    async def interrupted() -> None:
        task = asyncio.current_task()
        assert task is not None

        def progress(counts: BackfillCounts) -> None:
            snapshots.append(counts)
            if counts.fetched >= 10 and not counts.interrupted:
                task.cancel()

        await backfill(
            settings,
            engine,
            since=None,
            until=None,
            source="sitemap",
            limit=None,
            alert=False,
            dry_run=False,
            progress=progress,
        )

    try:
        asyncio.run(interrupted())
    except asyncio.CancelledError:
        pass
    else:
        raise AssertionError("the backfill was not interrupted")
    assert snapshots[-1].interrupted
    before = len([n for n in stored(engine).values() if n])
    assert 10 <= before < 33
    counts = run(settings, engine)
    assert counts.fetched == 33 - before
    assert_all_stored_once(replay_site, engine)


def test_a_backfill_killed_with_sigkill_continues_on_the_next_run(
    replay_site: ReplaySite, settings: Settings, engine: Engine
) -> None:
    hold_older_articles(replay_site)  # the kill lands mid-run, with article leases held
    proc = subprocess.Popen(
        [sys.executable, "-c", BACKFILL_SCRIPT], cwd=ROOT, env=service_env(settings)
    )
    try:
        replay_site.wait_for(OLDER, 1, timeout=60)
    finally:
        proc.kill()
        proc.wait(timeout=10)
    replay_site.clear_faults()
    with session(engine) as db:
        leased = db.exec(select(Article).where(col(Article.lease_owner).is_not(None))).all()
        before = len(db.exec(select(Version)).all())
    assert leased and before < 33
    counts = run(settings, engine)
    assert counts.fetched == 33 - before
    assert_all_stored_once(replay_site, engine)


def test_ctrl_c_checkpoints_exits_130_and_the_same_command_continues(
    replay_site: ReplaySite, settings: Settings, engine: Engine
) -> None:
    hold_older_articles(replay_site)  # Ctrl-C lands mid-run
    command = [sys.executable, "-c", CLI_SCRIPT, "backfill"]
    proc = subprocess.Popen(
        command, cwd=ROOT, env=service_env(settings), stderr=subprocess.PIPE, text=True
    )
    try:
        replay_site.wait_for(OLDER, 1, timeout=60)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    replay_site.clear_faults()
    done = len([n for n in stored(engine).values() if n])
    assert proc.returncode == 130
    assert err.splitlines()[-1] == (
        f"interrupted: {done} done; run the same command again to continue"
    )
    rerun = subprocess.run(
        [*command, "--json"], cwd=ROOT, env=service_env(settings), capture_output=True, text=True
    )
    assert rerun.returncode == 0, rerun.stderr
    assert_all_stored_once(replay_site, engine)


def test_a_backfill_next_to_a_running_daemon_stores_each_article_once(
    replay_site: ReplaySite, settings: Settings, engine: Engine
) -> None:
    """The daemon's discovery (feeds, newest sitemap) and checks race the backfill's."""
    daemon = subprocess.Popen(
        [sys.executable, "-m", "monitor", "run", "--once"],
        cwd=ROOT,
        env=service_env(settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        replay_site.wait_for("/feed/", 1, timeout=60)
        counts = run(settings, engine)
        _, err = daemon.communicate(timeout=120)
    finally:
        daemon.kill()
    assert daemon.returncode == 0, err
    assert counts.failed == 0
    assert_all_stored_once(replay_site, engine)
