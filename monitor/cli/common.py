"""Helpers shared by the command modules: settings, the store, consoles, user errors."""

from __future__ import annotations

from rich.console import Console

from monitor.settings import Settings, load_settings

console = Console()
console_err = Console(stderr=True)


class UserError(Exception):
    """A mistake of the user's (bad argument, missing file): printed as one line, exit 2."""


def settings() -> Settings:
    return load_settings()
