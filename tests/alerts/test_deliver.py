"""Delivery, for real: an aiosmtpd server, a local JSON webhook and Slack's format (patched)."""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import col, select

from monitor.alerts.deliver import DeliveryReport, deliver_due
from monitor.alerts.outbox import idempotency_key
from monitor.alerts.render import inert
from monitor.alerts.targets import load_targets
from monitor.db import session
from monitor.models import Delivery, DeliveryStatus
from tests.alerts.conftest import (
    SLACK_TOKENS,
    T0,
    HTTPReceiver,
    SettingsFactory,
    SMTPReceiver,
    slack_url,
)
from tests.alerts.helpers import SCRIPT_TITLE, add_alert, deliveries

OWNER = "worker-1"


def lease(engine: Engine, owner: str, expires_in: timedelta) -> None:
    """Lease every delivery to ``owner`` until ``T0 + expires_in``."""
    with session(engine) as db:
        for delivery in db.exec(select(Delivery)).all():
            delivery.lease_owner, delivery.lease_expires = owner, T0 + expires_in
            db.add(delivery)


# Real deliveries -------------------------------------------------------------------------------


def test_email_arrives_as_html_with_ins_and_del_and_a_text_alternative(
    engine: Engine, make_settings: SettingsFactory, smtp: SMTPReceiver
) -> None:
    s = make_settings(notify_urls=smtp.url())
    (target,) = load_targets(s)
    alert_id = add_alert(engine, [target], T0, title="Asylum deal struck")
    assert deliver_due(engine, s, owner=OWNER, now=T0) == DeliveryReport(sent=1)
    (mail,) = smtp.messages
    assert mail["Subject"] == "Article changed: Asylum deal struck"
    assert mail["X-Idempotency-Key"] == idempotency_key(alert_id, target.key)
    html_part = mail.get_body(("html",))
    text_part = mail.get_body(("plain",))
    assert html_part is not None and text_part is not None
    html_body = html_part.get_content()
    assert "<del" in html_body and ">Ten people were deported.</del>" in html_body
    assert ">Twelve people were deported.</ins>" in html_body
    text_body = text_part.get_content()
    assert "  ~ [-Ten-]{+Twelve+} people were deported." in text_body
    assert "https://cphpost.dk/2024-05-01/news/asylum-deal-struck/" in text_body
    assert "idempotency" not in text_body and "idempotency" not in html_body
    assert mail["Message-ID"] == f"<{idempotency_key(alert_id, target.key)}@example.org>"


def test_an_email_subject_with_markup_stays_plain_text(
    engine: Engine, make_settings: SettingsFactory, smtp: SMTPReceiver
) -> None:
    s = make_settings(notify_urls=smtp.url())
    add_alert(engine, load_targets(s), T0, title=SCRIPT_TITLE)
    deliver_due(engine, s, owner=OWNER, now=T0)
    (mail,) = smtp.messages
    assert mail["Subject"] == f"Article changed: {inert(SCRIPT_TITLE)}"
    html_body = mail.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html_body and "<script" not in html_body


def test_a_json_webhook_receives_text_and_the_idempotency_key(
    engine: Engine, make_settings: SettingsFactory, webhook: HTTPReceiver
) -> None:
    s = make_settings(notify_urls=webhook.url())
    (target,) = load_targets(s)
    alert_id = add_alert(engine, [target], T0, title=SCRIPT_TITLE)
    assert deliver_due(engine, s, owner=OWNER, now=T0).sent == 1
    (request,) = webhook.requests
    document = request.json()
    key = idempotency_key(alert_id, target.key)
    assert document["idempotency_key"] == key and request.headers["X-Idempotency-Key"] == key
    assert document["title"] == f"Article changed: {inert(SCRIPT_TITLE)}"
    assert key not in document["message"]
    assert "https://cphpost.dk/2024-05-01/news/asylum-deal-struck/" in document["message"]
    (delivery,) = deliveries(engine)
    assert (delivery.status, delivery.attempts, delivery.sent_at) == ("sent", 1, T0)


