"""Silent failures made loud, once: ops alerts on state change, health endpoint, status, logs.

When the site is unreachable, or a redesign breaks extraction on most pages, for
``failure_threshold`` cycles in a row, one alert goes to the targets tagged ``ops`` (to the
untagged, catch-all targets when none is), and one "recovered" alert when it works again;
never one per failing request. ``/healthz`` and ``status`` say the same, ``/metrics`` counts.
"""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import select

from monitor.health import Cycle, SiteHealth, observe
from monitor.models import FetchLog
from tests.e2e.harness import Monitor, more_rounds, wait_until
from tests.support import pages
from tests.support.replay import RSS, XML, ReplaySite
from tests.support.sinks import WebhookSink

OPS_KINDS = {"ops_failure", "ops_recovered"}


def publish_only(site: ReplaySite, paths: list[str]) -> dict[str, str]:
    """Feeds and sitemap listing just ``paths``: the settings that make the monitor use them."""
    items = "".join(f"<item><title>t</title><link>{pages.LIVE}{p}</link></item>\n" for p in paths)
    site.set_page(
        "/ops/feed/",
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
        f"<title>ops</title><link>{pages.LIVE}/</link>\n{items}</channel></rss>\n",
        content_type=RSS,
    )
    when = datetime(2023, 5, 22, 9, 0, tzinfo=UTC)
    site.set_page("/ops/post-sitemap.xml", pages.urlset((p, when) for p in paths), content_type=XML)
    site.set_page(
        "/ops/sitemap_index.xml",
        pages.sitemap_index([("/ops/post-sitemap.xml", when)]),
        content_type=XML,
    )
    return {"feeds": "/ops/feed/", "sitemap_path": "/ops/sitemap_index.xml"}


def kinds_at(sink: WebhookSink, path: str) -> list[str]:
    """Alert kinds delivered to ``path`` of the sink (the JSON payload's ``kind``)."""
    return [_kind(r.json) for r in sink.delivered if r.path == path]


def _kind(body: Any) -> str:
    """Which alert a delivered apprise JSON body is (by the titles of ``monitor.health``)."""
    text = json.dumps(body)
    if " is failing (" in text:
        return "ops_failure"
    if " works again" in text:
        return "ops_recovered"
    return "article"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.headers["content-type"], response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["content-type"], exc.read()


def test_an_unreachable_site_sends_one_ops_alert_then_one_recovered_and_healthz_follows(
    monitor: Monitor, replay_site: ReplaySite, webhook_sink: WebhookSink
) -> None:
    """The site goes away (connection refused) and comes back; /healthz, status and /metrics
    tell the same story as the one ops alert and the one recovery notice."""
    port = free_port()
    monitor.set(
        health_port=port,
        notify_urls=f"ops={webhook_sink.json_url('/ops')} {webhook_sink.json_url('/news')}",
        **publish_only(replay_site, replay_site.paths("article")[:3]),
    )
    unhealthy = monitor.cli("status", "--json")
    assert unhealthy.returncode == 1
    assert json.loads(unhealthy.stdout)["problems"] == ["discovery has never run"]
    daemon = monitor.start()
    base = f"http://127.0.0.1:{port}"

    def healthz(code: int) -> dict[str, Any]:
        """The /healthz JSON when it answers ``code``, else nothing."""
        try:
            status, ctype, body = get(base + "/healthz")
        except OSError:
            return {}
        return dict(json.loads(body)) if status == code and ctype == "application/json" else {}

    wait_until("the articles", lambda: len(monitor.articles()) == 3 and monitor.alerts())
    healthy = wait_until("/healthz 200", lambda: healthz(200))
    assert healthy["healthy"] is True and healthy["problems"] == []
    status, ctype, metrics = get(base + "/metrics")
    assert status == 200 and ctype.startswith("text/plain")
    assert b'cphmon_requests_total{status="200"}' in metrics
    assert b"cphmon_checks_total" in metrics
    ok = monitor.cli("status", "--json")
    assert ok.returncode == 0 and json.loads(ok.stdout)["healthy"] is True

    replay_site.stop()  # connection refused for every request
    wait_until("the ops alert", lambda: "ops_failure" in kinds_at(webhook_sink, "/ops"))
    failing = wait_until("/healthz 503", lambda: healthz(503))
    assert failing["healthy"] is False
    assert any("site failing since" in p for p in failing["problems"])
    assert failing["site_failing_cycles"] >= 3
    bad = monitor.cli("status", "--json")
    assert bad.returncode == 1 and json.loads(bad.stdout)["healthy"] is False
    assert monitor.cli("status", "--quiet").returncode == 1
    _, _, metrics = get(base + "/metrics")
    assert b'cphmon_requests_total{status="error"}' in metrics
    assert get(base + "/nope")[0] == 404
    # It keeps failing for more requests and cycles: still that one alert.
    alerted_at = monitor.log().count("discovery source failed")
    wait_until(
        "more failing rounds",
        lambda: monitor.log().count("discovery source failed") >= alerted_at + 2,
    )
    assert kinds_at(webhook_sink, "/ops") == ["ops_failure"]

    replay_site.start()  # same port
    wait_until("the recovery", lambda: "ops_recovered" in kinds_at(webhook_sink, "/ops"))
    wait_until("/healthz 200 again", lambda: healthz(200))
    more_rounds(replay_site, feed="/ops/feed/")  # a second recovery notice would come now
    assert monitor.stop(daemon) == 0
    assert kinds_at(webhook_sink, "/ops") == ["ops_failure", "ops_recovered"]
    assert not OPS_KINDS & set(kinds_at(webhook_sink, "/news"))  # ops go to the ops target
    ops = [a for a in monitor.alerts() if a.kind in OPS_KINDS]
    assert [a.kind for a in ops] == ["ops_failure", "ops_recovered"]
    assert "site health: ops_failure" in monitor.log()


