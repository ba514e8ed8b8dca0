"""Group commit: the backfill records several checks in one transaction, and every check comes
out as if recorded alone, right after the one before it; a failing check loses no other."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import col, select

import monitor.backfill.writer as writer_module
import monitor.check
from monitor.alerts.targets import load_targets
from monitor.backfill import Timings
from monitor.backfill.writer import Item, Writer, record_batch
from monitor.check import Report, prepare, record
from monitor.classify import load_rules
from monitor.db import make_engine, session
from monitor.fetch import Fetcher, FetchResult
from monitor.models import Alert, Article, Change, Delivery, FetchLog, UrlAlias, Version
from monitor.runtime import Context
from monitor.settings import load_settings
from monitor.store import Claim, add_candidates, claim_due
from scrapers.article import Article as Page
from scrapers.article import Candidate
from tests.backfill.conftest import migrate, run
from tests.dbs import pg_schema_url, sqlite_url
from tests.support.replay import ReplaySite

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "cphpost"
SITE = "https://cphpost.dk"
REPATRIATIONS = f"{SITE}/2015-05-21/news/denmark-oversaw-600-forced-repatriations-last-year/"
REJECTED = (
    f"{SITE}/2023-05-22/news/"
    "number-of-rejected-asylum-seekers-earmarked-for-deportation-halved-in-two-years/"
)
REJECTED_NEW_SLUG = f"{SITE}/2023-05-22/news/rejected-asylum-seekers-halved/"
OTHER = f"{SITE}/2012-07-03/news/fewer-than-2000-roskilde-tickets-left/"
GONE = f"{SITE}/2013-04-22/news/growth-bill-clears-first-hurdle/"
FILES = {
    REJECTED: "articles/2023-05-22-number-of-rejected-asylum-seekers-earmarked-for-deportation-"
    ".html",
    REPATRIATIONS: "articles/2015-05-21-denmark-oversaw-600-forced-repatriations-last-year.html",
    OTHER: "articles/2012-07-03-fewer-than-2000-roskilde-tickets-left.html",
    GONE: "articles/2013-04-22-growth-bill-clears-first-hurdle.html",
}
CORRECTED = "versions/2023-05-22-rejected-asylum-seekers.corrected.html"
FURNITURE_ONLY = "versions/2015-05-21-forced-repatriations.furniture-only.html"
T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def urls(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two fresh databases: one recorded in batches, one check at a time."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path / "batched"), sqlite_url(tmp_path / "alone")
    else:
        with pg_schema_url() as batched, pg_schema_url() as alone:
            yield batched, alone


def context(url: str, tmp_path: Path, alerts: bool = True) -> Context:
    migrate(url)
    settings = load_settings(
        site_url=SITE,
        data_dir=tmp_path,
        database_url=url,
        notify_urls="json://127.0.0.1:9/hook",
        recheck_schedule="*:1s",
        flipflop_window="7d",
    )
    engine = make_engine(url)
    targets = load_targets(settings)
    return Context(settings, engine, Fetcher(settings), targets, load_rules(), "w", alerts)


def fetched(url: str, relative: str | None, status: int = 200) -> FetchResult:
    if relative is None:
        return FetchResult(url, url, status=status, error=None if status == 404 else "HTTP 503")
    body = (FIXTURES / relative).read_bytes()
    return FetchResult(url, url, status=200, body=body, encoding="utf-8", etag=f'"{relative}"')


def claimed(ctx: Context, urls: list[str], at: datetime) -> dict[str, Claim]:
    with session(ctx.engine) as db:
        add_candidates(db, [Candidate(u, "test") for u in urls], at)
        for article in db.exec(select(Article).where(col(Article.url).in_(urls))):
            article.next_check_at = at
            db.add(article)
    claims = claim_due(ctx.engine, "w", 100, 60, now=at)
    return {c.url: c for c in claims}


def item(ctx: Context, claim: Claim, result: FetchResult, at: datetime) -> Item:
    prepared = (
        prepare(result, SITE, ctx.rules, claim.fingerprint, scraper=ctx.settings.scraper)
        if result.ok
        else None
    )
    return (claim, result, prepared, at)


Step = list[tuple[str, str | None, int]]  # (url, fixture or None, status)


def play(ctx: Context, steps: list[Step], batched: bool) -> list[str]:
    """Each step claims its URLs and records their fetches: together, or one at a time."""
    outcomes: list[str] = []
    for n, step in enumerate(steps):
        at = T0 + timedelta(hours=n)
        claims = claimed(ctx, [url for url, _rel, _status in step], at)
        items = [item(ctx, claims[url], fetched(url, rel, status), at) for url, rel, status in step]
        reports = record_batch(ctx, items) if batched else [record(ctx, *it) for it in items]
        outcomes += [r.outcome for r in reports]
    return outcomes


def state(engine: Engine) -> dict[str, Any]:
    """The stored outcome, by natural keys (ids may differ between two databases)."""
    with session(engine) as db:
        articles = {a.id: a for a in db.exec(select(Article))}
        versions = {v.id: v for v in db.exec(select(Version))}

        def seq(version_id: int | None) -> int | None:
            return versions[version_id].seq if version_id in versions else None

        return {
            "articles": _sorted(
                (
                    a.url,
                    a.status,
                    a.post_id,
                    a.relevant,
                    a.topics,
                    a.version_count,
                    seq(a.current_version_id),
                    seq(a.pending_version_id),
                    a.etag,
                    a.lease_owner,
                    a.fail_count,
                    a.missing_since,
                    a.last_checked,
                    a.next_check_at is not None,  # the time itself has a random jitter
                )
                for a in articles.values()
            ),
            "versions": _sorted(
                (articles[v.article_id].url, v.seq, v.fingerprint, v.relevant, v.classification)
                for v in versions.values()
            ),
            "changes": _sorted(
                (
                    articles[c.article_id].url,
                    seq(c.from_version_id),
                    seq(c.to_version_id),
                    c.kinds,
                    c.significance,
                    c.held,
                )
                for c in db.exec(select(Change))
            ),
            "alerts": _sorted((a.kind, a.topics) for a in db.exec(select(Alert))),
            "deliveries": len(db.exec(select(Delivery)).all()),
            "aliases": _sorted(
                (u.url, articles[u.article_id].url) for u in db.exec(select(UrlAlias))
            ),
            "log": _sorted((f.url, f.outcome, f.status) for f in db.exec(select(FetchLog))),
        }


def _sorted(rows: Any) -> list[Any]:
    return sorted(rows, key=repr)  # rows hold None where others hold numbers


SCENARIOS: dict[str, list[Step]] = {
    "new articles": [
        [(REJECTED, FILES[REJECTED], 200), (REPATRIATIONS, FILES[REPATRIATIONS], 200)]
    ],
    "edits, failures and deletions": [
        [(u, FILES[u], 200) for u in (REJECTED, REPATRIATIONS, OTHER, GONE)],
        [
            (REJECTED, CORRECTED, 200),
            (REPATRIATIONS, FURNITURE_ONLY, 200),
            (OTHER, None, 503),
            (GONE, None, 404),
        ],
        [(REJECTED, FILES[REJECTED], 200), (GONE, None, 404), (OTHER, FILES[OTHER], 200)],
    ],
    "one story at two urls in one batch": [
        [(REJECTED_NEW_SLUG, FILES[REJECTED], 200), (REJECTED, FILES[REJECTED], 200)],
    ],
    "a new url of a stored story, then the story": [
        [(REJECTED, FILES[REJECTED], 200)],
        [
            (REJECTED_NEW_SLUG, CORRECTED, 200),
            (REJECTED, CORRECTED, 200),
            (OTHER, FILES[OTHER], 200),
        ],
    ],
    "a stored story, then a new url of it": [
        [(REJECTED, FILES[REJECTED], 200)],
        [(REJECTED, CORRECTED, 200), (REJECTED_NEW_SLUG, CORRECTED, 200)],
    ],
}


@pytest.mark.parametrize("alerts", [False, True], ids=["backfill", "alerts"])
@pytest.mark.parametrize("name", SCENARIOS)
def test_a_batch_stores_what_the_checks_store_one_at_a_time(
    name: str, alerts: bool, urls: tuple[str, str], tmp_path: Path
) -> None:
    """Without alerts (the backfill's default) nothing flushes between the checks of a batch."""
    results = []
    for url, batched in zip(urls, (True, False), strict=True):
        ctx = context(url, tmp_path, alerts)
        try:
            outcomes = play(ctx, SCENARIOS[name], batched)
            results.append((outcomes, state(ctx.engine)))
        finally:
            ctx.engine.dispose()
    assert results[0] == results[1]
    assert results[0][1]["versions"]


def test_a_check_whose_lease_was_taken_is_lease_lost_and_the_others_are_stored(
    tmp_path: Path,
) -> None:
    ctx = context(sqlite_url(tmp_path), tmp_path)
    claims = claimed(ctx, [REJECTED, REPATRIATIONS], T0)
    with session(ctx.engine) as db:
        taken = db.exec(select(Article).where(Article.url == REJECTED)).one()
        taken.lease_owner = "daemon"
        db.add(taken)
    items = [item(ctx, claims[u], fetched(u, FILES[u]), T0) for u in (REJECTED, REPATRIATIONS)]
    reports = record_batch(ctx, items)
    assert [r.outcome for r in reports] == ["lease_lost", "new"]
    assert [a.url for a in state_articles(ctx.engine) if a.version_count] == [REPATRIATIONS]
    ctx.engine.dispose()


def state_articles(engine: Engine) -> list[Article]:
    with session(engine) as db:
        return list(db.exec(select(Article).order_by(col(Article.url))))


def test_a_failing_check_is_recorded_alone_and_loses_no_other(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = context(sqlite_url(tmp_path), tmp_path)
    urls = [REJECTED, REPATRIATIONS, OTHER]
    claims = claimed(ctx, urls, T0)
    items = [item(ctx, claims[u], fetched(u, FILES[u]), T0) for u in urls]
    enqueue = monitor.check.enqueue

    def failing(db: Any, targets: Any, **kwargs: Any) -> Any:
        if kwargs["payload"]["url"] == REJECTED:
            raise RuntimeError("power cut")
        return enqueue(db, targets, **kwargs)

    monkeypatch.setattr(monitor.check, "enqueue", failing)

    async def main() -> list[Report | BaseException]:
        writer = Writer(ctx, busy=lambda: len(items))
        answers = [asyncio.get_running_loop().create_future() for _ in items]
        writer.write(list(zip(items, answers, strict=True)))
        return list(await asyncio.gather(*answers, return_exceptions=True))

    got = asyncio.run(main())
    assert isinstance(got[0], RuntimeError)
    assert [r.outcome for r in got[1:] if isinstance(r, Report)] == ["new", "new"]
    stored = {a.url: (a.version_count, a.lease_owner) for a in state_articles(ctx.engine)}
    assert stored == {REJECTED: (0, "w"), REPATRIATIONS: (1, None), OTHER: (1, None)}
    with session(ctx.engine) as db:
        assert len(db.exec(select(Version)).all()) == len(db.exec(select(Change)).all()) == 2
        assert len(db.exec(select(FetchLog)).all()) == 2  # the failed check is retried later
    ctx.engine.dispose()


def test_a_backfill_stores_in_batches_what_it_stores_one_check_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stored = []
    with ReplaySite.synthetic(60, sitemap_size=25) as site:
        for name, batch in (("batched", writer_module.WRITE_BATCH), ("alone", 1)):
            monkeypatch.setattr(writer_module, "WRITE_BATCH", batch)
            url = sqlite_url(tmp_path / name)
            settings = load_settings(
                site_url=site.origin, data_dir=tmp_path / name, database_url=url, rate_limit=0
            )
            migrate(url)
            engine = make_engine(url)
            try:
                timings = Timings()  # counts the checks of each transaction
                counts = run(settings, engine, workers=0, timings=timings)
                assert (counts.fetched, counts.failed) == (60, 0)
                stored.append(state(engine))
            finally:
                engine.dispose()
            if name == "batched":
                assert max(timings.batches) > 1  # checks did share transactions
    assert stored[0]["articles"] and stored[0]["versions"]
    for key in ("versions", "changes", "alerts", "aliases"):
        assert stored[0][key] == stored[1][key]
    assert [a[:8] for a in stored[0]["articles"]] == [a[:8] for a in stored[1]["articles"]]


def test_a_lone_check_goes_through_the_writer_to_record(tmp_path: Path) -> None:
    """A batch of one is recorded by record() itself, as in the daemon."""
    ctx = context(sqlite_url(tmp_path), tmp_path)
    claims = claimed(ctx, [REJECTED], T0)
    result = fetched(REJECTED, FILES[REJECTED])
    prepared = prepare(result, SITE, ctx.rules, None, scraper=ctx.settings.scraper)
    assert isinstance(prepared.page, Page)

    async def main() -> Report:
        writer = Writer(ctx, busy=lambda: 1)
        running = asyncio.create_task(writer.run())
        try:
            return await writer((claims[REJECTED], result, prepared, T0))
        finally:
            running.cancel()

    assert asyncio.run(main()).outcome == "new"
    ctx.engine.dispose()
