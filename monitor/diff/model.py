"""What a comparison produces: :class:`Diff`, its :class:`FieldChange` items and their kinds.

Plain values with a JSON form (``to_dict``/``from_dict``), stored in ``Change.diff``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Any


class ChangeKind(StrEnum):
    NEW = "new"
    HEADLINE = "headline"
    STANDFIRST = "standfirst"
    BODY = "body"
    BYLINE = "byline"
    DATES = "dates"
    TAGS = "tags"
    RELATED = "related"
    PAYWALL = "paywall"
    CORRECTION = "correction"
    DELETED = "deleted"
    RESTORED = "restored"


class Significance(IntEnum):
    """Ordered, so a diff's significance is the max over its changes."""

    NONE = 0
    COSMETIC = 1
    MINOR = 2
    SUBSTANTIVE = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, value: str | int) -> Significance:
        """From a label (``"minor"``) or its number, as stored JSON may hold either."""
        if isinstance(value, str):
            return cls[value.strip().upper()]
        return cls(value)


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One change to one field (for the body: to one group of paragraphs)."""

    kind: ChangeKind
    significance: Significance
    old: str
    new: str
    detail: str  # short human reason: 'number changed: 550 → 548', 'quote style only'

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "significance": self.significance.label,
            "old": self.old,
            "new": self.new,
            "detail": self.detail,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FieldChange:
        return cls(
            kind=ChangeKind(data["kind"]),
            significance=Significance.parse(data["significance"]),
            old=str(data.get("old", "")),
            new=str(data.get("new", "")),
            detail=str(data.get("detail", "")),
        )


@dataclass(frozen=True, slots=True)
class Diff:
    """All changes between two versions, in article order (headline first, tags last)."""

    changes: tuple[FieldChange, ...] = ()

    @property
    def significance(self) -> Significance:
        return max((c.significance for c in self.changes), default=Significance.NONE)

    @property
    def kinds(self) -> tuple[ChangeKind, ...]:
        return tuple(dict.fromkeys(c.kind for c in self.changes))

    @property
    def is_empty(self) -> bool:
        return not self.changes

    @property
    def alertable(self) -> bool:
        """Cosmetic changes are stored but never alerted."""
        return self.significance >= Significance.MINOR

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready. ``significance`` and ``kinds`` are derived, kept for querying the column."""
        return {
            "significance": self.significance.label,
            "kinds": [k.value for k in self.kinds],
            "changes": [c.to_dict() for c in self.changes],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Diff:
        return cls(tuple(FieldChange.from_dict(c) for c in data.get("changes", ())))
