"""A site redesign while the daemon runs: learned, watched through, and switched back.

The replay site switches every article page to a new theme (classes renamed, the standfirst,
age notice, caption and a teaser moved into a new body container, no ``<time>``) while the
daemon watches it; an article is edited and a new one published under the new theme; then the
old theme returns. Promise (issue 21): no false alert, every edit and the new article alerted
once, one ops alert when the template changed and one when the original came back.
"""

from __future__ import annotations

from collections import Counter

from sqlmodel import select

from monitor.models import FetchLog
from monitor.templates import TemplateAlert
from tests.e2e.harness import Monitor, wait_until
from tests.support.redesign import variants
from tests.support.replay import ReplaySite
from tests.support.sinks import WebhookSink

EDITED = "rejected-asylum-seekers-earmarked-for-deportation"
OPS = {str(kind) for kind in TemplateAlert} | {"ops_failure", "ops_recovered"}
WAIT = 90.0  # generous: seven other engineers share two cores


def kinds(monitor: Monitor, since: int = 0) -> list[str]:
    return [a.kind for a in monitor.alerts() if (a.id or 0) > since]


def fetches(monitor: Monitor) -> Counter[str]:
    """Re-checks answered (200 or 304) per article URL so far."""
    with monitor.db() as db:
        return Counter(r.url for r in db.exec(select(FetchLog).where(FetchLog.status != None)))  # noqa: E711


def every_article_fetched_again(monitor: Monitor, before: Counter[str], times: int) -> bool:
    now = fetches(monitor)
    return all(now[url] >= before[url] + times for url in before)


def story_alerts(monitor: Monitor) -> int:
    return sum(1 for kind in kinds(monitor) if not kind.startswith("ops"))


def delivered(sink: WebhookSink, path: str) -> int:
    return sum(1 for r in sink.delivered if r.path == path)


def test_a_redesign_while_the_daemon_runs_gives_no_false_alert_and_one_ops_alert_each_way(
    monitor: Monitor, replay_site: ReplaySite, webhook_sink: WebhookSink
) -> None:
    monitor.set(notify_urls=f"ops={webhook_sink.json_url('/ops')} {webhook_sink.json_url('/news')}")
    monitor.run_once()
    articles = monitor.articles()
    assert len(articles) >= 10 and all(a.version_count == 1 for a in articles)
    assert any(EDITED in a.url for a in articles)
    baseline = max((a.id or 0) for a in monitor.alerts())
    before = fetches(monitor)
    daemon = monitor.start()

    replay_site.redesign(variants().variant_moved)
    wait_until(
        "the template-learned ops alert",
        lambda: str(TemplateAlert.LEARNED) in kinds(monitor, baseline),
        timeout=WAIT,
    )
    wait_until(
        "two rounds under the new template",
        lambda: every_article_fetched_again(monitor, before, 2),
        timeout=WAIT,
    )
    (edited,) = [p for p in replay_site.paths("article") if EDITED in p]
    replay_site.edit(edited, lambda text: text.replace("550 rejected", "548 rejected"))
    new = replay_site.add_article(
        "deportation-figures-revised",
        "Deportation figures revised after asylum review",
        [
            "The ministry revised its deportation figures for rejected asylum seekers on Friday.",
            "Refugee groups said the new count of departures was still too high.",
        ],
        tags=["asylum"],
    )
    wait_until(
        "the edit and the new article alerted",
        lambda: {"changed", "new"} <= set(kinds(monitor, baseline)),
        timeout=WAIT,
    )
    during = fetches(monitor)
    wait_until(
        "two more rounds", lambda: every_article_fetched_again(monitor, during, 2), timeout=WAIT
    )

    switch_back(replay_site, monitor, baseline)
    wait_until(
        "every alert delivered",
        lambda: (
            delivered(webhook_sink, "/ops") == 2
            and delivered(webhook_sink, "/news") == story_alerts(monitor)
        ),
        timeout=WAIT,
    )
    assert monitor.stop(daemon) == 0

    alerts = [a for a in monitor.alerts() if (a.id or 0) > baseline]
    assert sorted(a.kind for a in alerts) == sorted(
        ["changed", "new", TemplateAlert.LEARNED, TemplateAlert.RECOVERED]
    )
    by_kind = {a.kind: a for a in alerts}
    assert EDITED in by_kind["changed"].payload["url"]
    assert by_kind["new"].payload["url"] == replay_site.url(new.path)
    learned = by_kind[TemplateAlert.LEARNED].payload["detail"]
    assert learned.startswith("body in `div.story-content` without ")
    assert learned.endswith("learned from 3 articles")
    assert delivered(webhook_sink, "/ops") == 2  # ops alerts to the ops target, once each
    assert delivered(webhook_sink, "/news") == story_alerts(monitor)  # each story once
    versions = {a.url: a.version_count for a in monitor.articles()}
    assert sorted(n for url, n in versions.items() if EDITED not in url) == [1] * len(articles)
    assert [n for url, n in versions.items() if EDITED in url] == [2]
    status = monitor.cli("status", "--json")
    assert '"template": "the theme\'s own"' in status.stdout
    assert not OPS - {str(k) for k in TemplateAlert} & set(kinds(monitor, baseline))


def unlearnable(page: str) -> str:
    """Renamed classes and every paragraph a bare ``<div>``: no block holds the stored text."""
    return str(variants().variant_renamed(page)).replace("<p>", "<div>")


def test_an_unlearnable_redesign_while_the_daemon_runs_sends_one_ops_alert_each_way(
    monitor: Monitor, replay_site: ReplaySite, webhook_sink: WebhookSink
) -> None:
    monitor.set(notify_urls=f"ops={webhook_sink.json_url('/ops')} {webhook_sink.json_url('/news')}")
    monitor.run_once()
    baseline = max((a.id or 0) for a in monitor.alerts())
    before = fetches(monitor)
    daemon = monitor.start()

    replay_site.redesign(unlearnable)
    wait_until(
        "the nothing-could-be-learned ops alert",
        lambda: str(TemplateAlert.UNLEARNED) in kinds(monitor, baseline),
        timeout=WAIT,
    )
    # More failed rounds than CPHMON_FAILURE_THRESHOLD (3): site health sees them all.
    wait_until(
        "four rounds under the unlearnable template",
        lambda: every_article_fetched_again(monitor, before, 4),
        timeout=WAIT,
    )
    switch_back(replay_site, monitor, baseline)
    assert monitor.stop(daemon) == 0

    assert kinds(monitor, baseline) == [TemplateAlert.UNLEARNED, TemplateAlert.RECOVERED]
    assert all(a.version_count == 1 for a in monitor.articles())  # and no false story alert


def switch_back(replay_site: ReplaySite, monitor: Monitor, baseline: int) -> None:
    """The original theme returns: wait for the one recovered alert, then two more rounds of
    every article on it (so anything it would wrongly alert has had its chance)."""
    replay_site.redesign(None)
    wait_until(
        "the recovered ops alert",
        lambda: str(TemplateAlert.RECOVERED) in kinds(monitor, baseline),
        timeout=WAIT,
    )
    after = fetches(monitor)
    wait_until(
        "two rounds on the old theme",
        lambda: every_article_fetched_again(monitor, after, 2),
        timeout=WAIT,
    )
