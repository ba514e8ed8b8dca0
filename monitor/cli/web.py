"""``web``: serve the read-only web view of changes, feeds and exports (its own process)."""

from __future__ import annotations

from typing import Annotated

import typer

from monitor.cli.common import UserError, console_err, settings
from monitor.db import DatabaseError
from monitor.settings import load_settings


def web_command(
    host: Annotated[
        str | None,
        typer.Option(
            "--host",
            help="Address to bind (CPHMON_WEB_HOST; default 127.0.0.1).",
            show_default=False,
        ),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option("--port", help="Port (CPHMON_WEB_PORT; default 8080).", show_default=False),
    ] = None,
) -> None:
    """Serve the web view: changes, article diffs, search, Atom feeds, JSON and CSV exports."""
    import uvicorn

    from monitor.web.app import create_app
    from monitor.web.db import open_readonly
    from monitor.web.search import SearchIndex
    from monitor.web.security import bind_problem

    overrides = {k: v for k, v in (("web_host", host), ("web_port", port)) if v is not None}
    s = load_settings(**overrides) if overrides else settings()
    problem = bind_problem(s.web_host, s.web_token)
    if problem:
        raise UserError(problem)
    try:
        web = open_readonly(s)
    except DatabaseError as exc:
        raise UserError(str(exc)) from None
    added = SearchIndex(web).refresh()
    access = "token required (bearer or basic auth)" if s.web_token else "no token: loopback only"
    shown = f"[{s.web_host}]" if ":" in s.web_host else s.web_host
    console_err.print(
        f"web view on http://{shown}:{s.web_port}/ — {access}; database read-only"
        + (f"; search index: {added} new version(s)" if added else ""),
        highlight=False,
        soft_wrap=True,
    )
    uvicorn.run(
        create_app(s, web),
        host=s.web_host,
        port=s.web_port,
        server_header=False,
        proxy_headers=False,
        log_level="warning",
    )