def test_a_redesign_that_breaks_extraction_sends_one_ops_alert_to_the_catch_all_target(
    monitor: Monitor, replay_site: ReplaySite, webhook_sink: WebhookSink
) -> None:
    paths = replay_site.paths("article")[:6]
    monitor.set(
        notify_urls=webhook_sink.json_url("/all"),  # no ops target: ops alerts go here
        recheck_batch=2,
        **publish_only(replay_site, paths),
    )
    monitor.run_once()
    assert len(monitor.articles()) == 6
    # The feeds still work; every article page is now a page the scraper does not know.
    replay_site.fault("/20*", "not_xml")
    daemon = monitor.start()
    wait_until("the ops alert", lambda: "ops_failure" in kinds_at(webhook_sink, "/all"))
    more_rounds(replay_site, 2, pages=paths, feed="/ops/feed/")  # failing on: one alert
    assert monitor.stop(daemon) == 0
    assert kinds_at(webhook_sink, "/all").count("ops_failure") == 1
    (alert,) = [a for a in monitor.alerts() if a.kind == "ops_failure"]
    assert "failing" in alert.payload["title"]
    with monitor.db() as db:
        outcomes = {r.outcome for r in db.exec(select(FetchLog).where(FetchLog.status == 200))}
    assert "extraction_failed" in outcomes
    assert all(a.version_count == 1 for a in monitor.articles())  # nothing stored as an edit


def test_json_logs_are_one_json_object_per_line(monitor: Monitor, replay_site: ReplaySite) -> None:
    monitor.set(log_format="json", log_level="DEBUG")
    replay_site.fault("/tag/asylum/feed/", "status", status=503)  # warnings too
    result = monitor.run_once()
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) > 10
    records = [json.loads(line) for line in lines]
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)
    assert {"info", "warning"} <= {r["level"] for r in records}
    assert any("discovery source failed" in r["message"] for r in records)


def test_alerts_test_fails_when_a_target_answers_404(
    monitor: Monitor, webhook_sink: WebhookSink
) -> None:
    webhook_sink.fail(404)
    monitor.set(notify_urls=webhook_sink.json_url())
    result = monitor.cli("alerts", "test")
    assert result.returncode == 1
    assert "FAILED" in result.stdout and "1 of 1 targets failed" in result.stderr
    webhook_sink.recover()
    assert monitor.cli("alerts", "test").returncode == 0


def test_while_the_scraper_is_broken_only_pages_that_extract_end_the_streak() -> None:
    """In-process, the state machine behind the redesign test: what counts and what is neutral."""
    t0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    redesign = Cycle(requests=4, failed=4, extraction_failed=4, reason="no body", extracted=4)
    feeds_ok = Cycle(requests=3, failed=0, extracted=0)  # discovery: nothing extracted
    all_304 = Cycle(requests=5, failed=0, extracted=0)
    one_bad_page = Cycle(requests=1, failed=1, extraction_failed=1, extracted=1)
    pages_ok = Cycle(requests=3, failed=0, extracted=3)
    state, kinds = SiteHealth(), []
    cycles = [redesign, feeds_ok, redesign, all_304, one_bad_page, redesign, feeds_ok, pages_ok]
    for n, cycle in enumerate(cycles):
        state, kind = observe(state, cycle, 3, t0 + timedelta(minutes=n))
        kinds.append(kind)
    assert kinds == [None, None, None, None, None, "ops_failure", None, "ops_recovered"]
    # One article that never extracts, retried between idle cycles, is no outage.
    state = SiteHealth()
    for n, cycle in enumerate([one_bad_page, all_304, feeds_ok] * 4):
        state, kind = observe(state, cycle, 3, t0 + timedelta(minutes=n))
        assert kind is None and state.failed_cycles == 0
    # An unreachable site is different: any answer at all is a recovery.
    down = Cycle(requests=3, failed=3, reason="refused", extracted=0)
    state = SiteHealth()
    for n in range(3):
        state, kind = observe(state, down, 3, t0 + timedelta(minutes=n))
    assert kind == "ops_failure" and not state.scraper
    assert observe(state, all_304, 3, t0 + timedelta(minutes=9))[1] == "ops_recovered"
