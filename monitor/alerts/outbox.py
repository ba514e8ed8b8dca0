"""The outbox: an alert and its deliveries are rows written in the caller's transaction.

Because the alert is committed together with the change that caused it, a crash can never
leave a change without its alert or an alert without its change. Sending happens later, in
``deliver``, one ``Delivery`` row per alert and target (unique: a target can be sent an alert
once).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, exists
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from monitor.alerts.targets import LOG_TARGET, Target, route
from monitor.db import session
from monitor.models import Alert, Delivery


def enqueue(
    db: Session,
    targets: Sequence[Target],
    *,
    kind: str,
    dedupe_key: str,
    payload: dict[str, Any],
    topics: list[str],
    article_id: int | None,
    change_id: int | None,
    now: datetime,
    ops_tag: str,
) -> Alert | None:
    """Add an alert and one pending delivery per routed target, in ``db``'s transaction.

    Returns None, inserting nothing, when ``dedupe_key`` is already in the outbox (one story,
    one alert), including when a concurrent transaction inserts it first. With no targets
    configured at all, the alert goes to :data:`LOG_TARGET`; with targets configured but none
    routed (a topic nobody subscribed to), the alert is kept without deliveries.
    """
    if db.exec(select(Alert.id).where(col(Alert.dedupe_key) == dedupe_key)).first() is not None:
        return None
    alert = Alert(
        dedupe_key=dedupe_key,
        article_id=article_id,
        change_id=change_id,
        kind=str(kind),
        topics=list(topics),
        payload=payload,
        created_at=now,
    )
    try:
        with db.begin_nested():  # a concurrent insert of the same key must not abort the caller
            db.add(alert)
            db.flush()
    except IntegrityError:
        return None
    assert alert.id is not None
    chosen = route(targets, kind, topics, ops_tag) if targets else [LOG_TARGET]
    for target in chosen:
        db.add(
            Delivery(
                alert_id=alert.id,
                target=target.key,
                next_attempt_at=digest_due(now, target.digest),
            )
        )
    db.flush()
    return alert


def digest_due(now: datetime, window: float) -> datetime:
    """When an alert created at ``now`` is due: now, or the end of its digest window.

    Windows are aligned to the epoch (``1h`` windows end on the hour), so every alert of one
    window shares the same due time and goes out as one message.
    """
    if window <= 0:
        return now
    epoch = now.timestamp()
    end = (math.floor(epoch / window) + 1) * window
    return datetime.fromtimestamp(end, UTC)


def list_alerts(
    engine: Engine, *, status: str | None = None, limit: int = 20
) -> list[tuple[Alert, list[Delivery]]]:
    """The newest ``limit`` alerts (only those with a delivery in ``status``), deliveries too."""
    with session(engine) as db:
        query = select(Alert).order_by(col(Alert.created_at).desc(), col(Alert.id).desc())
        if status is not None:
            query = query.where(
                exists().where(
                    col(Delivery.alert_id) == col(Alert.id), col(Delivery.status) == status
                )
            )
        alerts = list(db.exec(query.limit(limit)).all())
        ids = [a.id for a in alerts]
        deliveries: dict[int, list[Delivery]] = {}
        if ids:
            for delivery in db.exec(
                select(Delivery).where(col(Delivery.alert_id).in_(ids)).order_by(col(Delivery.id))
            ).all():
                deliveries.setdefault(delivery.alert_id, []).append(delivery)
        return [(a, deliveries.get(a.id or 0, [])) for a in alerts]
