"""What a check comes to: its outcome (an enum), its report, the page prepared before its
transaction, and which alert a new version earns (pure values, shared by every driver)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from monitor.classify import Classification
from monitor.diff import ChangeKind, Diff, Significance
from scrapers.article import Article as Page
from scrapers.article import ExtractionFailure


class Outcome(StrEnum):
    """What one check came to; stored in the fetch log, counted by the metrics."""

    NOT_MODIFIED = "not_modified"  # 304 to our validators
    UNCHANGED = "unchanged"  # 200, the same content as the current version
    NEW = "new"  # the first version
    CHANGED = "changed"  # a new version
    RESTORED = "restored"  # back after it was gone
    MISSING = "missing"  # a first 404/410, to be confirmed
    DELETED = "deleted"  # confirmed gone
    GONE = "gone"  # still gone
    REVERSION_HELD = "reversion_held"  # back to an earlier version: held until confirmed
    REVERSION_DROPPED = "reversion_dropped"  # a held reversion that did not come back
    TRANSIENT = "transient"  # a network error or a server error: retried
    EXTRACTION_FAILED = "extraction_failed"  # a page the scraper could not read: retried
    DEFERRED = "deferred"  # the site asked us to wait (Retry-After): next check when it said
    LEASE_LOST = "lease_lost"  # another worker took the article over: nothing recorded


FAILED = frozenset({Outcome.TRANSIENT, Outcome.EXTRACTION_FAILED, Outcome.DEFERRED})
NEW_VERSION = frozenset({Outcome.NEW, Outcome.CHANGED})
NOT_EXTRACTED = frozenset(
    {
        Outcome.NOT_MODIFIED,
        Outcome.MISSING,
        Outcome.DELETED,
        Outcome.GONE,
        Outcome.TRANSIENT,
        Outcome.DEFERRED,
        Outcome.LEASE_LOST,
    }
)


@dataclass(slots=True)
class Report:
    """What one check came to (for logs, counters, ops health and tests)."""

    url: str
    outcome: Outcome
    status: int | None = None
    error: str | None = None
    relevant: bool = False
    alerts: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.outcome in FAILED

    @property
    def extracted(self) -> bool:
        """Whether a page was run through extraction (for the scraper's health)."""
        return self.status != 304 and self.outcome not in NOT_EXTRACTED


@dataclass(frozen=True, slots=True)
class Prepared:
    """The pure part of a check, done before its transaction: the page extracted from a 200
    (or why it could not be), its fingerprint, and its classification (None when the page's
    fingerprint is the current version's: an unchanged page is not classified again)."""

    page: Page | ExtractionFailure
    fingerprint: str | None = None
    verdict: Classification | None = None


def alert_kind(
    *, is_new: bool, was_relevant: bool, relevant: bool, diff: Diff, restored: bool = False
) -> str | None:
    """Which alert, if any, a new version earns (pure: the routing of attention)."""
    if is_new:
        return "new" if relevant else None
    if not (was_relevant or relevant):
        return None  # never about migration, before or after
    if restored:
        return "restored"
    if relevant and not was_relevant:
        return "relevance_gained"
    if ChangeKind.PAYWALL in diff.kinds:
        return "paywall"
    if diff.significance >= Significance.SUBSTANTIVE:
        return "changed"
    return None  # cosmetic and minor edits are stored, not alerted