def test_slack_receives_escaped_markdown(
    engine: Engine, make_settings: SettingsFactory, slack: HTTPReceiver
) -> None:
    s = make_settings(notify_urls=slack_url())
    add_alert(engine, load_targets(s), T0, title=SCRIPT_TITLE)
    assert deliver_due(engine, s, owner=OWNER, now=T0).sent == 1
    (request,) = slack.requests
    assert request.path == f"/services/{SLACK_TOKENS}"
    document = request.json()
    assert document["mrkdwn"] is True
    (attachment,) = document["attachments"]
    text, title = attachment["text"], attachment["title"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text  # Slack shows it as typed
    assert "<script>" not in text and "<!here>" not in text  # no markup, no channel ping
    assert "<script>" not in title and "<!here>" not in title
    assert "<https://cphpost.dk/2024-05-01/news/asylum-deal-struck/>" in text


def test_alerts_are_routed_by_topic_to_real_receivers(
    engine: Engine, make_settings: SettingsFactory, smtp: SMTPReceiver, webhook: HTTPReceiver
) -> None:
    s = make_settings(notify_urls=f"work_permits={smtp.url()} asylum={webhook.url()}")
    targets = load_targets(s)
    add_alert(engine, targets, T0, key="a", topics=["asylum"], title="Asylum story")
    add_alert(engine, targets, T0, key="b", topics=["work_permits"], title="Labour story")
    assert deliver_due(engine, s, owner=OWNER, now=T0).sent == 2
    assert [r.json()["title"] for r in webhook.requests] == ["Article changed: Asylum story"]
    assert [m["Subject"] for m in smtp.messages] == ["Article changed: Labour story"]


# Failures, retries, exactly once ---------------------------------------------------------------


def test_smtp_down_then_up_delivers_exactly_once(
    engine: Engine, make_settings: SettingsFactory, smtp_down: SMTPReceiver
) -> None:
    s = make_settings(notify_urls=smtp_down.url())
    add_alert(engine, load_targets(s), T0)
    assert deliver_due(engine, s, owner=OWNER, now=T0) == DeliveryReport(retried=1)
    (delivery,) = deliveries(engine)
    assert delivery.status == "pending" and delivery.attempts == 1 and delivery.last_error
    smtp_down.start()
    later = delivery.next_attempt_at
    assert deliver_due(engine, s, owner=OWNER, now=later - timedelta(seconds=1)) == DeliveryReport()
    assert deliver_due(engine, s, owner=OWNER, now=later) == DeliveryReport(sent=1)
    assert deliver_due(engine, s, owner=OWNER, now=later + timedelta(days=1)) == DeliveryReport()
    assert len(smtp_down.messages) == 1
    (delivery,) = deliveries(engine)
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("sent", 2, None)


def test_an_smtp_server_refusing_data_is_retried_then_delivered_once(
    engine: Engine, make_settings: SettingsFactory, smtp: SMTPReceiver
) -> None:
    s = make_settings(notify_urls=smtp.url())
    add_alert(engine, load_targets(s), T0)
    smtp.refuse = True
    assert deliver_due(engine, s, owner=OWNER, now=T0).retried == 1
    smtp.refuse = False
    assert deliver_due(engine, s, owner=OWNER, now=T0 + timedelta(hours=1)).sent == 1
    assert len(smtp.messages) == 1


def test_a_webhook_500_is_retried_with_backoff_then_sent_once(
    engine: Engine, make_settings: SettingsFactory, webhook: HTTPReceiver
) -> None:
    s = make_settings(notify_urls=webhook.url(), delivery_backoff=60)
    add_alert(engine, load_targets(s), T0)
    webhook.statuses = [500]
    assert deliver_due(engine, s, owner=OWNER, now=T0) == DeliveryReport(retried=1)
    (delivery,) = deliveries(engine)
    wait = (delivery.next_attempt_at - T0).total_seconds()
    assert 54 <= wait <= 66  # 60 s ± 10 % jitter
    assert "500" in (delivery.last_error or "")
    assert deliver_due(engine, s, owner=OWNER, now=T0 + timedelta(seconds=50)) == DeliveryReport()
    assert deliver_due(engine, s, owner=OWNER, now=T0 + timedelta(seconds=70)).sent == 1
    assert [r.answered for r in webhook.requests] == [500, 200]


def test_the_backoff_doubles_per_attempt(
    engine: Engine, make_settings: SettingsFactory, webhook: HTTPReceiver
) -> None:
    s = make_settings(notify_urls=webhook.url(), delivery_backoff=60, delivery_max_attempts=5)
    add_alert(engine, load_targets(s), T0)
    webhook.status = 500
    now = T0
    waits = []
    for _ in range(3):
        deliver_due(engine, s, owner=OWNER, now=now)
        (delivery,) = deliveries(engine)
        waits.append((delivery.next_attempt_at - now).total_seconds())
        now = delivery.next_attempt_at
    assert [round(w / 60) for w in waits] == [1, 2, 4]


def test_a_delivery_fails_for_good_after_the_last_attempt(
    engine: Engine, make_settings: SettingsFactory, webhook: HTTPReceiver
) -> None:
    s = make_settings(notify_urls=webhook.url(), delivery_max_attempts=2)
    add_alert(engine, load_targets(s), T0)
    webhook.status = 404
    assert deliver_due(engine, s, owner=OWNER, now=T0).retried == 1
    assert deliver_due(engine, s, owner=OWNER, now=T0 + timedelta(hours=1)).failed == 1
    assert deliver_due(engine, s, owner=OWNER, now=T0 + timedelta(days=9)) == DeliveryReport()
    (delivery,) = deliveries(engine)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.FAILED, 2)
    assert len(webhook.requests) == 2


