"""Helpers shared by the command modules: settings, the store, consoles, user errors."""

from __future__ import annotations

from rich.console import Console
from sqlalchemy import Engine

from monitor.db import DatabaseError, check_schema, get_engine
from monitor.settings import Settings, load_settings


def _console(stderr: bool = False) -> Console:
    """A terminal gets its width and wrapping; a pipe or file gets lines as long as they are,
    so a URL or a path is never split (rich would wrap at 80 columns)."""
    probe = Console(stderr=stderr)
    if probe.is_terminal:
        return probe
    return Console(stderr=stderr, soft_wrap=True, width=NO_WRAP_WIDTH)


NO_WRAP_WIDTH = 10_000  # wider than any line we print: tables take their content's width
console = _console()
console_err = _console(stderr=True)


class UserError(Exception):
    """A mistake of the user's (bad argument, missing file): printed as one line, exit 2."""


def settings() -> Settings:
    return load_settings()


def open_store(s: Settings | None = None) -> Engine:
    """The engine for commands that read or write the store; an old schema is a user error."""
    s = s or settings()
    try:
        engine = get_engine(s)
        check_schema(engine)
    except DatabaseError as exc:
        raise UserError(str(exc)) from None
    return engine
