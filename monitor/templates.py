"""Keeping watch through a site redesign: the learned page template, its evidence, its alerts.

When the theme's body containers vanish, every article page fails to extract. Each such page of
an article the monitor has a version of is offered, with the stored text, as evidence to
:mod:`scrapers.learn`; once :data:`~scrapers.learn.CONFIRMATIONS` articles
agree, the template is stored active and used site-wide (``check.prepare`` passes it to
``extract``), and one ``ops`` alert names it. A known article that extracts differently under
it is offered again: exclusions that make it extract exactly as stored refine the template
(a premium page's paywall box first seen now); otherwise the text really changed. When pages
carry the theme's own containers again, on as many articles, the template is retired and one
"recovered" alert goes out. A second redesign is learned like the first. See docs/redesign.md.

Evidence lives in this process (pages are not stored); the template and the incident state
(which articles showed what, whether the alert went out) live in the database, so several
workers share them and a restart keeps them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from monitor.alerts.outbox import enqueue
from monitor.alerts.render import build_payload
from monitor.db import session
from monitor.fetch import FetchResult
from monitor.models import PageTemplate, State, Version
from monitor.store import Claim, dialect_insert, utcnow
from scrapers.article import Article as Page
from scrapers.article import ExtractionFailure, fingerprint
from scrapers.learn import CONFIRMATIONS, Evidence, confirm, learn, refine
from scrapers.site import Redesign
from scrapers.template import Stored, Template

if TYPE_CHECKING:
    from monitor.check import Context

log = logging.getLogger(__name__)

STATE_KEY = "page_template"
LOST_KEY = "page_template_lost"  # pages that failed for want of a body container, ever
CACHE_SECONDS = 2.0  # how stale another worker's view of the active template may be
UNLEARNED_AFTER = 2 * CONFIRMATIONS  # known articles failing with no template: say so
EVIDENCE_KEPT = 20  # pages kept per proposed body, per process


class TemplateAlert(StrEnum):
    """The ``ops`` alerts of a redesign (routed like every ``ops_*`` kind)."""

    LEARNED = "ops_template_learned"  # the site's template changed; a new one was learned
    UNLEARNED = "ops_template_unknown"  # the site's template changed; nothing could be learned
    RECOVERED = "ops_template_recovered"  # the theme's own template is back


@dataclass(frozen=True, slots=True)
class ActiveTemplate:
    """The learned template in use, with when and from which articles it was learned."""

    id: int
    template: Template
    learned_at: datetime
    articles: tuple[str, ...]

    def describe(self) -> str:
        when = self.learned_at.isoformat(timespec="seconds")
        return f"{self.template.describe()}, learned {when} from {len(self.articles)} articles"


@dataclass(slots=True)
class _Learner:
    """This process's evidence: failing pages by the body they propose, then by article URL."""

    by_body: dict[tuple[str, ...], dict[str, Evidence]] = field(default_factory=dict)


_LEARNERS: dict[str, _Learner] = {}
_CACHE: dict[str, tuple[float, _View]] = {}


@dataclass(frozen=True, slots=True)
class _View:
    """What the hot path needs to know, read at most every :data:`CACHE_SECONDS`."""

    active: ActiveTemplate | None
    unlearned: bool  # a "nothing could be learned" alert went out; no recovery yet


# --- reading ------------------------------------------------------------------------------


def load_active(engine: Engine) -> ActiveTemplate | None:
    """The active learned template, from the database (None: the theme's own is in use)."""
    with Session(engine) as db:
        row = db.exec(
            select(PageTemplate).where(col(PageTemplate.active)).order_by(col(PageTemplate.id))
        ).first()
    if row is None or row.id is None:
        return None
    return ActiveTemplate(
        row.id, Template(tuple(row.body), tuple(row.exclude)), row.learned_at, tuple(row.articles)
    )


def active(engine: Engine) -> Template | None:
    """The template ``extract`` should fall back to, read at most every :data:`CACHE_SECONDS`."""
    found = _view(engine).active
    return found.template if found is not None else None


def _view(engine: Engine) -> _View:
    key = str(engine.url)
    cached = _CACHE.get(key)
    now = time.monotonic()
    if cached is not None and cached[0] > now:
        return cached[1]
    with Session(engine) as db:
        state = db.get(State, STATE_KEY)
    view = _View(load_active(engine), bool(state and state.value.get("unlearned_alerted")))
    _CACHE[key] = (now + CACHE_SECONDS, view)
    return view


# --- the hook -----------------------------------------------------------------------------


