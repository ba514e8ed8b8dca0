"""Recording a fetch: versions only on content change, changes with their diff, the outbox.

These run the real write path (``monitor.check.record``) on SQLite and PostgreSQL with pages
extracted from the recorded fixtures, without HTTP.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from monitor.alerts.targets import load_targets
from monitor.check import Prepared, alert_kind, record
from monitor.classify import load_rules
from monitor.db import session
from monitor.diff import diff_articles
from monitor.fetch import Fetcher, FetchResult
from monitor.models import Alert, Article, ArticleStatus, Change, Delivery, Version
from monitor.runtime import Context
from monitor.settings import load_settings
from monitor.store import add_candidates, claim_due, find_article
from scrapers.article import Article as Page
from scrapers.article import Candidate
from scrapers.cphpost import extract

FIXTURES = Path(__file__).parents[1] / "fixtures" / "cphpost"
SITE = "https://cphpost.dk"
REPATRIATIONS = f"{SITE}/2015-05-21/news/denmark-oversaw-600-forced-repatriations-last-year/"
REJECTED = (
    f"{SITE}/2023-05-22/news/"
    "number-of-rejected-asylum-seekers-earmarked-for-deportation-halved-in-two-years/"
)
T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def page(relative: str, url: str) -> Page:
    result = extract((FIXTURES / relative).read_bytes(), url, SITE)
    assert isinstance(result, Page), result
    return result


ORIGINAL = {
    REPATRIATIONS: "articles/2015-05-21-denmark-oversaw-600-forced-repatriations-last-year.html",
    REJECTED: "articles/2023-05-22-number-of-rejected-asylum-seekers-earmarked-for-deportation-"
    ".html",
}
FURNITURE_ONLY = "versions/2015-05-21-forced-repatriations.furniture-only.html"
CORRECTED = "versions/2023-05-22-rejected-asylum-seekers.corrected.html"


@pytest.fixture
def ctx(engine: Engine, tmp_path: Path) -> Iterator[Context]:
    settings = load_settings(
        site_url=SITE,
        data_dir=tmp_path,
        notify_urls="json://127.0.0.1:9/hook",
        recheck_schedule="*:1s",
        flipflop_window="7d",
    )
    yield Context(settings, engine, Fetcher(settings), load_targets(settings), load_rules(), "w")


def fetch(
    ctx: Context, url: str, result: FetchResult | None, got: Page | None, at: datetime
) -> str:
    with session(ctx.engine) as db:
        add_candidates(db, [Candidate(url, "test")], at)
        article = find_article(db, url)
        assert article is not None
        article.next_check_at = at
        db.add(article)
    (claim,) = claim_due(ctx.engine, "w", 1, 60, now=at)
    result = result or FetchResult(url, url, status=200, etag='"e"')
    return record(ctx, claim, result, Prepared(got) if got is not None else None, at).outcome


def ok(ctx: Context, url: str, relative: str, at: datetime) -> str:
    return fetch(ctx, url, None, page(relative, url), at)


def rows(engine: Engine, model: type) -> list:  # type: ignore[type-arg]
    with session(engine) as db:
        return list(db.exec(select(model)))


def test_the_first_fetch_stores_version_one_and_alerts_a_relevant_article(ctx: Context) -> None:
    assert ok(ctx, REJECTED, ORIGINAL[REJECTED], T0) == "new"
    (version,) = rows(ctx.engine, Version)
    (alert,) = rows(ctx.engine, Alert)
    assert (version.seq, version.relevant, alert.kind) == (1, True, "new")
    assert rows(ctx.engine, Delivery) == []  # targets are resolved at delivery (fan_out)


def test_the_first_fetch_schedules_the_next_by_the_published_date(
    engine: Engine, tmp_path: Path
) -> None:
    """An article published in 2015 and fetched for the first time (a backfill) is old: its
    next check follows the schedule's last step, not the first one of a fresh article."""
    settings = load_settings(
        site_url=SITE, data_dir=tmp_path, recheck_schedule="3h:15m,30d:1d,*:7d"
    )
    ctx = Context(settings, engine, Fetcher(settings), [], load_rules(), "w")
    assert ok(ctx, REPATRIATIONS, ORIGINAL[REPATRIATIONS], T0) == "new"
    (article,) = rows(engine, Article)
    assert article.published is not None and article.published.year == 2015
    assert article.next_check_at - T0 >= timedelta(days=7 * 0.9)


def test_a_furniture_only_rerecording_stores_no_version_and_alerts_nothing(ctx: Context) -> None:
    ok(ctx, REPATRIATIONS, ORIGINAL[REPATRIATIONS], T0)
    outcome = ok(ctx, REPATRIATIONS, FURNITURE_ONLY, T0 + timedelta(days=365))
    assert outcome == "unchanged"
    assert len(rows(ctx.engine, Version)) == 1
    assert [a.kind for a in rows(ctx.engine, Alert)] == ["new"]


