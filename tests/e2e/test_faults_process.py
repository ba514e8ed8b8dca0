"""``kill -9`` of the daemon during a fetch, a delivery and database writes, then a restart:
nothing lost, nothing doubled, the SQLite file intact."""

from __future__ import annotations

import os
import random
import socket
import time
from pathlib import Path

import pytest

from tests.e2e.harness import Monitor, more_rounds, wait_until
from tests.e2e.test_faults_common import (
    CORRECTED,
    consistency_problems,
    fetch_log,
    installation,
    integrity,
    smtp_alert_ids,
    utcnow,
    webhook_alert_ids,
)
from tests.support.replay import ReplaySite
from tests.support.sinks import SMTPSink, WebhookSink

# A killed daemon's article claims last LEASE, its delivery lease NOTIFY_TIMEOUT × 2 + 30 s. Both
# are set far beyond the tests' deadlines: a restart that waited for them instead of taking
# them over at once fails the wait, however slow the machine (bench/daemon.py times recovery).
LEASE = 600.0
NOTIFY_TIMEOUT = 60.0

# Substantive edits of relevant recorded articles, one per kill round: (path, old, new).
HEADLINE_EDITS = [
    (
        "/2022-10-31/news/more-non-western-foreigners-finding-work/",
        "More non-western foreigners finding work",
        "Employment of non-western immigrants hits a record",
    ),
    (
        "/2021-06-25/news/denmark-to-accept-more-quota-refugees-from-rwanda/",
        "Denmark to accept more quota refugees from Rwanda",
        "Denmark will take 200 more quota refugees via Rwanda",
    ),
    (
        "/2016-09-12/news/number-of-asylum-seekers-coming-to-denmark-significantly-in-decline/",
        "Number of asylum seekers coming to Denmark significantly in decline",
        "Asylum applications in Denmark fall by half",
    ),
    (
        "/2015-09-25/news/number-of-asylum-seekers-coming-to-denmark-lower-than-last-year/",
        "Number of asylum-seekers coming to Denmark lower than last year",
        "Fewer asylum-seekers reach Denmark than a year ago",
    ),
    (
        "/2014-01-21/general/police-turn-blind-eye-to-illegal-immigrant-clinics/",
        "Police turn blind eye to illegal immigrant clinics",
        "Police will not act against clinics for undocumented migrants",
    ),
]


def _first_round(mon: Monitor, since: object) -> None:
    """Wait until the daemon has looked at every article once (they are all due at start)."""
    wait_until(
        "the first re-check round",
        lambda: len({r.url for r in fetch_log(mon, since=since)}) >= len(mon.articles()),  # type: ignore[arg-type]
    )


def _started(mon: Monitor, name: str) -> None:
    """Until the daemon logging to ``name`` is up (imports done, jobs scheduled)."""
    wait_until(f"{name} to start", lambda: "started: watching" in mon.log(name))


def _changed(mon: Monitor) -> list[int]:
    return [a.id or 0 for a in mon.alerts() if a.kind == "changed"]


def _assert_intact(mon: Monitor) -> None:
    assert integrity(mon) == "ok"
    assert consistency_problems(mon) == []


def test_kill_9_during_a_fetch_then_restart_records_the_edit_once(
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    replay_site: ReplaySite,
    webhook_sink: WebhookSink,
) -> None:
    mon = installation(
        tmp_path,
        tmp_path_factory,
        replay_site,
        notify_urls=webhook_sink.json_url(),
        lease_seconds=LEASE,
    )
    try:
        since = utcnow()
        first = mon.start("first")
        _first_round(mon, since)
        replay_site.fault(CORRECTED, "delay", seconds=30)  # the answer never comes in time
        replay_site.use_version(CORRECTED)
        seen = replay_site.count(CORRECTED)
        replay_site.wait_for(CORRECTED, seen + 1, timeout=60)  # the fetch is in flight
        mon.kill(first)
        _assert_intact(mon)
        assert mon.article(replay_site.url(CORRECTED)).version_count == 1
        replay_site.clear_faults()
        second = mon.start("second")
        _started(mon, "second")
        wait_until("the edit's alert", lambda: webhook_sink.delivered)
        more_rounds(replay_site, 2, pages=[CORRECTED])  # no second alert, no second delivery
        assert mon.stop(second) == 0
    finally:
        mon.close()
    assert mon.article(replay_site.url(CORRECTED)).version_count == 2
    assert webhook_alert_ids(webhook_sink) == _changed(mon)  # one alert, delivered once
    # The replacement took over the dead daemon's claim at once, not after its lease.
    assert "is gone: taking over its SQLite lock" in mon.log("second")
    assert "another daemon" not in mon.log("second")  # the restart was not refused
    _assert_intact(mon)


