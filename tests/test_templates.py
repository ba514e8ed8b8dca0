"""Through a redesign with the real check path (``monitor.check.check``) against the replay site.

In-process, on SQLite and PostgreSQL: every recorded article is stored, the site switches
theme, and the monitor learns the new template from its own versions, refines it, alerts once,
and retires it when the theme comes back. tests/e2e/test_redesign.py runs it with the daemon.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from monitor.alerts.targets import load_targets
from monitor.check import Context, Report, check
from monitor.classify import load_rules
from monitor.db import make_engine, session, upgrade
from monitor.fetch import Fetcher
from monitor.models import Alert, PageTemplate, Version
from monitor.settings import load_settings
from monitor.status import THEME_TEMPLATE, read_status
from monitor.store import add_candidates, claim_due
from monitor.templates import TemplateAlert, load_active
from scrapers.article import Candidate
from tests.dbs import pg_schema_url, sqlite_url
from tests.support.redesign import variants
from tests.support.replay import ReplaySite

T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """SQLite always; PostgreSQL too where one is reachable (the state row is locked there)."""
    with contextlib.ExitStack() as stack:
        url = (
            sqlite_url(tmp_path)
            if request.param == "sqlite"
            else stack.enter_context(pg_schema_url())
        )
        upgrade(url)
        engine = make_engine(url)
        yield engine
        engine.dispose()


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """One event loop for the test: the fetcher's connection pool lives in it."""
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture
def ctx(
    engine: Engine, replay_site: ReplaySite, tmp_path: Path, loop: asyncio.AbstractEventLoop
) -> Iterator[Context]:
    settings = load_settings(
        site_url=replay_site.origin,
        data_dir=tmp_path,
        rate_limit=0,
        recheck_schedule="*:1s",
    )
    fetcher = Fetcher(settings)
    yield Context(settings, engine, fetcher, load_targets(settings), load_rules(), "w")
    loop.run_until_complete(fetcher.aclose())


class Rounds:
    """Check every tracked article once per round, in a fixed order, an hour apart."""

    def __init__(self, ctx: Context, site: ReplaySite, loop: asyncio.AbstractEventLoop) -> None:
        self.ctx, self.site, self.loop, self.at = ctx, site, loop, T0
        urls = [site.url(path) for path in site.paths("article")]
        with session(ctx.engine) as db:
            add_candidates(db, [Candidate(url, "test") for url in urls], T0)

    def run(self) -> list[Report]:
        self.at += timedelta(hours=1)
        claims = claim_due(self.ctx.engine, "w", 1000, 600, now=self.at)
        claims.sort(key=lambda claim: claim.url)

        async def all_of_them() -> list[Report]:
            return [await check(self.ctx, claim, self.at) for claim in claims]

        return self.loop.run_until_complete(all_of_them())


def outcomes(reports: list[Report]) -> dict[str, int]:
    """Outcomes counted; a 304 is "unchanged" too (the page did not change since)."""
    counts: dict[str, int] = {}
    for report in reports:
        outcome = "unchanged" if report.outcome == "not_modified" else report.outcome
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


def kinds(engine: Engine) -> list[str]:
    with session(engine) as db:
        return [a.kind for a in db.exec(select(Alert).order_by(Alert.id))]


def ops(engine: Engine) -> list[Alert]:
    with session(engine) as db:
        return [a for a in db.exec(select(Alert).order_by(Alert.id)) if a.kind.startswith("ops")]


def version_count(engine: Engine) -> int:
    with session(engine) as db:
        return len(db.exec(select(Version)).all())


@pytest.mark.parametrize("variant", ["renamed", "nested", "split", "moved"])
def test_a_redesign_is_learned_from_stored_articles_without_a_version_or_false_alert(
    ctx: Context, replay_site: ReplaySite, loop: asyncio.AbstractEventLoop, variant: str
) -> None:
    rounds = Rounds(ctx, replay_site, loop)
    first = rounds.run()
    assert outcomes(first) == {"new": 33}
    stored, alerted = version_count(ctx.engine), kinds(ctx.engine)
    transform: Callable[[str], str] = getattr(variants(), f"variant_{variant}")
    replay_site.redesign(transform)
    during = rounds.run()
    # The first two pages are evidence only; the third confirms; the rest extract through it.
    assert outcomes(during) == {"extraction_failed": 2, "unchanged": 31}
    assert outcomes(rounds.run()) == {"unchanged": 33}
    assert version_count(ctx.engine) == stored
    (learned,) = ops(ctx.engine)
    assert kinds(ctx.engine) == [*alerted, TemplateAlert.LEARNED]
    assert learned.payload["detail"].startswith("body in `")
    assert learned.payload["detail"].endswith("learned from 3 articles")
    current = load_active(ctx.engine)
    assert current is not None and len(current.articles) == 3
    assert "story-paywall" in " ".join(current.template.exclude)  # refined on a premium page
    assert read_status(ctx.engine, ctx.settings).template == f"learned: {current.describe()}"