def test_the_corrected_recording_is_a_substantive_headline_and_body_change(ctx: Context) -> None:
    ok(ctx, REJECTED, ORIGINAL[REJECTED], T0)
    assert ok(ctx, REJECTED, CORRECTED, T0 + timedelta(hours=2)) == "changed"
    changes = rows(ctx.engine, Change)
    assert [(c.kinds, c.significance) for c in changes] == [
        (["new"], 3),
        (["headline", "body", "correction"], 3),
    ]
    details = [item["detail"] for item in changes[1].diff["changes"]]
    assert "number changed: 550 → 548" in details
    assert [a.kind for a in rows(ctx.engine, Alert)] == ["new", "changed"]
    assert [v.seq for v in rows(ctx.engine, Version)] == [1, 2]


def test_a_transient_failure_stores_nothing_and_counts_the_failure(ctx: Context) -> None:
    ok(ctx, REJECTED, ORIGINAL[REJECTED], T0)
    failed = FetchResult(REJECTED, REJECTED, status=503, error="HTTP 503")
    assert fetch(ctx, REJECTED, failed, None, T0 + timedelta(hours=1)) == "transient"
    (article,) = rows(ctx.engine, Article)
    assert (article.fail_count, article.status, article.last_error) == (1, "live", "HTTP 503")
    assert len(rows(ctx.engine, Version)) == 1


def test_a_404_marks_the_article_gone_only_when_a_second_fetch_confirms_it(ctx: Context) -> None:
    ok(ctx, REJECTED, ORIGINAL[REJECTED], T0)
    missing = FetchResult(REJECTED, REJECTED, status=404)
    assert fetch(ctx, REJECTED, missing, None, T0 + timedelta(hours=1)) == "missing"
    assert rows(ctx.engine, Article)[0].status == ArticleStatus.LIVE
    assert fetch(ctx, REJECTED, missing, None, T0 + timedelta(hours=2)) == "deleted"
    assert rows(ctx.engine, Article)[0].status == ArticleStatus.GONE
    assert [a.kind for a in rows(ctx.engine, Alert)] == ["new", "deleted"]
    assert ok(ctx, REJECTED, ORIGINAL[REJECTED], T0 + timedelta(hours=3)) == "restored"
    assert [a.kind for a in rows(ctx.engine, Alert)] == ["new", "deleted", "restored"]


def test_a_404_followed_by_the_page_again_is_not_a_deletion(ctx: Context) -> None:
    ok(ctx, REJECTED, ORIGINAL[REJECTED], T0)
    missing = FetchResult(REJECTED, REJECTED, status=404)
    fetch(ctx, REJECTED, missing, None, T0 + timedelta(hours=1))
    assert ok(ctx, REJECTED, ORIGINAL[REJECTED], T0 + timedelta(hours=2)) == "unchanged"
    assert [a.kind for a in rows(ctx.engine, Alert)] == ["new"]


def test_a_crash_inside_the_write_leaves_no_version_without_its_change_or_alert(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    import monitor.check

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("power cut")

    monkeypatch.setattr(monitor.check, "enqueue", crash)
    with pytest.raises(RuntimeError):
        ok(ctx, REJECTED, ORIGINAL[REJECTED], T0)
    assert rows(ctx.engine, Version) == rows(ctx.engine, Change) == rows(ctx.engine, Alert) == []
    (article,) = rows(ctx.engine, Article)
    assert (article.version_count, article.lease_owner) == (0, "w")  # the lease just expires


def test_flipping_back_to_a_recent_version_is_held_until_it_holds(ctx: Context) -> None:
    ok(ctx, REJECTED, ORIGINAL[REJECTED], T0)
    ok(ctx, REJECTED, CORRECTED, T0 + timedelta(hours=1))
    assert ok(ctx, REJECTED, ORIGINAL[REJECTED], T0 + timedelta(hours=2)) == "reversion_held"
    assert ok(ctx, REJECTED, CORRECTED, T0 + timedelta(hours=3)) == "reversion_dropped"
    assert [a.kind for a in rows(ctx.engine, Alert)] == ["new", "changed"]
    assert ok(ctx, REJECTED, ORIGINAL[REJECTED], T0 + timedelta(hours=4)) == "reversion_held"
    assert ok(ctx, REJECTED, ORIGINAL[REJECTED], T0 + timedelta(hours=5)) == "changed"
    assert [a.kind for a in rows(ctx.engine, Alert)] == ["new", "changed", "changed"]


def test_cosmetic_and_minor_edits_are_stored_but_not_alerted() -> None:
    original = page(ORIGINAL[REJECTED], REJECTED)
    from dataclasses import replace

    quotes = replace(original, paragraphs=tuple(p.replace("’", "'") for p in original.paragraphs))
    diff = diff_articles(original, quotes)
    assert not diff.is_empty
    assert alert_kind(is_new=False, was_relevant=True, relevant=True, diff=diff) is None


def test_an_edit_that_makes_an_article_relevant_alerts_relevance_gained() -> None:
    original = page(ORIGINAL[REJECTED], REJECTED)
    diff = diff_articles(original, original)
    assert alert_kind(is_new=False, was_relevant=False, relevant=True, diff=diff) == (
        "relevance_gained"
    )
