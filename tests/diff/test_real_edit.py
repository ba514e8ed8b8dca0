"""The recorded real edit: headline reworded, 550 → 548, correction line appended."""

from __future__ import annotations

from monitor.diff import ChangeKind, Significance, changed_sentences, diff_articles
from scrapers.article import Article

P1_OLD = (
    "There are 550 rejected asylum-seekers at Denmark’s departure centres – the lowest in almost"
    " 15 years."
)
P1_NEW = P1_OLD.replace("550", "548")
CORRECTION = (
    "Correction: an earlier version of this article gave the number of rejected asylum-seekers"
    " as 550. The report's figure is 548."
)


def test_kinds_are_headline_body_correction(original: Article, corrected: Article) -> None:
    diff = diff_articles(original, corrected)
    assert diff.kinds == (ChangeKind.HEADLINE, ChangeKind.BODY, ChangeKind.CORRECTION)


def test_overall_substantive(original: Article, corrected: Article) -> None:
    assert diff_articles(original, corrected).significance is Significance.SUBSTANTIVE


def test_headline_change(original: Article, corrected: Article) -> None:
    headline = diff_articles(original, corrected).changes[0]
    assert headline.kind is ChangeKind.HEADLINE
    assert headline.significance is Significance.SUBSTANTIVE
    assert headline.old == (
        "Number of rejected asylum-seekers earmarked for deportation halved in two years"
    )
    assert headline.new == "Rejected asylum-seekers earmarked for deportation halved in two years"
    assert headline.detail == (
        "headline changed: 'Number of rejected asylum-seekers earmarked for deportation halved in"
        " two years' → 'Rejected asylum-seekers earmarked for deportation halved in two years'"
    )


def test_body_change_names_the_numbers(original: Article, corrected: Article) -> None:
    body = diff_articles(original, corrected).changes[1]
    assert (body.kind, body.significance) == (ChangeKind.BODY, Significance.SUBSTANTIVE)
    assert (body.old, body.new) == (P1_OLD, P1_NEW)
    assert body.detail == "number changed: 550 → 548"


def test_correction_notice(original: Article, corrected: Article) -> None:
    correction = diff_articles(original, corrected).changes[2]
    assert correction.kind is ChangeKind.CORRECTION
    assert correction.significance is Significance.SUBSTANTIVE
    assert (correction.old, correction.new) == ("", CORRECTION)
    assert correction.detail == "correction notice added"


def test_exactly_three_changes(original: Article, corrected: Article) -> None:
    assert len(diff_articles(original, corrected).changes) == 3


def test_changed_sentences_has_the_figure_pair(original: Article, corrected: Article) -> None:
    assert (P1_OLD, P1_NEW) in changed_sentences(original, corrected)


def test_changed_sentences_in_order(original: Article, corrected: Article) -> None:
    assert changed_sentences(original, corrected) == [
        (original.title, corrected.title),
        (P1_OLD, P1_NEW),
        (
            "",
            "Correction: an earlier version of this article gave the number of rejected"
            " asylum-seekers as 550.",
        ),
        ("", "The report's figure is 548."),
    ]


def test_changed_sentences_limit(original: Article, corrected: Article) -> None:
    assert changed_sentences(original, corrected, limit=2) == [
        (original.title, corrected.title),
        (P1_OLD, P1_NEW),
    ]


def test_reverse_direction_removes_the_correction(original: Article, corrected: Article) -> None:
    diff = diff_articles(corrected, original)
    assert diff.kinds == (ChangeKind.HEADLINE, ChangeKind.BODY)
    assert [c.detail for c in diff.changes[1:]] == [
        "number changed: 548 → 550",
        "paragraph removed",
    ]
