"""Draining the outbox: claim due deliveries, send them outside any transaction, record results.

Three short steps per run, so a slow or hanging target never holds a database lock:

1. claim: ``SELECT … FOR UPDATE SKIP LOCKED`` the due pending deliveries whose lease is free
   or expired, and lease them to ``owner`` for ``notify_timeout × 2 + 30 s``;
2. send: one apprise instance per target, network waits bounded by ``notify_timeout``;
3. record: ``sent`` only while still leased by ``owner``, otherwise a retry after
   ``delivery_backoff × 2^(attempts-1)`` (capped, ±10 % jitter) or ``failed`` after
   ``delivery_max_attempts``.

A send that succeeded is recorded in its own transaction right away, so a crash loses at most
the record of the one send in flight: that delivery is sent again once its lease expires
(at-least-once in that window). Every message carries ``alert-{alert_id}-{target}`` so a
receiver can drop the repeat. ``docs/alerts.md`` has the full analysis.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Engine, or_, update
from sqlmodel import col, select

from monitor.alerts import AlertKind
from monitor.alerts.outbox import fan_out, idempotency_key
from monitor.alerts.render import (
    Format,
    Message,
    build_payload,
    one_line,
    render,
    render_digest,
    safe_link,
)
from monitor.alerts.send import MAX_ERROR, SendResult, send
from monitor.alerts.targets import (
    LOG_TARGET,
    Target,
    TargetError,
    install_redaction,
    load_targets,
    redact,
)
from monitor.db import session
from monitor.files import private_file
from monitor.models import Alert, Delivery, DeliveryStatus
from monitor.settings import Settings

log = logging.getLogger("monitor.alerts")

MAX_BACKOFF = 6 * 3600.0
JITTER = 0.10
JSONL_NAME = "alerts.jsonl"


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """What one :func:`deliver_due` run did (deferred deliveries count as ``retried``)."""

    sent: int = 0
    failed: int = 0
    retried: int = 0

    def __add__(self, other: DeliveryReport) -> DeliveryReport:
        return DeliveryReport(
            self.sent + other.sent, self.failed + other.failed, self.retried + other.retried
        )


@dataclass(frozen=True, slots=True)
class _Claimed:
    """A leased delivery, copied out of the claiming transaction."""

    delivery_id: int
    alert_id: int
    target: str
    attempts: int
    kind: str
    payload: dict[str, Any]
    created_at: datetime

    @property
    def key(self) -> str:
        return idempotency_key(self.alert_id, self.target)


def lease_seconds(settings: Settings) -> float:
    """Long enough for one bounded send (connect + read waits) plus slack for the bookkeeping."""
    return settings.notify_timeout * 2 + 30


def backoff(settings: Settings, attempts: int, rng: random.Random | None = None) -> float:
    """Seconds before attempt ``attempts + 1``: doubling from ``delivery_backoff``, capped."""
    base = settings.delivery_backoff * 2 ** max(0, attempts - 1)
    jitter = (rng or random).uniform(1 - JITTER, 1 + JITTER)
    return min(base, MAX_BACKOFF) * jitter


# The run -------------------------------------------------------------------------------------


def deliver_due(
    engine: Engine,
    settings: Settings,
    *,
    owner: str,
    now: datetime | None = None,
    limit: int = 50,
    targets: Sequence[Target] | None = None,
) -> DeliveryReport:
    """Send what is due now; safe to run from several processes against one database.

    ``now`` fixes the clock for claiming, scheduling and ``sent_at`` (tests); ``targets``
    defaults to :func:`load_targets` (a broken configuration is logged, nothing is claimed).
    """
    if targets is None:
        try:
            targets = load_targets(settings)
        except TargetError as exc:
            log.error("alerts not delivered: %s", exc)
            return DeliveryReport()
    install_redaction()
    clock = now or _utcnow()
    fan_out(engine, targets, clock, settings.ops_tag)
    by_key = {t.key: t for t in targets}
    by_key[LOG_TARGET.key] = LOG_TARGET  # log rows written by older versions are delivered too
    claimed = _claim(engine, settings, owner, clock, limit, list(by_key))
    report = DeliveryReport()
    for key, items in _group(claimed).items():
        report += _deliver_target(engine, settings, owner, by_key.get(key), key, items, now)
    return report


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _claim(
    engine: Engine, settings: Settings, owner: str, now: datetime, limit: int, keys: list[str]
) -> list[_Claimed]:
    """Lease due deliveries to this process's own targets (others are left to their owners)."""
    until = now + timedelta(seconds=lease_seconds(settings))
    with session(engine) as db:
        rows = db.exec(
            select(Delivery, Alert)
            .join(Alert, col(Alert.id) == col(Delivery.alert_id))
            .where(
                col(Delivery.status) == DeliveryStatus.PENDING,
                col(Delivery.target).in_(keys),
                col(Delivery.next_attempt_at) <= now,
                or_(col(Delivery.lease_expires).is_(None), col(Delivery.lease_expires) <= now),
            )
            .order_by(col(Delivery.next_attempt_at), col(Delivery.id))
            .limit(limit)
            .with_for_update(skip_locked=True, of=Delivery)
        ).all()
        claimed = []
        for delivery, alert in rows:
            delivery.lease_owner, delivery.lease_expires = owner, until
            db.add(delivery)
            assert delivery.id is not None and alert.id is not None
            claimed.append(
                _Claimed(
                    delivery.id,
                    alert.id,
                    delivery.target,
                    delivery.attempts,
                    alert.kind,
                    dict(alert.payload),
                    alert.created_at,
                )
            )
    return claimed