def test_kill_9_during_a_delivery_then_restart_sends_the_alert_once(
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    replay_site: ReplaySite,
    smtp_sink: SMTPSink,
) -> None:
    mon = installation(
        tmp_path,
        tmp_path_factory,
        replay_site,
        notify_urls=smtp_sink.apprise_url(),
        notify_timeout=NOTIFY_TIMEOUT,
    )
    smtp_sink.hang()  # the mail server takes the message and never answers
    try:
        first = mon.start("first")
        replay_site.use_version(CORRECTED)
        wait_until("the delivery to hang", lambda: smtp_sink.hung >= 1)
        mon.kill(first)
        _assert_intact(mon)
        smtp_sink.recover()
        second = mon.start("second")
        _started(mon, "second")
        wait_until("the mail", lambda: smtp_sink.messages)
        more_rounds(replay_site)  # more delivery rounds: no second mail
        assert mon.stop(second) == 0
    finally:
        mon.close()
    (alert,) = _changed(mon)
    assert smtp_alert_ids(smtp_sink) == [alert]
    assert [d.status for d in mon.deliveries() if d.alert_id == alert] == ["sent"]
    # The replacement took over the dead daemon's delivery lease at once (not after its
    # notify_timeout × 2 + 30 s, past the wait's deadline): the next delivery round sent it.
    assert "article claims and 1 deliveries" in mon.log("second")
    _assert_intact(mon)


def test_kill_9_at_random_moments_while_edits_arrive_loses_and_doubles_nothing(
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    replay_site: ReplaySite,
    webhook_sink: WebhookSink,
) -> None:
    seed = int(os.environ.get("E2E_KILL_SEED", time.time_ns() % 1_000_000))
    rng = random.Random(seed)
    note = f"(E2E_KILL_SEED={seed})"
    mon = installation(tmp_path, tmp_path_factory, replay_site, notify_urls=webhook_sink.json_url())
    try:
        for round_no, (path, old, new) in enumerate(HEADLINE_EDITS):
            daemon = mon.start(f"round{round_no}")
            _started(mon, f"round{round_no}")
            replay_site.edit(path, lambda html, old=old, new=new: html.replace(old, new))
            time.sleep(rng.uniform(0.1, 3.0))  # somewhere in fetching, writing or delivering
            assert daemon.poll() is None, f"round {round_no} daemon died on its own {note}"
            mon.kill(daemon)
            assert integrity(mon) == "ok", note
            assert consistency_problems(mon) == [], note
        final = mon.start("final")
        wait_until(
            "every edit alerted and delivered",
            lambda: len(set(webhook_alert_ids(webhook_sink))) >= len(HEADLINE_EDITS),
        )
        # more rounds over every edited article: nothing new may come
        more_rounds(replay_site, 2, pages=[path for path, _old, _new in HEADLINE_EDITS])
        assert mon.stop(final) == 0
    finally:
        mon.close()
    for path, _old, new in HEADLINE_EDITS:
        url = replay_site.url(path)
        assert mon.article(url).version_count == 2, f"{path} {note}"
        assert mon.versions(url)[-1].title == new
    alerts = _changed(mon)
    assert len(alerts) == len(HEADLINE_EDITS), note
    delivered = webhook_alert_ids(webhook_sink)
    assert sorted(set(delivered)) == sorted(alerts), note  # none lost, none extra
    # A kill between a target's 200 and the commit of "sent" can repeat that one send: the
    # documented at-least-once window (docs/alerts.md); the key lets a receiver drop it.
    assert len(delivered) - len(alerts) <= len(HEADLINE_EDITS), note
    assert {d.status for d in mon.deliveries()} == {"sent"}
    host = socket.gethostname()  # a daemon's name is host:pid; a clean stop frees its claims
    assert not [a.url for a in mon.articles() if a.lease_owner == f"{host}:{final.pid}"]
    assert integrity(mon) == "ok"
    assert consistency_problems(mon) == []
