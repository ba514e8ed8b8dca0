"""A flaky mail server or webhook: alerts wait in the outbox, the rest of the service goes on,
and each alert reaches each target exactly once after recovery."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.harness import Monitor, more_rounds, wait_until
from tests.e2e.test_faults_common import (
    CORRECTED,
    installation,
    smtp_alert_ids,
    webhook_alert_ids,
)
from tests.support.replay import ReplaySite
from tests.support.sinks import SMTPSink, WebhookSink

SECOND_EDIT = "/2022-10-31/news/more-non-western-foreigners-finding-work/"


@dataclass
class Receivers:
    smtp: SMTPSink
    hook: WebhookSink

    def ids(self, which: str) -> list[int]:
        return smtp_alert_ids(self.smtp) if which == "smtp" else webhook_alert_ids(self.hook)


def _targets(smtp: SMTPSink, hook: WebhookSink) -> str:
    return f"{smtp.apprise_url()} {hook.json_url()}"


def _changed_alert_ids(mon: Monitor) -> list[int]:
    return [a.id or 0 for a in mon.alerts() if a.kind == "changed"]


@pytest.mark.parametrize("broken", ["smtp-refuses-connections", "webhook-answers-500"])
def test_a_failing_target_delays_only_its_own_copy_and_gets_it_once_after_recovery(
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    replay_site: ReplaySite,
    smtp_sink: SMTPSink,
    webhook_sink: WebhookSink,
    broken: str,
) -> None:
    sinks = Receivers(smtp_sink, webhook_sink)
    failing, working = ("smtp", "hook") if broken.startswith("smtp") else ("hook", "smtp")
    mon = installation(
        tmp_path, tmp_path_factory, replay_site, notify_urls=_targets(smtp_sink, webhook_sink)
    )
    if failing == "smtp":
        smtp_sink.refuse()
    else:
        webhook_sink.fail(500)
    replay_site.use_version(CORRECTED)

    mon.run_once()
    (alert,) = _changed_alert_ids(mon)
    assert mon.article(replay_site.url(CORRECTED)).version_count == 2  # checks went on
    assert sinks.ids(working) == [alert]  # the other target was not held up
    assert sinks.ids(failing) == []
    pending = [d for d in mon.deliveries() if d.alert_id == alert and d.status == "pending"]
    assert len(pending) == 1 and pending[0].attempts == 1 and pending[0].last_error

    smtp_sink.recover()
    webhook_sink.recover()
    mon.wait_deliveries_due()  # the retry's backoff (0.5 s, ±10 %)
    mon.run_once()
    assert sinks.ids(failing) == [alert]
    assert sinks.ids(working) == [alert]
    mine = [d for d in mon.deliveries() if d.alert_id == alert]
    assert sorted(d.attempts for d in mine) == [1, 2] and {d.status for d in mine} == {"sent"}


def test_a_hanging_mail_server_holds_back_mail_not_the_checks(
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    replay_site: ReplaySite,
    smtp_sink: SMTPSink,
) -> None:
    mon = installation(tmp_path, tmp_path_factory, replay_site, notify_urls=smtp_sink.apprise_url())
    smtp_sink.hang()
    try:
        daemon = mon.start()
        replay_site.use_version(CORRECTED)
        wait_until("a delivery to hang", lambda: smtp_sink.hung >= 1, timeout=20)
        replay_site.edit(
            SECOND_EDIT, lambda h: h.replace("finding work", "finding jobs in record numbers")
        )
        edited = time.monotonic()
        second = replay_site.url(SECOND_EDIT)
        wait_until("the second edit to be stored", lambda: mon.article(second).version_count == 2)
        fetches = replay_site.count(SECOND_EDIT, since=edited)
        assert smtp_sink.messages == []  # still hanging: nothing got through meanwhile
        smtp_sink.recover()
        wait_until("both alerts by mail", lambda: len(smtp_sink.messages) >= 2)
        more_rounds(replay_site)  # several delivery rounds: no repeats
        assert mon.stop(daemon) == 0
    finally:
        mon.close()
    # Stored at its next re-check, not held up behind the mail: the fetch in flight at the
    # edit, the one that stored it, one more while this test looked (bench/daemon.py times it)
    assert fetches <= 3
    alerts = _changed_alert_ids(mon)
    assert len(alerts) == 2
    assert sorted(smtp_alert_ids(smtp_sink)) == sorted(alerts)  # each exactly once
    assert {d.status for d in mon.deliveries() if d.alert_id in alerts} == {"sent"}
    assert "Traceback" not in mon.log()
