"""``extract``: what the scraper reads from one page, to check a page by eye or from a script.

Nothing is stored. A recorded page is read from disk; a URL is fetched once through the same
fetcher (and politeness rules) as the service. The lead registers :func:`extract_command` on
the shared app (``app.command("extract")(extract.extract_command)``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import unquote, urlsplit

import typer
from rich.table import Table
from rich.text import Text

from monitor.cli.common import UserError, console, console_err, settings
from scrapers.article import Article, ExtractionFailure, fingerprint

PathOrUrl = Annotated[
    str,
    typer.Argument(
        help="A saved article page of the site (path or file:// URL), or an http(s) URL to fetch.",
        show_default=False,
    ),
]
JsonFlag = Annotated[
    bool, typer.Option("--json", help="Print one JSON object (the article and its fingerprint).")
]


def extract_command(path_or_url: PathOrUrl, json_output: JsonFlag = False) -> None:
    """Print the article the scraper extracts from one page; exit 1 when there is none."""
    if urlsplit(path_or_url).scheme in ("http", "https"):
        result = _from_url(path_or_url)
    else:
        result = _from_file(_local_path(path_or_url))
    if isinstance(result, ExtractionFailure):
        console_err.print(f"extraction failed: {result.reason}", markup=False, highlight=False)
        raise typer.Exit(1)
    if json_output:
        typer.echo(json.dumps(article_json(result), ensure_ascii=False, indent=2))
    else:
        print_summary(result)


def register(app: typer.Typer) -> None:
    """Add the command to ``app`` (for the lead's command registry)."""
    app.command("extract")(extract_command)


def article_json(article: Article) -> dict[str, Any]:
    """``Article.to_dict()`` plus the fingerprint the store would compare."""
    return {**article.to_dict(), "fingerprint": fingerprint(article)}


def _local_path(path_or_url: str) -> Path:
    if path_or_url.startswith("file://"):
        return Path(unquote(urlsplit(path_or_url).path))
    return Path(path_or_url).expanduser()


def _from_file(path: Path) -> Article | ExtractionFailure:
    """A recorded page: its own canonical link names it, else its ``file://`` URL does."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from None
    site = settings().scraper
    return site.extract(data, path.resolve().as_uri(), site.default_origin)


def _from_url(url: str) -> Article | ExtractionFailure:
    """One polite fetch, then extraction against the configured site."""
    from monitor.fetch import fetch_one  # the network stack loads only when a URL is given

    s = settings()
    result = asyncio.run(fetch_one(s, url))
    if result.error or result.status != 200:
        problem = result.error or f"HTTP {result.status}"
        console_err.print(f"fetch failed: {url}: {problem}", markup=False, highlight=False)
        raise typer.Exit(1)
    return s.scraper.extract(result.body, result.final_url or url, s.site_url, result.encoding)


def print_summary(article: Article) -> None:
    """Metadata as a two-column grid, then the body paragraphs numbered (wraps stay indented)."""
    console.print(_grid((key, Text(value)) for key, value in _summary_rows(article)))
    console.print(Text(f"\n{len(article.paragraphs)} paragraphs", style="bold"))
    console.print(_grid((f"{n:>3}", Text(p)) for n, p in enumerate(article.paragraphs, 1)))


def _summary_rows(article: Article) -> list[tuple[str, str]]:
    def when(value: datetime | None) -> str:
        return value.isoformat() if value else "-"

    return [
        ("URL", article.url),
        ("Title", article.title),
        ("Standfirst", article.standfirst or "-"),
        ("Author", article.author or "-"),
        ("Published", when(article.published)),
        ("Modified", when(article.modified)),
        ("Section", article.section),
        ("Tags", ", ".join(article.tags) or "-"),
        ("Post id", str(article.post_id) if article.post_id is not None else "-"),
        ("Paywalled", "yes" if article.paywalled else "no"),
        ("Read more", " | ".join(article.related_links) or "-"),
        ("Fingerprint", fingerprint(article)),
    ]


def _grid(rows: Iterable[tuple[str, Text]]) -> Table:
    """Label and value columns; values fold rather than ellipsize, so URLs print whole."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    for label, value in rows:
        grid.add_row(label, value)
    return grid
