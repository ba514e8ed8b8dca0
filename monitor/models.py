"""Database tables (SQLModel). The schema itself is owned by alembic (``monitor/migrations``).

Work is claimed in the database so that several daemons can share one PostgreSQL: an article
due for a re-check and an outbox delivery each carry a lease (``lease_owner``/``lease_expires``)
taken with ``SELECT … FOR UPDATE SKIP LOCKED``; a worker killed mid-fetch leaves a lease that
simply expires. Singleton jobs (discovery, housekeeping) and the SQLite single-daemon lock are
rows in :class:`Lease`; the shared politeness budget is a row in :class:`RateLimit`, which also
holds a site-wide Retry-After. Discovery sources keep their validators in :class:`SourceValidator`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


class ArticleStatus:
    PENDING = "pending"  # discovered, never fetched
    LIVE = "live"
    PAYWALLED = "paywalled"
    GONE = "gone"  # 404/410 confirmed by a second fetch


class Article(SQLModel, table=True):
    """One tracked article, under its canonical URL."""

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(index=True, unique=True)
    site: str = Field(default="cphpost", sa_column_kwargs={"server_default": "cphpost"})
    post_id: int | None = Field(default=None, index=True)
    section: str = ""
    status: str = Field(default=ArticleStatus.PENDING)
    discovered_via: str = ""
    first_seen: datetime
    last_seen: datetime | None = None  # last 200 with a good extraction
    last_checked: datetime | None = None
    next_check_at: datetime = Field(index=True)
    published: datetime | None = None
    lastmod_hint: datetime | None = None  # from feeds and sitemaps
    etag: str | None = None
    last_modified: str | None = None
    current_version_id: int | None = None
    version_count: int = 0
    relevant: bool = Field(default=False, index=True)
    topics: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    missing_since: datetime | None = None  # first 404/410, awaiting confirmation
    fail_count: int = 0  # consecutive transient failures
    last_error: str | None = None
    pending_version_id: int | None = None  # flip-flop: a reversion awaiting confirmation
    lease_owner: str | None = None
    lease_expires: datetime | None = None


class UrlAlias(SQLModel, table=True):
    """Other URLs of an article: shortlinks, old-site URLs, URLs it was moved from (301)."""

    url: str = Field(primary_key=True)
    article_id: int = Field(foreign_key="article.id", index=True)


class Version(SQLModel, table=True):
    """A distinct content of an article. Written only when the fingerprint changes."""

    __table_args__ = (UniqueConstraint("article_id", "seq"),)

    id: int | None = Field(default=None, primary_key=True)
    article_id: int = Field(foreign_key="article.id", index=True)
    seq: int
    fingerprint: str = Field(index=True)
    fetched_at: datetime
    title: str
    paywalled: bool = False
    data: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))  # Article.to_dict()
    relevant: bool = False
    classification: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))


class Change(SQLModel, table=True):
    """What happened between two versions (or a lifecycle event: deleted, restored)."""

    id: int | None = Field(default=None, primary_key=True)
    article_id: int = Field(foreign_key="article.id", index=True)
    from_version_id: int | None = Field(default=None, foreign_key="version.id")
    to_version_id: int | None = Field(default=None, foreign_key="version.id")
    kind: str  # primary ChangeKind value
    kinds: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    significance: int = 0
    diff: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))  # Diff.to_dict()
    held: bool = False  # a reversion held back by the flip-flop guard
    created_at: datetime = Field(index=True)  # the web view lists changes newest first


class Alert(SQLModel, table=True):
    """An outbox entry, written in the same transaction as the change that caused it."""

    id: int | None = Field(default=None, primary_key=True)
    dedupe_key: str = Field(unique=True)  # one story, one alert
    article_id: int | None = Field(default=None, foreign_key="article.id", index=True)
    change_id: int | None = Field(default=None, foreign_key="change.id", index=True)
    kind: str
    topics: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    payload: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(index=True)  # the web view's Atom feeds: newest first


class DeliveryStatus:
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # gave up after the last attempt


class Delivery(SQLModel, table=True):
    """One alert to one target; sent at most once when it succeeds (unique alert+target)."""

    __table_args__ = (
        UniqueConstraint("alert_id", "target"),
        Index("ix_delivery_due", "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(foreign_key="alert.id", index=True)
    target: str  # stable key of the target URL (a hash: never the secret itself)
    status: str = Field(default=DeliveryStatus.PENDING)
    attempts: int = 0
    next_attempt_at: datetime
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    sent_at: datetime | None = None
    lease_owner: str | None = None
    lease_expires: datetime | None = None


class FetchLog(SQLModel, table=True):
    """One request to the site; pruned by age (``fetch_log_days``)."""

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(index=True)
    url: str
    status: int | None = None
    outcome: str  # ok, not_modified, changed, unchanged, missing, transient, refused, ...
    elapsed_ms: int = 0
    error: str | None = Field(default=None, sa_column=Column(Text))
    worker: str = ""


class Lease(SQLModel, table=True):
    """A named, expiring lock: job leadership, the SQLite daemon lock, heartbeats."""

    name: str = Field(primary_key=True)
    owner: str | None = None
    expires_at: datetime | None = None
    last_run_at: datetime | None = None
    info: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class RateLimit(SQLModel, table=True):
    """The shared politeness budget of one host: the earliest time the next request may go."""

    host: str = Field(primary_key=True)
    next_at: float = 0.0  # seconds since the epoch
    blocked_until: float = 0.0  # the whole site asked us to wait (Retry-After) until then
    blocked_reason: str | None = None  # what it said, for ``status``


class SourceValidator(SQLModel, table=True):
    """A discovery source's validators: feeds, the sitemap index, sitemaps and robots.txt are
    fetched conditionally, and a 304 costs no parse and no write."""

    url: str = Field(primary_key=True)
    etag: str | None = None
    last_modified: str | None = None
    marker: str | None = None  # a sitemap: its lastmod in the index when it was last read
    fresh_until: float | None = None  # robots.txt: Cache-Control max-age (epoch seconds)
    body: str | None = Field(default=None, sa_column=Column(Text))  # robots.txt: the rules
    read_at: datetime | None = None


class Checkpoint(SQLModel, table=True):
    """Backfill progress, so an interrupted backfill continues where it stopped."""

    key: str = Field(primary_key=True)  # e.g. "sitemap:https://…/post-sitemap2.xml"
    done: bool = False
    marker: str | None = None  # the source's lastmod (or page number) when it was done
    updated_at: datetime


class State(SQLModel, table=True):
    """Small service state that must survive restarts (site health for ops alerts)."""

    key: str = Field(primary_key=True)
    value: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class PageTemplate(SQLModel, table=True):
    """Where the article body is after a site redesign, learned from stored articles.

    At most one row is ``active``; none while the theme's own body containers work. Rows are
    kept when retired, as the history of the site's redesigns (``monitor/templates.py``).
    """

    __tablename__ = "page_template"

    id: int | None = Field(default=None, primary_key=True)
    body: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    exclude: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    learned_at: datetime
    articles: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    active: bool = Field(default=False, index=True)
    retired_at: datetime | None = None
