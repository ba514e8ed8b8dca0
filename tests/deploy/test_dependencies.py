"""Installs that do not drift: every package the code imports is declared, capped and locked."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
RUNTIME = [Requirement(r) for r in PROJECT["dependencies"]]
EXTRAS = [Requirement(r) for group in PROJECT["optional-dependencies"].values() for r in group]
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^ ;\\]+)", re.MULTILINE)


def imported_top_levels(*packages: str) -> set[str]:
    names: set[str] = set()
    for package in packages:
        for path in (REPO / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue  # alembic's scripts import alembic and sqlmodel, both declared
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"monitor", "scrapers", "__future__"}


def pinned(lock: str) -> dict[str, Version]:
    text = (REPO / lock).read_text(encoding="utf-8")
    return {canonicalize_name(name): Version(v) for name, v in PIN.findall(text)}


def test_every_package_the_service_imports_is_a_declared_runtime_dependency() -> None:
    declared = {canonicalize_name(r.name) for r in RUNTIME}
    owners = packages_distributions()
    undeclared = {
        module: owners.get(module)
        for module in imported_top_levels("monitor", "scrapers")
        if not {canonicalize_name(d) for d in owners.get(module, [module])} & declared
    }
    assert undeclared == {}


def test_every_declared_dependency_has_an_upper_bound() -> None:
    uncapped = [
        str(r)
        for r in RUNTIME + EXTRAS
        if not any(s.operator in ("<", "<=", "==") for s in r.specifier)
    ]
    assert uncapped == []


def test_the_lock_files_pin_every_declared_dependency_within_its_range() -> None:
    for lock, requirements in (
        ("requirements.lock", RUNTIME),
        ("requirements-dev.lock", RUNTIME + EXTRAS),
    ):
        pins = pinned(lock)
        outside = {
            str(r): str(pins.get(canonicalize_name(r.name)))
            for r in requirements
            if canonicalize_name(r.name) not in pins
            or not r.specifier.contains(pins[canonicalize_name(r.name)], prereleases=True)
        }
        assert outside == {}, lock


def test_the_installed_versions_are_the_locked_ones() -> None:
    from importlib.metadata import PackageNotFoundError, version

    pins = pinned("requirements-dev.lock")
    drifted = {}
    for requirement in RUNTIME + EXTRAS:
        name = canonicalize_name(requirement.name)
        try:
            installed = Version(version(requirement.name))
        except PackageNotFoundError:
            continue  # an optional extra not installed here
        if installed != pins[name]:
            drifted[name] = (str(installed), str(pins[name]))
    assert drifted == {}
