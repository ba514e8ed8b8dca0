"""Stored validators of discovery sources: feeds, the sitemap index, sitemaps, robots.txt.

Each source is fetched with ``If-None-Match``/``If-Modified-Since`` from what its last 200 sent,
so an unchanged source costs one 304: no parse and no write. A sitemap also keeps the index's
``lastmod`` it had when it was last read (``marker``): only sitemaps whose ``lastmod`` moved are
fetched again. robots.txt keeps its rules and, from ``Cache-Control: max-age``, how long they
stay fresh without asking.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from monitor.db import session
from monitor.models import SourceValidator
from monitor.store import utcnow


@dataclass(slots=True)
class Validators:
    """What the last usable answer of one source said about itself."""

    url: str
    etag: str | None = None
    last_modified: str | None = None
    marker: str | None = None
    fresh_until: float | None = None
    body: str | None = None


def load_validators(engine: Engine, urls: Sequence[str]) -> dict[str, Validators]:
    """The stored validators of ``urls`` (one query)."""
    if not urls:
        return {}
    with session(engine) as db:
        rows = db.exec(select(SourceValidator).where(col(SourceValidator.url).in_(list(urls))))
        return {
            r.url: Validators(r.url, r.etag, r.last_modified, r.marker, r.fresh_until, r.body)
            for r in rows
        }


def save_validators(db: Session, items: Iterable[Validators], now: datetime | None = None) -> None:
    """Store validators inside the caller's transaction (with what their 200 was used for)."""
    when = now or utcnow()
    for item in items:
        db.merge(
            SourceValidator(
                url=item.url,
                etag=item.etag,
                last_modified=item.last_modified,
                marker=item.marker,
                fresh_until=item.fresh_until,
                body=item.body,
                read_at=when,
            )
        )


class DatabaseSources:
    """Validators kept in the service's database, for the fetcher's robots.txt."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def load(self, url: str) -> Validators | None:
        return load_validators(self.engine, [url]).get(url)

    def save(self, item: Validators) -> None:
        with session(self.engine) as db:
            save_validators(db, [item])
