"""What an operator asks first: is it working? (``cphpost-monitor status`` and ``/healthz``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Engine, func
from sqlmodel import col, select

from monitor.db import session
from monitor.health import SiteHealth, read_health
from monitor.models import Article, Delivery, DeliveryStatus, FetchLog, Lease
from monitor.settings import Settings
from monitor.store import host_block, utcnow
from monitor.templates import load_active

THEME_TEMPLATE = "the theme's own"


@dataclass(slots=True)
class Status:
    healthy: bool
    problems: list[str]
    last_discovery: str | None
    articles: int
    relevant: int
    due: int
    outbox_pending: int
    outbox_failed: int
    site_failing_cycles: int
    template: str = THEME_TEMPLATE  # where the body is read from: the theme's, or a learned one
    recent_errors: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the site is doing now, not a fault

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_status(engine: Engine, settings: Settings, now: datetime | None = None) -> Status:
    now = now or utcnow()
    with session(engine) as db:
        runs = [
            lease.last_run_at
            for lease in (db.get(Lease, "discovery"), db.get(Lease, "sitemap"))
            if lease is not None and lease.last_run_at is not None
        ]
        last = max(runs) if runs else None
        articles = db.exec(select(func.count()).select_from(Article)).one()
        relevant = db.exec(
            select(func.count()).select_from(Article).where(col(Article.relevant))
        ).one()
        due = db.exec(
            select(func.count()).select_from(Article).where(Article.next_check_at <= now)
        ).one()
        pending = db.exec(
            select(func.count())
            .select_from(Delivery)
            .where(Delivery.status == DeliveryStatus.PENDING)
        ).one()
        failed = db.exec(
            select(func.count())
            .select_from(Delivery)
            .where(Delivery.status == DeliveryStatus.FAILED)
        ).one()
        errors = db.exec(
            select(FetchLog)
            .where(col(FetchLog.error).is_not(None))
            .order_by(col(FetchLog.at).desc())
            .limit(5)
        ).all()
    health = read_health(engine)
    learned = load_active(engine)
    problems: list[str] = []
    if last is None:
        problems.append("discovery has never run")
    elif now - last > timedelta(seconds=settings.poll_interval * 3 + 60):
        problems.append(f"no discovery since {last.isoformat(timespec='seconds')}")
    if health.alerting:
        problems.append(f"site failing since {health.incident}: {health.last_error}")
    if failed:
        problems.append(f"{failed} deliveries failed for good")
    notes = _site_notes(engine, settings, health, now)
    return Status(
        healthy=not problems,
        problems=problems,
        last_discovery=last.isoformat(timespec="seconds") if last else None,
        articles=int(articles),
        relevant=int(relevant),
        due=int(due),
        outbox_pending=int(pending),
        outbox_failed=int(failed),
        site_failing_cycles=health.failed_cycles,
        template=f"learned: {learned.describe()}" if learned is not None else THEME_TEMPLATE,
        recent_errors=[
            {"at": e.at.isoformat(timespec="seconds"), "url": e.url, "error": e.error}
            for e in errors
        ],
        notes=notes,
    )


def _site_notes(engine: Engine, settings: Settings, health: SiteHealth, now: datetime) -> list[str]:
    """The site asking us to wait (Retry-After), or failing cycles not yet alerted."""
    notes: list[str] = []
    block = host_block(engine, urlsplit(settings.site_url).netloc)
    if block is not None and block.blocked(now.timestamp()):
        until = datetime.fromtimestamp(block.blocked_until, UTC).isoformat(timespec="seconds")
        notes.append(f"the site asked us to wait until {until} ({block.blocked_reason})")
    if health.failed_cycles and not health.alerting and health.last_error:
        notes.append(health.last_error)
    return notes
