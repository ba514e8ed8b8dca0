"""Alerts: who is told what, through which channel, and the outbox that makes it reliable.

``targets`` parses the configured apprise URLs and routes an alert to them; ``render`` turns a
stored payload into a title and body per format (pure); ``outbox`` writes an alert and its
deliveries in the caller's transaction; ``deliver`` sends due deliveries outside any
transaction and records the outcome per target. See ``docs/alerts.md``.
"""

from __future__ import annotations

from enum import StrEnum


class AlertKind(StrEnum):
    """The stories worth telling someone about (the values are stored in ``Alert.kind``)."""

    NEW = "new"  # a new migration-relevant article
    CHANGED = "changed"  # substantive edit: headline, standfirst, body, correction
    PAYWALL = "paywall"  # the paywall went up or came down
    DELETED = "deleted"
    RESTORED = "restored"
    RELEVANCE_GAINED = "relevance_gained"  # an edit made the article migration-relevant
    OPS_FAILURE = "ops_failure"  # the site is unreachable or the scraper broke
    OPS_RECOVERED = "ops_recovered"
    TEST = "test"  # `cphpost-monitor alerts test`; never stored


OPS_KINDS = frozenset({AlertKind.OPS_FAILURE.value, AlertKind.OPS_RECOVERED.value})


def is_ops_kind(kind: str) -> bool:
    """Operator alerts are routed by the ops tag, not by topic."""
    return kind in OPS_KINDS or kind.startswith("ops_")


__all__ = ["OPS_KINDS", "AlertKind", "is_ops_kind"]
