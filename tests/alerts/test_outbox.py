"""The outbox: alerts and deliveries written in the caller's transaction, once per story."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, update
from sqlmodel import col

from monitor.alerts.deliver import deliver_due
from monitor.alerts.outbox import FAN_OUT_WINDOW, digest_due, enqueue, fan_out, list_alerts
from monitor.alerts.targets import Target, load_targets
from monitor.db import session
from monitor.models import Delivery, DeliveryStatus
from tests.alerts.conftest import T0, HTTPReceiver, SettingsFactory
from tests.alerts.helpers import add_alert, alerts, deliveries, payload


def target(key: str, *tags: str, digest: float = 0.0) -> Target:
    return Target(key=key, url=f"json://127.0.0.1/{key}", tags=frozenset(tags), digest=digest)


DESKS = [target("desk-a"), target("desk-b", "asylum"), target("desk-c", "labour")]


def test_enqueue_adds_the_alert_and_one_due_delivery_per_routed_target(engine: Engine) -> None:
    alert_id = add_alert(engine, DESKS, T0, topics=["asylum"])
    rows = deliveries(engine)
    assert [(d.alert_id, d.target) for d in rows] == [(alert_id, "desk-a"), (alert_id, "desk-b")]
    assert all(d.status == DeliveryStatus.PENDING and d.attempts == 0 for d in rows)
    assert all(d.next_attempt_at == T0 for d in rows)


def test_the_stored_alert_keeps_kind_topics_and_payload(engine: Engine) -> None:
    add_alert(engine, DESKS, T0, kind="new", topics=["asylum"], title="Asylum deal")
    (alert,) = alerts(engine)
    assert (alert.kind, alert.topics, alert.dedupe_key) == ("new", ["asylum"], "change:1")
    assert alert.payload["title"] == "Asylum deal" and alert.created_at == T0


def test_the_same_dedupe_key_twice_is_one_alert(engine: Engine) -> None:
    add_alert(engine, DESKS, T0, key="new:42")
    with session(engine) as db:
        again = enqueue(
            db,
            DESKS,
            kind="new",
            dedupe_key="new:42",
            payload=payload(),
            topics=["asylum"],
            article_id=None,
            change_id=None,
            now=T0,
            ops_tag="ops",
        )
    assert again is None
    assert len(alerts(engine)) == 1 and len(deliveries(engine)) == 2


def test_a_rolled_back_transaction_leaves_neither_alert_nor_deliveries(engine: Engine) -> None:
    with pytest.raises(RuntimeError), session(engine) as db:
        enqueue(
            db,
            DESKS,
            kind="new",
            dedupe_key="new:1",
            payload=payload(),
            topics=["asylum"],
            article_id=None,
            change_id=None,
            now=T0,
            ops_tag="ops",
        )
        raise RuntimeError("the change that caused the alert failed to commit")
    assert alerts(engine) == [] and deliveries(engine) == []


def test_a_duplicate_key_does_not_abort_the_callers_transaction(engine: Engine) -> None:
    add_alert(engine, DESKS, T0, key="new:1")
    with session(engine) as db:
        assert enqueue(
            db, DESKS, kind="new", dedupe_key="new:1", payload=payload(), topics=[],
            article_id=None, change_id=None, now=T0, ops_tag="ops",
        ) is None  # fmt: skip
        db.add(Delivery(alert_id=1, target="extra", next_attempt_at=T0))
    assert [d.target for d in deliveries(engine)][-1] == "extra"


def test_an_alert_is_queued_without_deliveries_and_a_process_with_no_target_adds_the_log(
    engine: Engine,
) -> None:
    add_alert(engine, [], T0)
    assert deliveries(engine) == []
    assert fan_out(engine, [], T0, "ops") == 1 and fan_out(engine, [], T0, "ops") == 0
    assert [d.target for d in deliveries(engine)] == ["log"]


def test_fan_out_routes_by_topic_and_skips_alerts_older_than_its_window(engine: Engine) -> None:
    add_alert(engine, [], T0 - FAN_OUT_WINDOW - timedelta(seconds=1), key="change:old")
    add_alert(engine, [], T0, key="change:new", topics=["asylum"])
    assert fan_out(engine, DESKS, T0, "ops") == 2
    assert sorted(d.target for d in deliveries(engine)) == ["desk-a", "desk-b"]


def test_an_alert_no_target_subscribed_to_is_kept_without_deliveries(engine: Engine) -> None:
    add_alert(engine, [target("labour", "labour")], T0, topics=["asylum"])
    assert len(alerts(engine)) == 1 and deliveries(engine) == []


def test_a_digest_target_is_due_at_the_end_of_its_window(engine: Engine) -> None:
    at = datetime(2024, 5, 1, 12, 20, tzinfo=UTC)
    add_alert(engine, [target("hourly", digest=3600), target("now")], at)
    due = {d.target: d.next_attempt_at for d in deliveries(engine)}
    assert due == {"hourly": datetime(2024, 5, 1, 13, 0, tzinfo=UTC), "now": at}


def test_alerts_of_one_digest_window_share_one_due_time() -> None:
    first = digest_due(datetime(2024, 5, 1, 12, 0, 1, tzinfo=UTC), 3600)
    last = digest_due(datetime(2024, 5, 1, 12, 59, 59, tzinfo=UTC), 3600)
    assert first == last == datetime(2024, 5, 1, 13, 0, tzinfo=UTC)


def test_ops_alerts_are_routed_to_the_ops_tag(engine: Engine) -> None:
    targets = [*DESKS, target("pager", "ops")]
    add_alert(engine, targets, T0, kind="ops_failure", topics=[], key="ops_failure:x")
    assert [d.target for d in deliveries(engine)] == ["pager"]


def test_list_alerts_filters_by_delivery_status(engine: Engine) -> None:
    first = add_alert(engine, DESKS, T0, key="a")
    second = add_alert(engine, DESKS, T0 + timedelta(minutes=1), key="b")
    with session(engine) as db:
        db.execute(
            update(Delivery)
            .where(col(Delivery.alert_id) == first)
            .values(status=DeliveryStatus.FAILED)
        )
        db.execute(
            update(Delivery)
            .where(col(Delivery.alert_id) == second)
            .values(status=DeliveryStatus.SENT)
        )
    assert [a.id for a, _ in list_alerts(engine)] == [second, first]
    assert [a.id for a, _ in list_alerts(engine, status=DeliveryStatus.FAILED)] == [first]
    assert list_alerts(engine, status=DeliveryStatus.PENDING) == []
    assert [len(ds) for _, ds in list_alerts(engine)] == [2, 2]


def test_an_alert_queued_without_targets_reaches_every_target_of_the_delivering_process_once(
    engine: Engine, make_settings: SettingsFactory, webhook: HTTPReceiver
) -> None:
    # `check URL` from a shell without CPHMON_NOTIFY_URLS, while the daemon has two targets
    add_alert(engine, [], T0, key="change:1", topics=["asylum"])
    daemon = make_settings(
        notify_urls=f"{webhook.url('json', '/a')} asylum={webhook.url('json', '/b')}"
    )
    assert deliver_due(engine, daemon, owner="daemon", now=T0).sent == 2
    assert deliver_due(engine, daemon, owner="daemon", now=T0 + timedelta(minutes=5)).sent == 0
    assert sorted(r.path for r in webhook.delivered) == ["/a", "/b"]
    assert sorted(d.target for d in deliveries(engine)) == sorted(
        t.key for t in load_targets(daemon)
    )


def test_a_process_without_targets_delivers_to_the_log_and_leaves_the_rest(
    engine: Engine, make_settings: SettingsFactory, webhook: HTTPReceiver
) -> None:
    add_alert(engine, [], T0, key="change:1")
    assert deliver_due(engine, make_settings(), owner="shell", now=T0).sent == 1
    daemon = make_settings(notify_urls=webhook.url())
    assert deliver_due(engine, daemon, owner="daemon", now=T0).sent == 1
    assert len(webhook.delivered) == 1
