"""The outbox on PostgreSQL: row locks, SKIP LOCKED claims and concurrent dedupe."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from monitor.alerts.deliver import DeliveryReport, deliver_due
from monitor.alerts.outbox import enqueue
from monitor.alerts.targets import load_targets
from monitor.db import engine_for, session, upgrade
from monitor.models import Alert, Delivery
from tests.alerts.conftest import T0, HTTPReceiver, SettingsFactory
from tests.alerts.helpers import add_alert, alerts, deliveries, payload
from tests.dbs import pg_schema_url

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_engine() -> Iterator[Engine]:
    with pg_schema_url() as url:
        upgrade(url)
        engine = engine_for(url)
        yield engine
        engine.dispose()


def test_a_delivery_row_locked_by_another_worker_is_skipped(
    pg_engine: Engine, make_settings: SettingsFactory, webhook: HTTPReceiver
) -> None:
    s = make_settings(notify_urls=webhook.url())
    targets = load_targets(s)
    first = add_alert(pg_engine, targets, T0, key="a", title="Locked elsewhere")
    add_alert(pg_engine, targets, T0, key="b", title="Free to send")
    with Session(pg_engine) as other:  # another worker mid-claim: holds the row lock
        other.exec(select(Delivery).where(col(Delivery.alert_id) == first).with_for_update()).one()
        assert deliver_due(pg_engine, s, owner="me", now=T0) == DeliveryReport(sent=1)
        other.rollback()
    assert [r.json()["title"] for r in webhook.requests] == ["Article changed: Free to send"]
    assert deliver_due(pg_engine, s, owner="me", now=T0) == DeliveryReport(sent=1)
    assert len(webhook.requests) == 2


def test_concurrent_enqueues_of_one_story_make_one_alert(pg_engine: Engine) -> None:
    def attempt(db: Session) -> Alert | None:
        return enqueue(
            db, [], kind="new", dedupe_key="new:7", payload=payload(), topics=[],
            article_id=None, change_id=None, now=T0, ops_tag="ops",
        )  # fmt: skip

    results: list[Alert | None] = []
    with session(pg_engine) as first:
        assert attempt(first) is not None  # inserted, not yet committed

        def second() -> None:
            with session(pg_engine) as db:  # blocks on the unique index until the commit
                results.append(attempt(db))

        thread = threading.Thread(target=second)
        thread.start()
        thread.join(0.5)
        assert thread.is_alive()
    thread.join(10)
    assert results == [None]
    assert len(alerts(pg_engine)) == 1 and len(deliveries(pg_engine)) == 0