def observe(
    ctx: Context, claim: Claim, result: FetchResult, page: Page | ExtractionFailure | None
) -> Page | ExtractionFailure | None:
    """What the check should record for this fetch, having learned from it what it can.

    Called by ``check.fetch_and_prepare`` for every fetch (``page`` is None unless it was a
    200). Costs nothing while the theme's own template works and no learned one is active.
    """
    rules = ctx.settings.scraper.redesign
    if rules is None:
        return page  # a site whose markup is not learned
    view = _view(ctx.engine)
    current = view.active
    if result.not_modified and view.unlearned and current is None:
        # 304 to the validators of the last good version: a page of the theme's own template
        _theme_seen(ctx, claim.url)
    if page is None or not result.ok:
        return page
    if isinstance(page, ExtractionFailure):
        if not rules.lost_body(page):
            return page
        if current is not None:  # prepared without it (the backfill's worker process)
            page = _extract(ctx, result, current.template)
        if isinstance(page, ExtractionFailure):
            learned = _learn_from(ctx, rules, claim, result, page)
            if isinstance(learned, ExtractionFailure):
                _count_lost_body(ctx.engine)
            return learned
    if current is None and not view.unlearned:
        return page
    if rules.has_own_body(result.body):
        _theme_seen(ctx, page.url)
        return page
    if current is None:
        return page
    if claim.fingerprint is None or fingerprint(page) == claim.fingerprint:
        return page
    return _refined(ctx, rules, claim, result, page, current)


def _extract(ctx: Context, result: FetchResult, template: Template) -> Page | ExtractionFailure:
    from monitor.check import refuse_garbled  # check imports this module

    site, scraper = ctx.settings.site_url, ctx.settings.scraper
    page = scraper.extract(result.body, result.final_url, site, result.encoding, template)
    return refuse_garbled(page, result.body)


def _stored(engine: Engine, rules: Redesign, claim: Claim, body: bytes) -> Stored | None:
    """The article's latest stored text; for an article never stored, the text the page
    declares (cphpost: JSON-LD ``articleBody``)."""
    if claim.current_version_id is None:
        return rules.declared_text(body)
    with Session(engine) as db:
        version = db.get(Version, claim.current_version_id)
    return Stored.of(Page.from_dict(version.data)) if version is not None else None


def _learn_from(
    ctx: Context, rules: Redesign, claim: Claim, result: FetchResult, failure: ExtractionFailure
) -> Page | ExtractionFailure:
    """Offer a page without a body container as evidence; on confirmation, activate."""
    stored = _stored(ctx.engine, rules, claim, result.body)
    if stored is None:
        return failure
    evidence = Evidence(result.final_url, result.body, stored, ctx.settings.site_url)
    site = ctx.settings.scraper
    proposed = learn(site, evidence)
    if proposed is None:
        _note_failure(ctx, claim.url)
        return failure
    learner = _LEARNERS.setdefault(str(ctx.engine.url), _Learner())
    group = learner.by_body.setdefault(proposed.template.body, {})
    group.pop(evidence.url, None)
    group[evidence.url] = evidence
    while len(group) > EVIDENCE_KEPT:
        group.pop(next(iter(group)))
    confirmed = confirm(site, list(group.values())) if len(group) >= CONFIRMATIONS else None
    if confirmed is None:
        _note_failure(ctx, claim.url)
        return failure
    learner.by_body.clear()
    _activate(ctx, confirmed.template, confirmed.urls)
    return _extract(ctx, result, confirmed.template)


def _refined(
    ctx: Context,
    rules: Redesign,
    claim: Claim,
    result: FetchResult,
    page: Page,
    current: ActiveTemplate,
) -> Page:
    """A known article that extracts differently under the template: furniture the template
    has not seen yet (then the refined template, stored), or a real edit (the page as is)."""
    stored = _stored(ctx.engine, rules, claim, result.body)
    if stored is None:
        return page
    evidence = Evidence(result.final_url, result.body, stored, ctx.settings.site_url)
    better = refine(ctx.settings.scraper, evidence, current.template)
    if better is None:
        return page
    with session(ctx.engine) as db:
        _lock(db)
        row = db.get(PageTemplate, current.id)
        if row is None or not row.active:
            return page
        row.exclude = sorted({*row.exclude, *better.exclude})
        db.add(row)
    _CACHE.pop(str(ctx.engine.url), None)
    log.info("page template refined on %s: %s", claim.url, better.describe())
    refined = _extract(ctx, result, Template(better.body, tuple(sorted(row.exclude))))
    return refined if isinstance(refined, Page) else page


# --- state and alerts ---------------------------------------------------------------------


def lost_body_pages(db: Session) -> int:
    """How many fetched pages failed for want of a body container, so far: site health takes
    the failures this count explains as this module's (one alert per redesign, not two)."""
    row = db.get(State, LOST_KEY)
    return int(row.value.get("pages", 0)) if row is not None else 0


def _count_lost_body(engine: Engine) -> None:
    with session(engine) as db:
        db.execute(
            dialect_insert(engine, State)
            .values(key=LOST_KEY, value={})
            .on_conflict_do_nothing(index_elements=["key"])
        )
        row = db.exec(select(State).where(col(State.key) == LOST_KEY).with_for_update()).one()
        row.value = {"pages": int(row.value.get("pages", 0)) + 1}
        db.add(row)


