"""Edits while the daemon runs: exactly the right alerts, once each, within a poll interval.

One running daemon watches the recorded site; every kind of edit is applied to its own article
at the same moment (the deleted article is restored once its deletion was alerted). Each edit
kind then gets its own verdict: the alert kinds the article earned (none for furniture,
cosmetic and redesign), how often the webhook received them, and how fast.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from tests.e2e.harness import Monitor, more_rounds, wait_until
from tests.e2e.test_faults_common import (
    CORRECTED,
    FURNITURE_ONLY,
    alert_kinds,
    change_kinds,
    fetch_log,
    in_body,
    installation,
    paywalled,
    redesigned,
    utcnow,
    webhook_alert_ids,
)
from tests.support.replay import ReplaySite
from tests.support.sinks import WebhookSink

# Promise: an edit is alerted by the article's next re-check. Counted in requests for the page
# from the edit to the alert's arrival, not in seconds (bench/daemon.py times it): the fetch in
# flight at the edit, the one that finds it, and one more should delivery lag a round behind.
# A deletion takes one more: a 404 is confirmed by a second fetch (delete_confirm_after).
FETCHES = 3
FETCHES_OF = {"deleted": FETCHES + 1}

Edit = Callable[[ReplaySite, str], None]


def _rewrite(transform: Callable[[str], str]) -> Edit:
    return lambda site, path: site.edit(path, transform)


def _first_paragraph(transform: Callable[[str], str]) -> Callable[[str], str]:
    def edit(html: str) -> str:
        new, count = re.subn(
            r'(<div class="entry-content">\n<p>)([^<]*)',
            lambda m: m.group(1) + transform(m.group(2)),
            html,
            count=1,
        )
        assert count == 1
        return new

    return edit


OLD_HEADLINE = "More non-western foreigners finding work"
NEW_HEADLINE = "Employment of non-western immigrants hits record"
NEW_SENTENCE = "Updated figures show the number has since doubled to 400."
CORRECTION = (
    "<p>Correction: an earlier version of this article gave the wrong month for the figures.</p>"
)
MIGRATION_PARAGRAPHS = (
    "<p>The government also wants to tighten asylum rules and speed up the deportation of "
    "rejected asylum seekers, the immigration minister said.</p>\n"
    "<p>Under the plan, rejected asylum seekers would be moved to a deportation centre within "
    "30 days.</p>\n"
)
UKRAINE_HEADLINE = "Huge majority of Danes support sending weapons to Ukraine"
MIGRATION_HEADLINE = "Danes back weapons for Ukraine, and stricter asylum rules"


def _turned_to_migration(html: str) -> str:
    """The story is rewritten to be about asylum: headline and lead (a paragraph added at the
    end is a passing mention, which the classifier rightly does not count as the subject)."""
    html = html.replace(
        UKRAINE_HEADLINE, "Danes back weapons for Ukraine, and stricter asylum rules"
    )
    new, count = re.subn(
        r'(<div class="entry-content">\n)',
        lambda m: m.group(1) + MIGRATION_PARAGRAPHS,
        html,
        count=1,
    )
    assert count == 1, "no .entry-content to edit"
    return new


@dataclass(frozen=True)
class Case:
    path: str
    edit: Edit
    alerts: list[str]  # alert kinds the article earns from the edit, in order
    versions: int  # versions added by the edit
    change: list[str] | None  # kinds of the last change recorded, None: no change at all


CASES: dict[str, Case] = {
    "headline": Case(
        "/2022-10-31/news/more-non-western-foreigners-finding-work/",
        _rewrite(lambda h: h.replace(OLD_HEADLINE, NEW_HEADLINE)),
        ["changed"], 1, ["headline"],
    ),
    "body": Case(
        "/2021-06-25/news/denmark-to-accept-more-quota-refugees-from-rwanda/",
        _rewrite(_first_paragraph(lambda p: NEW_SENTENCE + " " + p)),
        ["changed"], 1, ["body"],
    ),
    "correction-appended": Case(
        "/2016-09-12/news/number-of-asylum-seekers-coming-to-denmark-significantly-in-decline/",
        _rewrite(lambda h: in_body(h, CORRECTION)),
        ["changed"], 1, ["correction"],
    ),
    "recorded-correction": Case(  # the site's own later recording: headline, figure, correction
        CORRECTED, lambda site, path: site.use_version(path),
        ["changed"], 1, ["headline", "body", "correction"],
    ),
    "deleted-then-restored": Case(  # restored by the test once "deleted" has been alerted
        "/2015-09-16/news/danish-asylum-conditions-among-best-in-europe/",
        lambda site, path: site.delete(path),
        ["deleted", "restored"], 0, ["restored"],
    ),
    "paywall-flip": Case(
        "/2015-11-04/general/october-was-a-record-month-for-asylum-seekers-in-denmark/",
        _rewrite(paywalled), ["paywall"], 1, None,
    ),
    "relevance-gained": Case(
        "/2023-02-19/news/huge-majority-of-danes-support-sending-weapons-to-ukraine/",
        _rewrite(_turned_to_migration),
        ["relevance_gained"], 1, ["headline", "body"],
    ),
    "furniture-only": Case(  # the site's later recording: age notice, teasers, prices, ads
        FURNITURE_ONLY, lambda site, path: site.use_version(path), [], 0, ["new"],
    ),
    "cosmetic": Case(  # punctuation: stored as a version, never alerted
        "/2014-01-21/general/police-turn-blind-eye-to-illegal-immigrant-clinics/",
        _rewrite(_first_paragraph(lambda p: p.replace(",", ";", 1))), [], 1, ["body"],
    ),
    "not-about-migration": Case(
        "/2017-09-01/news/a-polish-ed-performance-danish-world-cup-dream-intact/",
        _rewrite(lambda h: in_body(h, "<p>Denmark play Montenegro on Sunday evening.</p>")),
        [], 1, ["body"],
    ),
    "redesign": Case(  # markup the extractor no longer knows: a failure, not an edit
        "/2016-02-06/news/denmarks-asylum-rules-might-be-reprimandable-but-its-recognition-rate-is-robust/",
        _rewrite(redesigned), [], 0, ["new"],
    ),
}  # fmt: skip


@dataclass
class Outcome:
    alerts: list[str]
    delivered: list[str]  # kinds received by the webhook, repeats kept
    fetches: list[int]  # requests for the page from the edit (or restore) to each delivery
    versions: int
    changes: list[list[str]]
    fail_count: int
    last_error: str | None
    status: str


@dataclass
class Session:
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    stop_code: int | None = None
    ops_alerts: list[str] = field(default_factory=list)
    log: str = ""


@pytest.fixture(scope="module")
def edits(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    with ReplaySite() as site, WebhookSink() as hook:
        mon = installation(
            tmp_path_factory.mktemp("edits"), tmp_path_factory, site, notify_urls=hook.json_url()
        )
        try:
            yield _run(mon, site, hook)
        finally:
            mon.close()


def _run(mon: Monitor, site: ReplaySite, hook: WebhookSink) -> Session:
    before = {name: mon.article(site.url(c.path)).version_count for name, c in CASES.items()}
    started = utcnow()
    daemon = mon.start()
    # Every article is due in the copied baseline: wait for the first round to go through.
    wait_until(
        "the first re-check round",
        lambda: len({r.url for r in fetch_log(mon, since=started)}) >= len(mon.articles()),
    )
    edited_at: dict[str, float] = {}
    for name, case in CASES.items():
        case.edit(site, case.path)
        edited_at[name] = time.monotonic()

    deleted = CASES["deleted-then-restored"]
    wait_until("the deletion alert", lambda: "deleted" in _delivered(mon, hook, site, deleted.path))
    site.restore(deleted.path)
    restored_at = time.monotonic()

    def all_in() -> bool:
        return all(_delivered(mon, hook, site, c.path) == c.alerts for c in CASES.values())

    wait_until("every expected alert", all_in)
    # more than one re-check of every article: nothing may come twice
    more_rounds(site, 2, pages=[c.path for c in CASES.values()])
    session = Session()
    session.stop_code = mon.stop(daemon)
    session.log = mon.log()
    session.ops_alerts = [a.kind for a in mon.alerts() if a.article_id is None]
    arrivals = _arrivals(mon, hook)
    for name, case in CASES.items():
        url = site.url(case.path)
        article = mon.article(url)
        own = [(kind, at) for aid, kind, at in arrivals if aid == article.id]
        start = {k: (restored_at if k == "restored" else edited_at[name]) for k, _ in own}
        session.outcomes[name] = Outcome(
            alerts=[k for k in alert_kinds(mon, url) if k != "new" or before[name] == 0],
            delivered=[k for k, _ in own],
            fetches=[site.count(case.path, since=start[k], until=at) for k, at in own],
            versions=article.version_count - before[name],
            changes=change_kinds(mon, url),
            fail_count=article.fail_count,
            last_error=article.last_error,
            status=article.status,
        )
    return session


def _arrivals(mon: Monitor, hook: WebhookSink) -> list[tuple[int | None, str, float]]:
    """(article id, alert kind, arrival time) of every delivered webhook request after baseline."""
    alerts = {a.id: a for a in mon.alerts()}
    out = []
    for request in hook.delivered:
        for alert_id in webhook_alert_ids_of(request.headers.get("x-idempotency-key", "")):
            alert = alerts.get(alert_id)
            if alert is not None:
                out.append((alert.article_id, alert.kind, request.time))
    return out


def webhook_alert_ids_of(header: str) -> list[int]:
    return [int(m) for m in re.findall(r"alert-(\d+)-", header)]


def _delivered(mon: Monitor, hook: WebhookSink, site: ReplaySite, path: str) -> list[str]:
    article = mon.article(site.url(path))
    by_id = {a.id: a for a in mon.alerts()}
    return [
        by_id[i].kind
        for i in webhook_alert_ids(hook)
        if i in by_id and by_id[i].article_id == article.id
    ]


@pytest.mark.parametrize("name", list(CASES))
def test_each_edit_earns_exactly_its_alerts_once(edits: Session, name: str) -> None:
    outcome, case = edits.outcomes[name], CASES[name]
    assert outcome.alerts == case.alerts
    assert outcome.delivered == case.alerts  # each once, none twice


@pytest.mark.parametrize("name", list(CASES))
def test_each_edit_is_stored_as_what_it_is(edits: Session, name: str) -> None:
    outcome, case = edits.outcomes[name], CASES[name]
    assert outcome.versions == case.versions
    if case.change is not None:
        assert outcome.changes[-1] == case.change
    if name == "paywall-flip":
        assert "paywall" in outcome.changes[-1] and outcome.status == "paywalled"
    if name == "deleted-then-restored":
        assert outcome.changes[-2:] == [["deleted"], ["restored"]] and outcome.status == "live"


@pytest.mark.parametrize("name", [n for n, c in CASES.items() if c.alerts])
def test_each_alert_arrives_by_the_next_re_check_of_the_page(edits: Session, name: str) -> None:
    outcome = edits.outcomes[name]
    bounds = [FETCHES_OF.get(kind, FETCHES) for kind in outcome.delivered]
    assert outcome.fetches, outcome
    assert all(n <= bound for n, bound in zip(outcome.fetches, bounds, strict=True)), outcome


def test_a_redesigned_page_is_a_failure_on_record_not_an_edit(edits: Session) -> None:
    outcome = edits.outcomes["redesign"]
    assert outcome.fail_count >= 1 and "redesign" in (outcome.last_error or "")
    assert outcome.status == "live"  # not taken for a deletion either


def test_the_daemon_stayed_quiet_and_stopped_cleanly(edits: Session) -> None:
    assert edits.ops_alerts == []  # one redesigned page is not a site failure
    assert edits.stop_code == 0
    assert "Traceback" not in edits.log
