"""deploy/Dockerfile: built from the repository root, runtime deps only, unprivileged, /data.

Checked by reading the instructions (no Docker engine here); the commands the image runs are
checked against the real command line.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from monitor.db import engine_for, make_engine, session, upgrade
from monitor.models import Lease
from monitor.settings import Settings
from tests.deploy.deployfiles import (
    DOCKERFILE,
    DOCKERIGNORE,
    ENV_PREFIX,
    REPO,
    Instruction,
    parse_dockerfile,
    settings_with,
)

VENV = "/opt/cphpost-monitor"
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def instructions() -> list[Instruction]:
    return parse_dockerfile(DOCKERFILE)


@pytest.fixture(scope="module")
def runtime(instructions: list[Instruction]) -> list[Instruction]:
    last = max(i.stage for i in instructions)
    return [i for i in instructions if i.stage == last]


def only(instructions: list[Instruction], keyword: str) -> str:
    (match,) = [i.args for i in instructions if i.keyword == keyword]
    return match


def env_of(instructions: list[Instruction]) -> dict[str, str]:
    env: dict[str, str] = {}
    for instruction in instructions:
        if instruction.keyword == "ENV":
            for pair in shlex.split(instruction.args):
                name, _, value = pair.partition("=")
                env[name] = value
    return env


def context_sources(instructions: list[Instruction]) -> list[str]:
    """Paths COPY takes from the build context (not --from another stage)."""
    sources: list[str] = []
    for instruction in instructions:
        if instruction.keyword == "COPY" and not instruction.args.startswith("--from"):
            *copied, _destination = instruction.args.split()
            sources.extend(copied)
    return sources


def test_both_stages_use_a_slim_python_that_the_package_supports(
    instructions: list[Instruction],
) -> None:
    (arg,) = [i.args for i in instructions if i.keyword == "ARG" and i.stage == -1]
    name, _, version = arg.partition("=")
    assert name == "PYTHON_VERSION"
    minimum = PYPROJECT["project"]["requires-python"].removeprefix(">=")
    assert tuple(map(int, version.split("."))) >= tuple(map(int, minimum.split(".")))
    bases = [i.args.split()[0] for i in instructions if i.keyword == "FROM"]
    assert bases == ["python:${PYTHON_VERSION}-slim-bookworm"] * 2


def test_build_context_is_the_repository_root(instructions: list[Instruction]) -> None:
    sources = context_sources(instructions)
    assert sources == ["pyproject.toml", "README.md", "requirements.lock", "monitor", "scrapers"]
    for source in sources:
        assert (REPO / source).exists(), source
    # everything the package build needs: the readme and every package
    assert PYPROJECT["project"]["readme"] in sources
    packages = PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    assert {p.rstrip("*") for p in packages} <= set(sources)


def _glob(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern as Go's filepath.Match sees it, plus ``**``."""
    out = ""
    for token in re.findall(r"\*\*/|\*\*|\*|\?|\[[^]]*\]|[^*?[]+", pattern):
        if token == "**/":
            out += "(?:.*/)?"
        elif token == "**":
            out += ".*"
        elif token == "*":
            out += "[^/]*"
        elif token == "?":
            out += "[^/]"
        elif token.startswith("["):
            out += token
        else:
            out += re.escape(token)
    return re.compile(out)


def ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: a pattern matching a path or one of its parent directories applies to
    it; the last pattern that applies wins; '!' re-includes."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    verdict = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        regex = _glob(pattern.removeprefix("!").strip("/"))
        if any(regex.fullmatch(prefix) for prefix in prefixes):
            verdict = not negate
    return verdict


def test_dockerignore_sends_only_what_the_build_copies(instructions: list[Instruction]) -> None:
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for source in [*context_sources(instructions), "monitor/cli/run.py", "monitor/rules/x.toml"]:
        assert not ignored(source, patterns), source
    for other in (
        ".venv/bin/python",
        ".git/HEAD",
        "tests/fixtures/cphpost/robots.txt",
        "deploy/.env",
        "monitor/__pycache__/db.cpython-311.pyc",
        "scrapers/cphpost/__pycache__/x.pyc",
    ):
        assert ignored(other, patterns), other