def _lock(db: Session) -> State:
    """The incident state row, locked (several workers learn at once)."""
    if db.get(State, STATE_KEY) is None:
        try:
            with db.begin_nested():
                db.add(State(key=STATE_KEY, value={}))
        except IntegrityError:
            pass  # another worker inserted it first
    return db.exec(select(State).where(col(State.key) == STATE_KEY).with_for_update()).one()


def _note_failure(ctx: Context, url: str) -> None:
    """Count a known article that no template explains; past :data:`UNLEARNED_AFTER`, one
    alert saying nothing could be learned (the scraper needs a person)."""
    with session(ctx.engine) as db:
        row = _lock(db)
        value = dict(row.value)
        failing = sorted({*value.get("unlearned", []), url})
        value["unlearned"] = failing
        if len(failing) >= UNLEARNED_AFTER and not value.get("unlearned_alerted"):
            value["unlearned_alerted"] = True
            value["incident"] = value.get("incident") or utcnow().isoformat()
            _announce(
                ctx,
                db,
                TemplateAlert.UNLEARNED,
                f"cphpost-monitor: {ctx.settings.site_url} changed its page template; "
                "nothing could be learned",
                f"no article body on {len(failing)} known articles, and no element holds "
                f"their stored text (e.g. {failing[0]})",
                f"{TemplateAlert.UNLEARNED}:{value['incident']}",
            )
        row.value = value
        db.add(row)
    _CACHE.pop(str(ctx.engine.url), None)


def _activate(ctx: Context, template: Template, urls: Sequence[str]) -> None:
    """Store ``template`` as the active one (retiring any other) and announce it once."""
    now = utcnow()
    with session(ctx.engine) as db:
        row = _lock(db)
        current = db.exec(select(PageTemplate).where(col(PageTemplate.active))).all()
        if any(
            (tuple(t.body), tuple(t.exclude)) == (template.body, template.exclude) for t in current
        ):
            return  # another worker stored the same one meanwhile
        for old in current:
            old.active, old.retired_at = False, now
            db.add(old)
        learned = PageTemplate(
            body=list(template.body),
            exclude=list(template.exclude),
            learned_at=now,
            articles=list(urls),
            active=True,
        )
        db.add(learned)
        db.flush()
        detail = f"{template.describe()}, learned from {len(urls)} articles"
        _announce(
            ctx,
            db,
            TemplateAlert.LEARNED,
            f"cphpost-monitor: {ctx.settings.site_url} changed its page template",
            detail,
            f"{TemplateAlert.LEARNED}:{learned.id}",
        )
        row.value = {}
        db.add(row)
    _CACHE.pop(str(ctx.engine.url), None)
    log.warning("page template changed: %s", detail)


def _theme_seen(ctx: Context, url: str) -> None:
    """A page with the theme's own body container while a learned template is active; on
    :data:`CONFIRMATIONS` different articles, the learned template is retired."""
    with session(ctx.engine) as db:
        row = _lock(db)
        value = dict(row.value)
        seen = sorted({*value.get("theme_seen", []), url})
        value["theme_seen"] = seen
        current = db.exec(select(PageTemplate).where(col(PageTemplate.active))).all()
        if len(seen) >= CONFIRMATIONS and (current or value.get("unlearned_alerted")):
            now = utcnow()
            for old in current:
                old.active, old.retired_at = False, now
                db.add(old)
            retired = (
                f"; the learned template ({', '.join(current[0].body)}) is retired"
                if current
                else ""
            )
            _announce(
                ctx,
                db,
                TemplateAlert.RECOVERED,
                f"cphpost-monitor: {ctx.settings.site_url} is back on its own page template",
                f"the theme's body container is back on {len(seen)} articles{retired}",
                f"{TemplateAlert.RECOVERED}:"
                + (str(current[0].id) if current else str(value.get("incident"))),
            )
            value = {}
            log.warning("page template: the theme's own is back%s", retired)
        row.value = value
        db.add(row)
    _CACHE.pop(str(ctx.engine.url), None)


def _announce(
    ctx: Context, db: Session, kind: TemplateAlert, title: str, detail: str, key: str
) -> None:
    payload: dict[str, Any] = build_payload(
        kind=str(kind),
        url=ctx.settings.site_url,
        title=title,
        section="operations",
        published=None,
        topics=[],
        evidence="",
        changes=[],
        diff_html=None,
        change_kinds=[],
        detail=detail,
    )
    enqueue(
        db,
        ctx.targets,
        kind=str(kind),
        dedupe_key=key,
        payload=payload,
        topics=[],
        article_id=None,
        change_id=None,
        now=utcnow(),
        ops_tag=ctx.settings.ops_tag,
    )