def test_a_hanging_webhook_is_bounded_by_the_notify_timeout(
    engine: Engine, make_settings: SettingsFactory, webhook: HTTPReceiver
) -> None:
    s = make_settings(notify_urls=webhook.url(), notify_timeout=1.0)
    add_alert(engine, load_targets(s), T0)
    webhook.hang = threading.Event()
    started = time.monotonic()
    report = deliver_due(engine, s, owner=OWNER, now=T0)
    elapsed = time.monotonic() - started
    assert report == DeliveryReport(retried=1)
    assert elapsed < 1.0 + 29.0  # unbounded without the timeout: the hang lasts the test
    assert len(webhook.requests) == 1


def test_a_hanging_smtp_server_is_bounded_by_the_notify_timeout(
    engine: Engine, make_settings: SettingsFactory, silent_port: int
) -> None:
    url = f"mailto://127.0.0.1:{silent_port}?from=a@example.org&to=b@example.org"
    s = make_settings(notify_urls=url, notify_timeout=1.0)
    add_alert(engine, load_targets(s), T0)
    started = time.monotonic()
    assert deliver_due(engine, s, owner=OWNER, now=T0) == DeliveryReport(retried=1)
    assert time.monotonic() - started < 1.0 + 29.0  # the silent server never answers


def test_after_a_failure_the_targets_other_deliveries_wait_without_spending_attempts(
    engine: Engine, make_settings: SettingsFactory, webhook: HTTPReceiver
) -> None:
    s = make_settings(notify_urls=webhook.url())
    targets = load_targets(s)
    for key in ("a", "b", "c"):
        add_alert(engine, targets, T0, key=key)
    webhook.status = 503
    assert deliver_due(engine, s, owner=OWNER, now=T0) == DeliveryReport(retried=3)
    assert len(webhook.requests) == 1
    first, second, third = deliveries(engine)
    assert [first.attempts, second.attempts, third.attempts] == [1, 0, 0]
    assert second.next_attempt_at == third.next_attempt_at == first.next_attempt_at
    assert second.lease_owner is None


