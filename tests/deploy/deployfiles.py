"""Readers for the deployment files, as strict as the tools that consume them need.

Example settings files (``deploy/.env.example``, ``deploy/cphpost-monitor.example.toml``) are
lists of blocks: comment lines saying what a setting does, a ``Default: ...`` comment line, then
the setting itself, commented out (``#NAME=value`` / ``#name = value``: no space after ``#``)
or active. Prose comments always have a space after ``#``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor.settings import Settings

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
ENV_EXAMPLE = DEPLOY / ".env.example"
TOML_EXAMPLE = DEPLOY / "cphpost-monitor.example.toml"
COMPOSE = DEPLOY / "compose.yaml"
DOCKERFILE = DEPLOY / "Dockerfile"
DOCKERIGNORE = DEPLOY / "Dockerfile.dockerignore"
UNIT = DEPLOY / "cphpost-monitor.service"
COPY_SCRIPT = DEPLOY / "copy-database.py"
OPERATIONS = REPO / "docs" / "operations.md"

ENV_PREFIX = "CPHMON_"


def settings_with(name: str, value: Any) -> Settings:
    """The settings model with one setting given (by field name), the rest as defaults."""
    overrides: dict[str, Any] = {name: value}
    return Settings(**overrides)


@dataclass(frozen=True)
class Entry:
    """One setting in an example file."""

    name: str  # as written: CPHMON_POLL_INTERVAL or poll_interval
    value: str  # the text right of "=" (a TOML literal in the TOML file)
    active: bool  # False when commented out
    doc: tuple[str, ...]  # the comment lines just above it, without "# "
    line: int

    @property
    def default_text(self) -> str | None:
        for text in self.doc:
            if text.startswith("Default: "):
                return text.removeprefix("Default: ")
        return None


_ENV_LINE = re.compile(r"^(?P<hash>#?)(?P<name>[A-Z][A-Z0-9_]*)=(?P<value>.*)$")
_TOML_LINE = re.compile(r"^(?P<hash>#?)(?P<name>[a-z][a-z0-9_]*) = (?P<value>.*)$")


def _entries(path: Path, pattern: re.Pattern[str]) -> list[Entry]:
    entries: list[Entry] = []
    doc: list[str] = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.rstrip()
        match = pattern.match(line)
        if match:
            entries.append(
                Entry(
                    name=match["name"],
                    value=match["value"],
                    active=not match["hash"],
                    doc=tuple(doc),
                    line=number,
                )
            )
            doc = []
        elif line == "#":
            doc.append("")
        elif line.startswith("# "):
            doc.append(line[2:])
        elif not line:
            doc = []
        else:
            raise AssertionError(f"{path.name}:{number}: neither a comment nor a setting: {line!r}")
    return entries


def env_entries(path: Path = ENV_EXAMPLE) -> list[Entry]:
    return _entries(path, _ENV_LINE)


def toml_entries(path: Path = TOML_EXAMPLE) -> list[Entry]:
    return _entries(path, _TOML_LINE)


def uncommented_toml(path: Path = TOML_EXAMPLE) -> str:
    """The TOML example with every commented-out setting switched on."""
    text = path.read_text(encoding="utf-8")
    return re.sub(r"^#(?=[a-z][a-z0-9_]* = )", "", text, flags=re.MULTILINE)


def active_env(path: Path = ENV_EXAMPLE) -> dict[str, str]:
    """What a dotenv reader sees in the file as shipped (only uncommented lines)."""
    return {e.name: e.value for e in env_entries(path) if e.active}


# Compose interpolation -------------------------------------------------------------------------

_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


class InterpolationError(Exception):
    """A required variable (``${VAR:?message}``) is missing; the message is compose's own."""


@dataclass(frozen=True)
class Reference:
    name: str
    op: str | None  # None, ":-", "-", ":?", "?"
    arg: str


def references(text: str) -> list[Reference]:
    found = []
    for match in _VARIABLE.finditer(text):
        if match["escaped"]:
            continue
        name = match["braced"] or match["bare"]
        found.append(Reference(name, match["op"], match["arg"] or ""))
    return found


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's variable substitution: $$, $VAR, ${VAR}, ${VAR:-d}, ${VAR-d}, ${VAR:?e}."""

    def replace(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["braced"] or match["bare"]
        op, arg = match["op"], match["arg"] or ""
        value = env.get(name)
        if op == ":-":
            return value if value else arg
        if op == "-":
            return arg if value is None else value
        if op == ":?" and not value:
            raise InterpolationError(f"required variable {name} is missing a value: {arg}")
        if op == "?" and value is None:
            raise InterpolationError(f"required variable {name} is missing a value: {arg}")
        return value or ""

    return _VARIABLE.sub(replace, text)


# systemd unit ----------------------------------------------------------------------------------


def parse_unit(path: Path = UNIT) -> dict[str, dict[str, list[str]]]:
    """Sections → key → every value in order (systemd allows repeated keys)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        assert not line.endswith("\\"), f"{path.name}:{number}: keep directives on one line"
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"{path.name}:{number}: directive outside a section"
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}:{number}: not KEY=VALUE: {line!r}"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


# Dockerfile ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case
    args: str
    stage: int  # 0 = first FROM


def parse_dockerfile(path: Path = DOCKERFILE) -> list[Instruction]:
    """Instructions with continuation lines joined and comments dropped."""
    instructions: list[Instruction] = []
    pending = ""
    stage = -1
    for raw in path.read_text(encoding="utf-8").splitlines():
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and not pending):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1].rstrip() + " "
            continue
        line = (pending + stripped).strip()
        pending = ""
        if not line:
            continue
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stage += 1
        instructions.append(Instruction(keyword, args.strip(), stage))
    assert not pending, "the Dockerfile ends in a continuation line"
    return instructions
