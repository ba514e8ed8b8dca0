"""The outbox: an alert is a row written in the caller's transaction; targets come later.

Because the alert is committed together with the change that caused it, a crash can never
leave a change without its alert or an alert without its change. Targets are resolved at
delivery: each delivering process adds the missing ``Delivery`` rows for its own configured
targets (:func:`fan_out`, routed by topic) and then claims them, so an alert queued by a
process without targets (``check URL`` from a shell) still reaches the daemon's. One row per
alert and target (unique): a target is sent an alert once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, exists
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from monitor.alerts.targets import LOG_TARGET, Target, route
from monitor.db import session
from monitor.models import Alert, Delivery, State


def idempotency_key(alert_id: int, target: str) -> str:
    """The same for every attempt of one alert to one target, so receivers can deduplicate."""
    return f"alert-{alert_id}-{target}"


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
    """Add an alert, and a pending delivery per routed target in ``targets`` (may be empty:
    delivering processes add their own with :func:`fan_out`), in ``db``'s transaction.

    Returns None, inserting nothing, when ``dedupe_key`` is already in the outbox (one story,
    one alert), including when a concurrent transaction inserts it first.
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
    for target in route(targets, kind, topics, ops_tag):
        db.add(
            Delivery(
                alert_id=alert.id,
                target=target.key,
                next_attempt_at=digest_due(now, target.digest),
            )
        )
    db.flush()
    return alert


FAN_OUT_WINDOW = timedelta(days=1)


def fan_out(engine: Engine, targets: Sequence[Target], now: datetime, ops_tag: str) -> int:
    """Add the missing deliveries of recent alerts to ``targets`` (this process's own; with
    none configured, :data:`LOG_TARGET`); returns how many. Idempotent and safe to race: the
    unique (alert, target) index decides, a losing insert is rolled back to a savepoint.

    A target gets the alerts created since it was first configured in any process (a small
    registry in the ``state`` table), so a target added to the configuration is not sent the
    history; an alert queued while no process with that target ran is still sent. Only alerts
    created within :data:`FAN_OUT_WINDOW` are considered at all.
    """
    chosen = list(targets) or [LOG_TARGET]
    added = 0
    with session(engine) as db:
        since = _first_seen(db, chosen, now)
        recent = db.exec(
            select(Alert.id, Alert.kind, Alert.topics, Alert.created_at).where(
                col(Alert.created_at) >= now - FAN_OUT_WINDOW
            )
        ).all()
        if not recent:
            return 0
        ids = [row[0] for row in recent]
        have = set(
            db.exec(
                select(Delivery.alert_id, Delivery.target).where(col(Delivery.alert_id).in_(ids))
            ).all()
        )
        for alert_id, kind, topics, created_at in recent:
            for target in route(chosen, kind, list(topics or []), ops_tag):
                if (alert_id, target.key) in have or _aware(created_at) < since[target.key]:
                    continue
                try:
                    with db.begin_nested():
                        db.add(
                            Delivery(
                                alert_id=int(alert_id or 0),
                                target=target.key,
                                next_attempt_at=digest_due(created_at, target.digest),
                            )
                        )
                        db.flush()
                    added += 1
                except IntegrityError:
                    continue
    return added


TARGETS_STATE = "delivery_targets"  # target key → when a process first delivered to it
# A target new to the registry counts from when this process started, so the alerts that its
# own first checks queue (run --once: checks, then delivery) are its too.
PROCESS_STARTED = datetime.now(UTC)


def _first_seen(db: Session, targets: Sequence[Target], now: datetime) -> dict[str, datetime]:
    """When each target was first configured, registering the new ones as of ``now``."""
    row = db.get(State, TARGETS_STATE)
    known = dict(row.value) if row is not None else {}
    start = min(now, PROCESS_STARTED).isoformat()
    missing = {t.key: start for t in targets if t.key not in known}
    if missing:
        known.update(missing)
        if row is None:
            row = State(key=TARGETS_STATE, value=known)
        else:
            row.value = known  # a new dict: the JSON column sees the change
        db.add(row)
        db.flush()
    return {t.key: _aware(datetime.fromisoformat(known[t.key])) for t in targets}


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


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