# Digests ---------------------------------------------------------------------------------------


def test_a_digest_target_gets_three_alerts_as_one_message(
    engine: Engine, make_settings: SettingsFactory, webhook: HTTPReceiver
) -> None:
    s = make_settings(notify_urls=webhook.url() + "?digest=1h")
    targets = load_targets(s)
    titles = ["Asylum deal struck", "Deportations rise", "Citizenship test changes"]
    for minute, title in enumerate(titles):
        add_alert(engine, targets, T0 + timedelta(minutes=minute), key=title, title=title)
    assert deliver_due(engine, s, owner=OWNER, now=T0 + timedelta(minutes=30)) == DeliveryReport()
    assert webhook.requests == []
    report = deliver_due(engine, s, owner=OWNER, now=T0 + timedelta(hours=1))
    assert report == DeliveryReport(sent=3)
    (request,) = webhook.requests
    document = request.json()
    assert document["title"].startswith("cphpost-monitor: 3 alerts")
    assert all(title in document["message"] for title in titles)
    assert document["idempotency_key"].count("alert-") == 3


def test_a_failed_digest_is_retried_as_one_message(
    engine: Engine, make_settings: SettingsFactory, webhook: HTTPReceiver
) -> None:
    s = make_settings(notify_urls=webhook.url() + "?digest=1h")
    targets = load_targets(s)
    for title in ("First", "Second", "Third"):
        add_alert(engine, targets, T0, key=title, title=title)
    webhook.statuses = [500]
    end = T0 + timedelta(hours=1)
    assert deliver_due(engine, s, owner=OWNER, now=end) == DeliveryReport(retried=3)
    retry_times = {d.next_attempt_at for d in deliveries(engine)}
    assert len(retry_times) == 1
    assert deliver_due(engine, s, owner=OWNER, now=retry_times.pop()) == DeliveryReport(sent=3)
    assert [r.answered for r in webhook.requests] == [500, 200]
    assert all(t in webhook.requests[1].json()["message"] for t in ("First", "Second", "Third"))


# Leases ----------------------------------------------------------------------------------------


def test_a_delivery_leased_by_another_live_owner_is_not_sent(
    engine: Engine, make_settings: SettingsFactory, webhook: HTTPReceiver
) -> None:
    s = make_settings(notify_urls=webhook.url())
    add_alert(engine, load_targets(s), T0)
    lease(engine, "worker-2", timedelta(seconds=30))
    assert deliver_due(engine, s, owner=OWNER, now=T0) == DeliveryReport()
    assert webhook.requests == []
    (delivery,) = deliveries(engine)
    assert delivery.lease_owner == "worker-2" and delivery.status == "pending"


def test_an_expired_lease_is_taken_over(
    engine: Engine, make_settings: SettingsFactory, webhook: HTTPReceiver
) -> None:
    s = make_settings(notify_urls=webhook.url())
    add_alert(engine, load_targets(s), T0)
    lease(engine, "crashed-worker", timedelta(seconds=-1))
    assert deliver_due(engine, s, owner=OWNER, now=T0) == DeliveryReport(sent=1)
    assert len(webhook.requests) == 1
    (delivery,) = deliveries(engine)
    assert delivery.status == "sent" and delivery.lease_owner is None


