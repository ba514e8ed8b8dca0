"""docs/operations.md: what it tells operators to type works with this code.

Every setting it names exists, every file in deploy/ it names exists, every command it shows
parses with the real command line, every notification target it shows is accepted and routed
as the text says, and the SQLite backup commands it gives copy a live WAL database.
"""

from __future__ import annotations

import re
import shlex
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer

from monitor.alerts.targets import Target, load_targets, route
from monitor.settings import Settings
from tests.deploy.deployfiles import DEPLOY, OPERATIONS, REPO

DOC = OPERATIONS.read_text(encoding="utf-8")


def code_blocks(language: str | None = None) -> list[tuple[str, str]]:
    """(info string, body) of every fenced block, optionally of one language."""
    blocks = re.findall(r"^```([a-z]*)\n(.*?)^```$", DOC, flags=re.MULTILINE | re.DOTALL)
    return [(info, body) for info, body in blocks if language is None or info == language]


def shell_lines() -> list[str]:
    lines: list[str] = []
    for _info, body in code_blocks("sh"):
        joined = re.sub(r"\\\n\s*", " ", body)
        lines.extend(line.strip() for line in joined.splitlines() if line.strip())
    return lines


def test_the_guide_has_every_section_the_issue_asks_for() -> None:
    headings = re.findall(r"^## (.+)$", DOC, flags=re.MULTILINE)
    for wanted in (
        "Running under systemd",
        "Running with Docker Compose",
        "Alerts: email, Slack, webhooks, routing, digests",
        "Backfilling",
        "Inspecting history and diffs",
        "Upgrading",
        "Backing up",
        "Moving to PostgreSQL",
    ):
        assert wanted in headings
    for anchor in re.findall(r"\]\(#([a-z0-9-]+)\)", DOC):
        titles = [re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-") for h in headings]
        assert anchor in titles, anchor


def test_every_setting_the_guide_names_exists() -> None:
    names = set(re.findall(r"\bCPHMON_([A-Z][A-Z0-9_]*)", DOC)) - {"CONFIG"}
    assert names
    assert {n.lower() for n in names} <= set(Settings.model_fields)


def test_every_deploy_file_the_guide_names_exists() -> None:
    named = set(re.findall(r"\bdeploy/([\w.-]*\w)", DOC)) - {".env"}  # .env: the user's copy
    assert {"Dockerfile", "compose.yaml", "cphpost-monitor.service", ".env.example"} <= named
    for name in named:
        assert (DEPLOY / name).is_file(), name


# Commands ---------------------------------------------------------------------------------------

_CALL = re.compile(
    r"(?:^cphpost-monitor |^cphmon |exec (?:-T )?worker cphpost-monitor |"
    r"docker exec cphpost-monitor cphpost-monitor |run --rm --no-deps worker |"
    r"--env-file deploy/\.env cphpost-monitor |/opt/cphpost-monitor/bin/cphpost-monitor )"
    r"(?P<args>[^|>&#]*)"
)


def documented_calls() -> list[str]:
    calls = []
    for line in shell_lines():
        for match in _CALL.finditer(line):
            calls.append(match["args"].strip())
    return calls


def test_the_guide_shows_the_commands_of_the_issue() -> None:
    calls = documented_calls()
    for call in (
        "run",  # via the unit and the image
        "db upgrade",
        "status",
        "status --json",
        "status --quiet",
        "backfill --since 2024-01-01",
        "history https://cphpost.dk/2025-01-31/news/example/",
        "diff https://cphpost.dk/2025-01-31/news/example/ --from 1 --to 3 --html",
        "alerts test",
        "db stats",
    ):
        if call == "run":
            assert (
                "/opt/cphpost-monitor/bin/cphpost-monitor run"
                in (DEPLOY / "cphpost-monitor.service").read_text()
            )
            continue
        assert call in calls, call


@pytest.mark.parametrize("call", sorted(set(documented_calls()) - {'"$@"'}))
def test_documented_command_parses(call: str) -> None:
    from monitor.cli import app

    command = typer.main.get_command(app)
    words = shlex.split(call)
    if words == ["--version"]:
        assert any("--version" in p.opts for p in command.params)
        return
    path = ["cphpost-monitor"]
    while getattr(command, "commands", None) and words and not words[0].startswith("-"):
        name = words.pop(0)
        found = getattr(command, "commands", {}).get(name)
        if found is None:
            pytest.fail(f"`{' '.join([*path, name])}` is not a command")
        command, path = found, [*path, name]
    assert not hasattr(command, "commands"), f"`{' '.join(path)}` needs a subcommand"
    command.make_context(" ".join(path), words)  # raises on an unknown option or argument


def test_command_check_catches_typos() -> None:
    from monitor.cli import app

    commands = getattr(typer.main.get_command(app), "commands", {})
    assert "status" in commands and "statsu" not in commands
    with pytest.raises(Exception, match="--quiett"):
        commands["status"].make_context("cphpost-monitor status", ["--quiett"])


# Notification targets ----------------------------------------------------------------------------

_TARGET_LINE = re.compile(r"^(?:[a-z0-9_,-]+=)?[a-z]+://\S+$")


def documented_targets() -> list[str]:
    """Every line of a plain block that is a target, or a CPHMON_NOTIFY_URLS value."""
    found = []
    for _info, body in code_blocks(""):
        if body.startswith("# /etc/"):  # an apprise config file: see the test below
            continue
        for line in body.splitlines():
            if line.startswith("CPHMON_NOTIFY_URLS="):
                found.append(line.removeprefix("CPHMON_NOTIFY_URLS="))
            elif _TARGET_LINE.match(line):
                found.append(line)
    return found


def test_the_guide_gives_the_apprise_urls_of_the_issue() -> None:
    targets = " ".join(documented_targets())
    for url in (
        "mailtos://user:app-password@smtp.example.org?to=alerts@example.org",
        "mailto://user:app-password@gmail.com?to=alerts@example.org",
        "slack://TokenA/TokenB/TokenC/#channel",
        "json://host/path",
        "asylum,deportation=mailtos://",
        "all=slack://",
        "ops=mailtos://",
        "?digest=1h",
    ):
        assert url in targets, url


@pytest.mark.parametrize("value", documented_targets())
def test_documented_target_is_accepted(value: str) -> None:
    assert load_targets(Settings(notify_urls=value))


def by_scheme(targets: list[Target]) -> dict[str, Target]:
    return {t.masked.split("://")[0] + ":" + ",".join(sorted(t.routing_tags)): t for t in targets}


def test_topic_routing_example_routes_as_the_guide_says() -> None:
    (line,) = [v for v in documented_targets() if v.startswith("asylum,deportation=")]
    targets = load_targets(Settings(notify_urls=line))
    desk, slack, ops = targets
    assert desk.routing_tags == {"asylum", "deportation"}
    assert slack.routing_tags == {"all"}
    assert ops.routing_tags == {"ops"}
    assert route(targets, "new", ["asylum"], "ops") == [desk, slack]
    assert route(targets, "changed", ["citizenship"], "ops") == [slack]
    assert route(targets, "ops_failure", [], "ops") == [ops]
    # without an ops target, operator alerts go to the catch-all targets
    assert route([desk, slack], "ops_failure", [], "ops") == [slack]


def test_digest_example_batches_as_the_guide_says() -> None:
    (line,) = [v for v in documented_targets() if "digest=" in v]
    mail, slack = load_targets(Settings(notify_urls=line))
    assert (mail.digest, slack.digest) == (86400.0, 3600.0)
    assert "digest" not in mail.url and "digest" not in slack.url
    assert load_targets(Settings(notify_urls="json://host/path", digest="1h"))[0].digest == 3600


@pytest.mark.parametrize("suffix", ["yml", "txt"])
def test_apprise_config_file_examples_load_with_their_tags(tmp_path: Path, suffix: str) -> None:
    marker = f"# /etc/cphpost-monitor/apprise.{suffix}\n"
    (body,) = [body for _info, body in code_blocks() if body.startswith(marker)]
    path = tmp_path / f"apprise.{suffix}"
    path.write_text(body, encoding="utf-8")
    targets = load_targets(Settings(apprise_config=path))
    assert [t.routing_tags for t in targets] == [{"asylum", "deportation"}, {"all"}, {"ops"}]
    assert [t.digest for t in targets] == [0.0, 3600.0, 0.0]


# SQLite backups -----------------------------------------------------------------------------------

LIVE = "/var/lib/cphpost-monitor/cphpost-monitor.sqlite3"
BACKUP = "/var/backups/cphpost-monitor/cphpost-monitor-$(date +%F).sqlite3"


@pytest.fixture
def live_wal_database(tmp_path: Path) -> Iterator[Path]:
    """A WAL database with committed rows in the -wal file and a writer mid-transaction."""
    path = tmp_path / "live.sqlite3"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA wal_autocheckpoint=0")
    db.execute("CREATE TABLE version (id INTEGER PRIMARY KEY, body TEXT)")
    db.executemany("INSERT INTO version (body) VALUES (?)", [(f"v{i}",) for i in range(100)])
    db.execute("BEGIN IMMEDIATE")
    db.execute("INSERT INTO version (body) VALUES ('uncommitted')")
    assert Path(f"{path}-wal").stat().st_size > 0
    yield path
    db.execute("ROLLBACK")
    db.close()


def assert_is_a_good_copy(path: Path) -> None:
    with sqlite3.connect(path) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert copy.execute("SELECT count(*) FROM version").fetchone() == (100,)


@pytest.mark.skipif(shutil.which("sqlite3") is None, reason="the sqlite3 command is not installed")
@pytest.mark.parametrize("statement", [f".backup '{BACKUP}'", f"VACUUM INTO '{BACKUP}'"])
def test_sqlite3_backup_commands_copy_a_live_database(
    live_wal_database: Path, tmp_path: Path, statement: str
) -> None:
    assert f'sqlite3 {LIVE} "{statement}"' in DOC
    target = tmp_path / "backup.sqlite3"
    result = subprocess.run(
        ["sqlite3", str(live_wal_database), statement.replace(BACKUP, str(target))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert_is_a_good_copy(target)


def test_python_backup_one_liner_copies_a_live_database(
    live_wal_database: Path, tmp_path: Path
) -> None:
    (one_liner,) = set(re.findall(r"python -c ('[^']*')", DOC))
    target = tmp_path / "backup.sqlite3"
    script = shlex.split(one_liner)[0]
    subprocess.run(
        [sys.executable, "-c", script, str(live_wal_database), str(target)], check=True, timeout=60
    )
    assert_is_a_good_copy(target)


def test_repository_root_is_where_the_guide_runs_commands_from() -> None:
    assert "docker build -f deploy/Dockerfile -t cphpost-monitor ." in DOC
    assert (REPO / "deploy" / "Dockerfile").is_file()