def _group(claimed: list[_Claimed]) -> dict[str, list[_Claimed]]:
    groups: dict[str, list[_Claimed]] = {}
    for item in claimed:
        groups.setdefault(item.target, []).append(item)
    return groups


def _deliver_target(
    engine: Engine,
    settings: Settings,
    owner: str,
    target: Target | None,
    key: str,
    items: list[_Claimed],
    now: datetime | None,
) -> DeliveryReport:
    """All claimed deliveries of one target: a digest as one message, else one by one."""
    if target is None:
        problem = SendResult(False, f"target {key} is no longer configured")
        return _record(engine, settings, owner, items, problem, now)
    if target is LOG_TARGET:
        report = DeliveryReport()
        for item in items:
            report += _record(engine, settings, owner, [item], _to_log(settings, item), now)
        return report
    if target.digest > 0:
        items = sorted(_renew(engine, settings, owner, items, now), key=_oldest_first)
        if not items:
            return DeliveryReport()

        def digest(fmt: Format) -> Message:
            return render_digest([i.payload for i in items], fmt)

        kind = items[0].kind if len(items) == 1 else "digest"
        result = send(target, digest, [i.key for i in items], kind, settings.notify_timeout)
        return _record(engine, settings, owner, items, result, now)
    report = DeliveryReport()
    for index, item in enumerate(items):
        if not _renew(engine, settings, owner, [item], now):
            continue

        def single(fmt: Format, item: _Claimed = item) -> Message:
            return render(item.payload, fmt)

        result = send(target, single, [item.key], item.kind, settings.notify_timeout)
        report += _record(engine, settings, owner, [item], result, now)
        if not result.ok and index + 1 < len(items):
            # Don't wait out the same timeout again and again in one run: the rest of this
            # target's deliveries wait for the retry, without spending one of their attempts.
            report += _defer(engine, owner, items[index + 1 :], item.delivery_id, result)
            break
    return report


def _oldest_first(item: _Claimed) -> tuple[datetime, int]:
    return item.created_at, item.alert_id


def _renew(
    engine: Engine, settings: Settings, owner: str, items: list[_Claimed], now: datetime | None
) -> list[_Claimed]:
    """Extend our lease right before a send; drop deliveries whose lease another worker took.

    Sends earlier in this run may have used up much of the lease taken at claim time; without
    this, a later delivery of a long run could be retaken and sent twice.
    """
    until = (now or _utcnow()) + timedelta(seconds=lease_seconds(settings))
    ids = [i.delivery_id for i in items]
    mine = (
        col(Delivery.id).in_(ids),
        col(Delivery.lease_owner) == owner,
        col(Delivery.status) == DeliveryStatus.PENDING,
    )
    with session(engine) as db:
        db.execute(
            update(Delivery)
            .where(*mine)
            .values(lease_expires=until)
            .execution_options(synchronize_session=False)
        )
        kept = set(db.exec(select(Delivery.id).where(*mine)).all())
    return [i for i in items if i.delivery_id in kept]


# Recording -----------------------------------------------------------------------------------


