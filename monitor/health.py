"""Site health: one operator alert when the site or the scraper stops working, one on recovery.

A *cycle* is one discovery run or one batch of re-checks that made requests. It fails when
every request failed (site unreachable), or when most pages answered 200 but would not extract
(a redesign broke the scraper). After ``failure_threshold`` failed cycles in a row, one ``ops``
alert goes out; the first good cycle after that sends one "recovered" alert. Never one alert
per failing request.

While the scraper is the problem, only a page that extracts is a sign of recovery: cycles that
extracted nothing (discovery, which reads feeds and still works after a redesign; re-checks
answered 304; a single page that failed) neither count nor end the streak.

A redesign is not this module's to announce: pages that lost their body container are watched
by :mod:`monitor.templates`, which sends one ops alert when the template changed (learned or
not) and one when the original returns. A cycle broken mostly by such pages (its count in
:func:`monitor.templates.lost_body_pages` grew by at least half the cycle's extraction
failures) neither counts nor ends the streak, so a redesign never alerts twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime

from sqlalchemy import Engine
from sqlmodel import col, select

from monitor.alerts.outbox import enqueue
from monitor.alerts.render import build_payload
from monitor.alerts.targets import Target
from monitor.db import session
from monitor.models import State
from monitor.store import dialect_insert
from monitor.templates import lost_body_pages

STATE_KEY = "site_health"


@dataclass(frozen=True, slots=True)
class SiteHealth:
    failed_cycles: int = 0
    alerting: bool = False  # an ops alert went out and no recovery yet
    incident: str | None = None  # when the current failure streak began (ISO 8601)
    last_error: str | None = None
    last_ok: str | None = None
    scraper: bool = False  # the streak is extraction failing, not the site being unreachable
    redesign_seen: int = 0  # monitor.templates.lost_body_pages() at the last cycle


@dataclass(frozen=True, slots=True)
class Cycle:
    """What one cycle saw: requests made, how many failed, how many 200s did not extract.

    ``extracted`` counts the pages run through extraction (extracted or not); None when the
    caller does not say, and then every answered request counts as one.
    """

    requests: int
    failed: int
    extraction_failed: int = 0
    reason: str = ""
    extracted: int | None = None

    @property
    def broken(self) -> bool:
        if self.requests == 0:
            return False
        if self.failed >= self.requests and (self.requests > 1 or not self.extraction_failed):
            return True  # every fetch failed (but one page that will not extract is no outage)
        answered = self.requests - (self.failed - self.extraction_failed)
        pages = answered if self.extracted is None else self.extracted
        return pages >= 2 and self.extraction_failed * 2 > pages

    @property
    def unreachable(self) -> bool:
        """Every request failed before there was a page to extract."""
        return self.requests > 0 and self.failed - self.extraction_failed >= self.requests

    @property
    def scraper_works(self) -> bool:
        """Whether this cycle shows pages extracting (unknown counts: assume it does)."""
        return self.extracted is None or self.extracted > self.extraction_failed


def observe(
    state: SiteHealth, cycle: Cycle, threshold: int, now: datetime, redesign_failures: int = 0
) -> tuple[SiteHealth, str | None]:
    """Fold one cycle into the health state; return the ops alert kind to send, if any.

    ``redesign_failures``: how many of the cycle's extraction failures were pages without a
    body container (a redesign, which :mod:`monitor.templates` announces itself).
    """
    if cycle.requests == 0:
        return state, None
    redesign = cycle.extraction_failed and 2 * redesign_failures >= cycle.extraction_failed
    if cycle.broken and not cycle.unreachable and redesign:
        return state, None  # a redesign: the template watch alerts on it, once
    if cycle.broken:
        failed = state.failed_cycles + 1
        state = replace(
            state,
            failed_cycles=failed,
            incident=state.incident or now.isoformat(),
            last_error=cycle.reason or state.last_error,
            scraper=not cycle.unreachable,
        )
        if failed >= threshold and not state.alerting:
            return replace(state, alerting=True), "ops_failure"
        return state, None
    if state.failed_cycles and state.scraper and not cycle.scraper_works:
        return state, None  # nothing extracted: no sign either way that the scraper works
    recovered = state.alerting
    incident = state.incident
    state = SiteHealth(last_ok=now.isoformat(), incident=incident if recovered else None)
    return (state, "ops_recovered") if recovered else (replace(state, incident=None), None)


def record_cycle(
    engine: Engine,
    cycle: Cycle,
    *,
    threshold: int,
    targets: Sequence[Target],
    ops_tag: str,
    site: str,
    now: datetime,
) -> str | None:
    """Persist the health state (row-locked: several workers share it) and enqueue ops alerts."""
    with session(engine) as db:
        db.execute(
            dialect_insert(engine, State)
            .values(key=STATE_KEY, value={})
            .on_conflict_do_nothing(index_elements=["key"])
        )
        row = db.exec(select(State).where(col(State.key) == STATE_KEY).with_for_update()).one()
        state = SiteHealth(**row.value) if row.value else SiteHealth()
        lost = lost_body_pages(db)
        redesign = min(max(lost - state.redesign_seen, 0), cycle.extraction_failed)
        state, kind = observe(state, cycle, threshold, now, redesign)
        state = replace(state, redesign_seen=lost)
        row.value = asdict(state)
        db.add(row)
        if kind is not None:
            failing = kind == "ops_failure"
            title = (
                f"cphpost-monitor: {site} is failing ({state.failed_cycles} cycles)"
                if failing
                else f"cphpost-monitor: {site} works again"
            )
            payload = build_payload(
                kind=kind,
                url=site,
                title=title,
                section="operations",
                published=state.incident,
                topics=[],
                evidence="",
                changes=[],
                diff_html=None,
                change_kinds=[],
                detail=(state.last_error or "") if failing else f"failing since {state.incident}",
            )
            enqueue(
                db,
                targets,
                kind=kind,
                dedupe_key=f"{kind}:{state.incident}",
                payload=payload,
                topics=[],
                article_id=None,
                change_id=None,
                now=now,
                ops_tag=ops_tag,
            )
            if not failing:
                row.value = asdict(replace(state, incident=None))
                db.add(row)
        return kind


def read_health(engine: Engine) -> SiteHealth:
    with session(engine) as db:
        row = db.get(State, STATE_KEY)
        return SiteHealth(**row.value) if row is not None and row.value else SiteHealth()