def test_package_is_installed_from_the_runtime_lock_without_dev_extras_into_a_venv(
    instructions: list[Instruction],
) -> None:
    runs = [i.args for i in instructions if i.keyword == "RUN" and i.stage == 0]
    assert runs == [
        f"python -m venv {VENV}",
        f"{VENV}/bin/pip install --no-cache-dir --require-hashes --no-deps -r requirements.lock",
        f"{VENV}/bin/pip install --no-cache-dir --no-deps .",
    ]
    assert "[" not in " ".join(runs)  # no extras at all
    copies = [i.args for i in instructions if i.keyword == "COPY" and i.stage == 1]
    assert copies == [f"--from=build {VENV} {VENV}"]


def test_runtime_runs_as_an_unprivileged_user(runtime: list[Instruction]) -> None:
    user = only(runtime, "USER")
    assert user == "10001:10001"
    setup = only(runtime, "RUN")
    assert "groupadd --system --gid 10001 cphpost-monitor" in setup
    assert "useradd --system --uid 10001 --gid cphpost-monitor" in setup
    assert "install -d -o cphpost-monitor -g cphpost-monitor -m 0750 /data" in setup


def test_data_lives_in_the_data_volume(runtime: list[Instruction]) -> None:
    assert only(runtime, "VOLUME") == "/data"
    assert only(runtime, "WORKDIR") == "/data"
    env = env_of(runtime)
    assert env["CPHMON_DATA_DIR"] == "/data"
    assert env["CPHMON_HEALTH_HOST"] == "0.0.0.0"
    assert env["PATH"].startswith(f"{VENV}/bin:")
    for name, value in env.items():
        if name.startswith(ENV_PREFIX):
            settings_with(name.removeprefix(ENV_PREFIX).lower(), value)


def test_healthcheck_entrypoint_and_command(runtime: list[Instruction]) -> None:
    healthcheck = only(runtime, "HEALTHCHECK")
    options, _, command = healthcheck.partition(" CMD ")
    assert command == "cphpost-monitor status --quiet || exit 1"
    assert re.fullmatch(r"(--[a-z-]+=\w+ ?)+", options), options
    assert json.loads(only(runtime, "ENTRYPOINT")) == ["cphpost-monitor"]
    assert json.loads(only(runtime, "CMD")) == ["run"]
    assert only(runtime, "STOPSIGNAL") == "SIGTERM"
    assert PYPROJECT["project"]["scripts"]["cphpost-monitor"] == "monitor.cli:main"


@pytest.mark.parametrize(
    ("command", "option"),
    [(["status"], "--quiet"), (["run"], "--once"), (["db", "upgrade"], None)],
)
def test_the_commands_the_image_and_compose_run_exist(command: list[str], option: str) -> None:
    from monitor.cli import app

    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    if option:
        assert option in result.output


def run_status(data_dir: Path) -> subprocess.CompletedProcess[str]:
    """The image's HEALTHCHECK command, as a process: only its exit code counts."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
    env[f"{ENV_PREFIX}DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [sys.executable, "-m", "monitor", "status", "--quiet"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Engine]:
    settings = Settings(data_dir=tmp_path)
    upgrade(settings.effective_database_url)
    engine = make_engine(settings.effective_database_url)
    yield engine
    engine.dispose()
    engine_for(settings.effective_database_url).dispose()


def test_healthcheck_passes_when_discovery_ran_recently(store: Engine, tmp_path: Path) -> None:
    with session(store) as db:
        db.add(Lease(name="discovery", last_run_at=datetime.now(UTC)))
    result = run_status(tmp_path)
    assert (result.returncode, result.stdout) == (0, ""), result.stderr


def test_healthcheck_fails_when_discovery_never_ran(store: Engine, tmp_path: Path) -> None:
    result = run_status(tmp_path)
    assert (result.returncode, result.stdout) == (1, ""), result.stderr