def test_switching_back_retires_the_template_with_one_recovered_alert(
    ctx: Context, replay_site: ReplaySite, loop: asyncio.AbstractEventLoop
) -> None:
    rounds = Rounds(ctx, replay_site, loop)
    rounds.run()
    replay_site.redesign(variants().variant_renamed)
    rounds.run()
    rounds.run()
    replay_site.redesign(None)
    assert outcomes(rounds.run()) == {"unchanged": 33}
    assert load_active(ctx.engine) is None
    assert [a.kind for a in ops(ctx.engine)] == [TemplateAlert.LEARNED, TemplateAlert.RECOVERED]
    assert outcomes(rounds.run()) == {"unchanged": 33}
    assert len(ops(ctx.engine)) == 2
    with session(ctx.engine) as db:
        (row,) = db.exec(select(PageTemplate)).all()
    assert not row.active and row.retired_at is not None
    assert read_status(ctx.engine, ctx.settings).template == THEME_TEMPLATE


def test_a_second_redesign_is_learned_and_announced_again(
    ctx: Context, replay_site: ReplaySite, loop: asyncio.AbstractEventLoop
) -> None:
    rounds = Rounds(ctx, replay_site, loop)
    rounds.run()
    replay_site.redesign(variants().variant_renamed)
    rounds.run()
    first = load_active(ctx.engine)
    replay_site.redesign(variants().variant_nested)
    assert outcomes(rounds.run()) == {"extraction_failed": 2, "unchanged": 31}
    second = load_active(ctx.engine)
    assert first is not None and second is not None
    assert (first.template.body, second.template.body) == (
        ("div.story-body",),
        ("div.article-text",),
    )
    assert [a.kind for a in ops(ctx.engine)] == [TemplateAlert.LEARNED, TemplateAlert.LEARNED]
    assert version_count(ctx.engine) == 33


def test_edits_and_a_new_article_under_the_learned_template_alert_once_each(
    ctx: Context, replay_site: ReplaySite, loop: asyncio.AbstractEventLoop
) -> None:
    rounds = Rounds(ctx, replay_site, loop)
    rounds.run()
    replay_site.redesign(variants().variant_moved)
    rounds.run()
    (path,) = [p for p in replay_site.paths("article") if "rejected-asylum-seekers" in p]
    replay_site.edit(path, lambda text: text.replace("550 rejected", "548 rejected"))
    spec = replay_site.add_article(
        "deportation-figures-revised",
        "Deportation figures revised",
        ["The ministry revised its deportation figures on Friday.", "Asylum groups welcomed it."],
        tags=["asylum"],
    )
    with session(ctx.engine) as db:
        add_candidates(db, [Candidate(replay_site.url(spec.path), "test")], rounds.at)
    before = kinds(ctx.engine)
    reports = {r.url: r for r in rounds.run()}
    assert reports[replay_site.url(path)].outcome == "changed"
    assert reports[replay_site.url(spec.path)].outcome == "new"
    assert kinds(ctx.engine)[len(before) :] == ["changed", "new"]
    assert outcomes(rounds.run()) == {"unchanged": 34}


def test_an_unlearnable_redesign_says_so_once_and_its_end_once(
    ctx: Context, replay_site: ReplaySite, loop: asyncio.AbstractEventLoop
) -> None:
    rounds = Rounds(ctx, replay_site, loop)
    rounds.run()
    # Every paragraph rewritten as a bare <div>: no block holds the stored text any more.
    replay_site.redesign(lambda page: variants().variant_renamed(page).replace("<p>", "<div>"))
    assert outcomes(rounds.run()) == {"extraction_failed": 33}
    assert outcomes(rounds.run()) == {"extraction_failed": 33}
    (alert,) = ops(ctx.engine)
    assert alert.kind == TemplateAlert.UNLEARNED
    assert "nothing could be learned" in alert.payload["title"]
    assert load_active(ctx.engine) is None
    replay_site.redesign(None)
    assert outcomes(rounds.run()) == {"unchanged": 33}
    assert outcomes(rounds.run()) == {"unchanged": 33}
    assert [a.kind for a in ops(ctx.engine)] == [TemplateAlert.UNLEARNED, TemplateAlert.RECOVERED]