def _record(
    engine: Engine,
    settings: Settings,
    owner: str,
    items: list[_Claimed],
    result: SendResult,
    now: datetime | None,
) -> DeliveryReport:
    """One short transaction: mark ``items`` sent, retried or failed (while leased by us)."""
    clock = now or _utcnow()
    error = redact(result.detail)[:MAX_ERROR] or "delivery failed"
    # One retry time for the whole group, so a digest that failed is retried as one message.
    retry_at = clock + timedelta(seconds=backoff(settings, max(i.attempts for i in items) + 1))
    sent = failed = retried = 0
    with session(engine) as db:
        for item in items:
            attempts = item.attempts + 1
            values: dict[str, Any] = {"attempts": attempts, "lease_owner": None}
            values["lease_expires"] = None
            if result.ok:
                values.update(status=DeliveryStatus.SENT, sent_at=clock, last_error=None)
            elif attempts >= settings.delivery_max_attempts:
                values.update(status=DeliveryStatus.FAILED, last_error=error)
            else:
                values.update(next_attempt_at=retry_at, last_error=error)
            outcome = db.execute(
                update(Delivery)
                .where(
                    col(Delivery.id) == item.delivery_id,
                    col(Delivery.lease_owner) == owner,
                    col(Delivery.status) == DeliveryStatus.PENDING,
                )
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            if not cast(CursorResult[Any], outcome).rowcount:
                log.warning(
                    "delivery %s (%s): the lease was taken over before the result was recorded",
                    item.delivery_id,
                    item.key,
                )
                continue
            if result.ok:
                sent += 1
            elif values.get("status") == DeliveryStatus.FAILED:
                failed += 1
                log.error(
                    "alert %s to target %s: gave up after %d attempts: %s",
                    item.alert_id, item.target, attempts, error,
                )  # fmt: skip
            else:
                retried += 1
                log.warning(
                    "alert %s to target %s: attempt %d failed, next at %s: %s",
                    item.alert_id, item.target, attempts,
                    values["next_attempt_at"].isoformat(timespec="seconds"), error,
                )  # fmt: skip
    return DeliveryReport(sent, failed, retried)


def release_deliveries(engine: Engine, owner: str) -> int:
    """Give back the delivery leases of ``owner``, a process known to be dead: due at once.

    A send it had in flight may have reached its target before it died: the same
    at-least-once window as a lease that expires, only shorter (the idempotency key is kept).
    """
    with session(engine) as db:
        result = db.execute(
            update(Delivery)
            .where(
                col(Delivery.lease_owner) == owner,
                col(Delivery.status) == DeliveryStatus.PENDING,
            )
            .values(lease_owner=None, lease_expires=None)
            .execution_options(synchronize_session=False)
        )
        return cast(CursorResult[Any], result).rowcount or 0


def _defer(
    engine: Engine, owner: str, items: list[_Claimed], failed_id: int, result: SendResult
) -> DeliveryReport:
    """Release ``items`` to be tried when the failed delivery ``failed_id`` is retried."""
    note = f"not attempted: the target just failed ({redact(result.detail)})"[:MAX_ERROR]
    with session(engine) as db:
        failed = db.get(Delivery, failed_id)
        if failed is None or failed.status != DeliveryStatus.PENDING:
            when = None
        else:
            when = failed.next_attempt_at
        values: dict[str, Any] = {"lease_owner": None, "lease_expires": None, "last_error": note}
        if when is not None:
            values["next_attempt_at"] = when
        ids = [i.delivery_id for i in items]
        db.execute(
            update(Delivery)
            .where(col(Delivery.id).in_(ids), col(Delivery.lease_owner) == owner)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
    return DeliveryReport(retried=len(items))


def _to_log(settings: Settings, item: _Claimed) -> SendResult:
    """The no-configuration fallback: one log line and one JSON line in the data directory."""
    path = settings.data_dir / JSONL_NAME
    record = {
        "idempotency_key": item.key,
        "alert_id": item.alert_id,
        "kind": item.kind,
        "created_at": item.created_at.isoformat(),
        "payload": item.payload,
    }
    try:
        with private_file(path).open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    except OSError as exc:
        return SendResult(False, f"cannot write {path}: {exc.strerror}")
    title = one_line(str(item.payload.get("title") or ""))[:200]
    link = safe_link(str(item.payload.get("url") or ""))
    log.info("alert %s [%s] %s %s (no notify URL set)", item.alert_id, item.kind, title, link)
    return SendResult(True, "logged")


# The test command ----------------------------------------------------------------------------


def send_test(settings: Settings, tag: str | None) -> list[tuple[str, bool, str]]:
    """Send a test notification to every target (or those tagged ``tag``): (masked, ok, detail).

    Raises :class:`TargetError` for a broken configuration; an empty list means no target
    (matched).
    """
    targets = load_targets(settings)
    if tag:
        wanted = tag.strip().lower()
        targets = [t for t in targets if wanted in t.tags]
    now = _utcnow()
    payload = build_payload(
        kind=AlertKind.TEST,
        url=settings.site_url,
        title="cphpost-monitor test notification",
        section="",
        published=now.isoformat(),
        topics=[],
        evidence="",
        changes=[],
        diff_html=None,
        change_kinds=[],
        detail="If you can read this, cphpost-monitor alerts reach this target.",
    )
    results = []
    for target in targets:
        key = f"test-{now:%Y%m%dT%H%M%S}-{target.key}"

        def message(fmt: Format) -> Message:
            return render(payload, fmt)

        result = send(target, message, [key], AlertKind.TEST, settings.notify_timeout)
        results.append((target.masked, result.ok, result.detail))
    return results