def test_a_result_is_not_recorded_once_the_lease_was_taken_over(
    engine: Engine,
    make_settings: SettingsFactory,
    webhook: HTTPReceiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from monitor.alerts import deliver

    s = make_settings(notify_urls=webhook.url())
    add_alert(engine, load_targets(s), T0)
    real_send = deliver.send

    def send_while_taken_over(*args: object, **kwargs: object) -> deliver.SendResult:
        lease(engine, "worker-2", timedelta(minutes=5))  # our lease expired mid-send
        return real_send(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(deliver, "send", send_while_taken_over)
    assert deliver_due(engine, s, owner=OWNER, now=T0) == DeliveryReport()
    (delivery,) = deliveries(engine)
    assert (delivery.status, delivery.lease_owner, delivery.attempts) == ("pending", "worker-2", 0)


def test_a_delivery_retaken_while_earlier_ones_were_sending_is_left_alone(
    engine: Engine,
    make_settings: SettingsFactory,
    webhook: HTTPReceiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from monitor.alerts import deliver

    s = make_settings(notify_urls=webhook.url())
    targets = load_targets(s)
    add_alert(engine, targets, T0, key="a", title="First")
    second = add_alert(engine, targets, T0, key="b", title="Second")
    real_send = deliver.send

    def slow_send(*args: object, **kwargs: object) -> deliver.SendResult:
        with session(engine) as db:  # meanwhile our lease on the second ran out and was retaken
            row = db.exec(select(Delivery).where(col(Delivery.alert_id) == second)).one()
            row.lease_owner = "worker-2"
            db.add(row)
        return real_send(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(deliver, "send", slow_send)
    assert deliver_due(engine, s, owner=OWNER, now=T0) == DeliveryReport(sent=1)
    assert [r.json()["title"] for r in webhook.requests] == ["Article changed: First"]


# The log fallback and secrets ------------------------------------------------------------------


def test_without_targets_alerts_go_to_the_log_and_a_jsonl_file(
    engine: Engine, make_settings: SettingsFactory, caplog: pytest.LogCaptureFixture
) -> None:
    s = make_settings()
    alert_id = add_alert(engine, [], T0, title="Asylum deal struck")
    with caplog.at_level(logging.INFO, logger="monitor.alerts"):
        assert deliver_due(engine, s, owner=OWNER, now=T0) == DeliveryReport(sent=1)
    (line,) = (s.data_dir / "alerts.jsonl").read_text().splitlines()
    record = json.loads(line)
    assert record["idempotency_key"] == f"alert-{alert_id}-log"
    assert record["payload"]["title"] == "Asylum deal struck"
    assert f"alert {alert_id} [changed] Asylum deal struck https://cphpost.dk/" in caplog.text


def test_a_delivery_to_a_target_this_process_lacks_is_left_to_its_owner(
    engine: Engine, make_settings: SettingsFactory, webhook: HTTPReceiver
) -> None:
    old = make_settings(notify_urls=webhook.url("json", "/old"))
    add_alert(engine, load_targets(old), T0)
    new = make_settings(notify_urls=webhook.url("json", "/new"))
    assert deliver_due(engine, new, owner=OWNER, now=T0) == DeliveryReport(sent=1)
    assert [r.path for r in webhook.requests] == ["/new"]
    pending = [d for d in deliveries(engine) if d.status == DeliveryStatus.PENDING]
    assert [(d.target, d.attempts) for d in pending] == [(load_targets(old)[0].key, 0)]
    assert deliver_due(engine, old, owner=OWNER, now=T0) == DeliveryReport(sent=1)
    assert [r.path for r in webhook.requests] == ["/new", "/old"]


def test_no_secret_reaches_the_logs_or_the_outbox_when_sends_fail(
    engine: Engine,
    make_settings: SettingsFactory,
    slack: HTTPReceiver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    password = "Pa55w0rdSecret"
    s = make_settings(notify_urls=f"{slack_url()} {slack.url(userinfo=f'hook:{password}')}")
    add_alert(engine, load_targets(s), T0)
    slack.status = 500
    with caplog.at_level(logging.DEBUG):
        assert deliver_due(engine, s, owner=OWNER, now=T0).retried == 2
    errors = " ".join(d.last_error or "" for d in deliveries(engine))
    assert "500" in errors
    for secret in (password, "XsecretSlackToken0123456789", "B0SECRET2"):
        assert secret not in caplog.text and secret not in errors
