"""Query parameters of the web view, parsed strictly: a bad value is a 400, never a traceback."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from monitor.diff import ChangeKind, Significance

PAGE_SIZE = 50
MAX_PAGE = 10_000
_TOPIC = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class BadRequest(Exception):
    """A query parameter the view cannot use; the message says which and why."""


def check_topic(value: str) -> str:
    if not _TOPIC.match(value):
        raise BadRequest(f"topic {value[:40]!r} is not a topic name such as asylum")
    return value


@dataclass(frozen=True, slots=True)
class ChangeFilter:
    """What ``/``, ``/api/changes`` and the change exports select."""

    topic: str | None = None
    kind: ChangeKind | None = None
    significance: Significance | None = None  # at least this
    since: date | None = None  # inclusive, UTC
    until: date | None = None  # inclusive, UTC
    page: int = 1

    @property
    def start(self) -> datetime | None:
        return datetime.combine(self.since, time(), UTC) if self.since else None

    @property
    def end(self) -> datetime | None:
        """The first instant after ``until``."""
        return datetime.combine(self.until + timedelta(days=1), time(), UTC) if self.until else None

    def query(self, **changes: object) -> dict[str, str]:
        """These filters as query parameters (for links that keep them), with ``changes``."""
        values: dict[str, object] = {
            "topic": self.topic,
            "kind": self.kind.value if self.kind else None,
            "significance": self.significance.label if self.significance else None,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "page": self.page if self.page != 1 else None,
        }
        values.update(changes)
        return {k: str(v) for k, v in values.items() if v not in (None, "")}


def _one(params: Mapping[str, str], name: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None


def parse_date(name: str, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadRequest(f"{name} must be a date such as 2024-05-01, not {value[:40]!r}") from None


def parse_int(name: str, value: str | None, default: int, low: int, high: int) -> int:
    if value is None:
        return default
    if not re.fullmatch(r"\d{1,9}", value):
        raise BadRequest(f"{name} must be a whole number, not {value[:40]!r}")
    number = int(value)
    if not low <= number <= high:
        raise BadRequest(f"{name} must be between {low} and {high}")
    return number


def parse_filter(params: Mapping[str, str]) -> ChangeFilter:
    topic = _one(params, "topic")
    kind = _one(params, "kind")
    significance = _one(params, "significance")
    try:
        parsed_kind = ChangeKind(kind) if kind else None
    except ValueError:
        known = ", ".join(k.value for k in ChangeKind)
        raise BadRequest(f"kind must be one of {known}") from None
    try:
        parsed_significance = Significance.parse(significance) if significance else None
    except (KeyError, ValueError):
        raise BadRequest("significance must be cosmetic, minor or substantive") from None
    since = parse_date("since", _one(params, "since"))
    until = parse_date("until", _one(params, "until"))
    if since and until and since > until:
        raise BadRequest("since must not be after until")
    return ChangeFilter(
        topic=check_topic(topic) if topic else None,
        kind=parsed_kind,
        significance=parsed_significance,
        since=since,
        until=until,
        page=parse_int("page", _one(params, "page"), 1, 1, MAX_PAGE),
    )
