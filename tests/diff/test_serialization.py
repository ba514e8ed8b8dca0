"""Diffs live in a JSON column; lifecycle diffs mark store state transitions."""

from __future__ import annotations

import json

import pytest

from monitor.diff import ChangeKind, Diff, FieldChange, Significance, diff_articles, lifecycle
from scrapers.article import Article


def test_round_trip_through_json(original: Article, corrected: Article) -> None:
    diff = diff_articles(original, corrected)
    assert Diff.from_dict(json.loads(json.dumps(diff.to_dict()))) == diff


def test_to_dict_shape() -> None:
    diff = Diff((FieldChange(ChangeKind.BODY, Significance.MINOR, "a b", "a c", "1 word changed"),))
    assert diff.to_dict() == {
        "significance": "minor",
        "kinds": ["body"],
        "changes": [
            {
                "kind": "body",
                "significance": "minor",
                "old": "a b",
                "new": "a c",
                "detail": "1 word changed",
            }
        ],
    }


def test_from_dict_accepts_numeric_significance() -> None:
    data = {"changes": [{"kind": "tags", "significance": 2, "old": "", "new": "x", "detail": ""}]}
    assert Diff.from_dict(data).significance is Significance.MINOR


def test_empty_diff() -> None:
    diff = Diff()
    assert (diff.is_empty, diff.significance, diff.kinds, diff.alertable) == (
        True,
        Significance.NONE,
        (),
        False,
    )
    assert Diff.from_dict(diff.to_dict()) == diff


def test_significance_labels() -> None:
    assert [s.label for s in Significance] == ["none", "cosmetic", "minor", "substantive"]


def test_kinds_are_distinct_in_order() -> None:
    change = FieldChange(ChangeKind.BODY, Significance.MINOR, "", "", "")
    headline = FieldChange(ChangeKind.HEADLINE, Significance.COSMETIC, "", "", "")
    diff = Diff((change, headline, change))
    assert diff.kinds == (ChangeKind.BODY, ChangeKind.HEADLINE)
    assert diff.significance is Significance.MINOR


def test_cosmetic_is_not_alertable() -> None:
    change = FieldChange(ChangeKind.BODY, Significance.COSMETIC, "", "", "")
    assert not Diff((change,)).alertable


def test_lifecycle_deleted() -> None:
    assert lifecycle(ChangeKind.DELETED).to_dict() == {
        "significance": "substantive",
        "kinds": ["deleted"],
        "changes": [
            {
                "kind": "deleted",
                "significance": "substantive",
                "old": "",
                "new": "",
                "detail": "article deleted (404/410 confirmed)",
            }
        ],
    }


def test_lifecycle_restored() -> None:
    diff = lifecycle(ChangeKind.RESTORED)
    assert (diff.kinds, diff.significance) == ((ChangeKind.RESTORED,), Significance.SUBSTANTIVE)


def test_lifecycle_rejects_other_kinds() -> None:
    with pytest.raises(ValueError):
        lifecycle(ChangeKind.BODY)  # type: ignore[arg-type]
