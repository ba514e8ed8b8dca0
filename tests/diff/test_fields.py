"""Byline, dates, tags, READ MORE links, standfirst and body groups."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone

from monitor.diff import ChangeKind, FieldChange, Significance, diff_articles
from scrapers.article import Article
from tests.diff.helpers import make, with_paragraph

WHEN = datetime(2023, 5, 22, 9, 40, tzinfo=timezone(timedelta(hours=1)))


def test_new_article() -> None:
    diff = diff_articles(None, make(title="  Fresh   news "))
    assert diff.changes == (
        FieldChange(ChangeKind.NEW, Significance.SUBSTANTIVE, "", "Fresh news", "new article"),
    )


def test_same_article_is_empty(original: Article) -> None:
    assert diff_articles(original, original).is_empty


def test_modified_alone_is_not_a_change(original: Article) -> None:
    new = dataclasses.replace(original, modified=WHEN)
    assert diff_articles(original, new).is_empty


def test_published_change_is_minor() -> None:
    diff = diff_articles(make(published=WHEN), make(published=WHEN + timedelta(days=1)))
    assert diff.changes == (
        FieldChange(
            ChangeKind.DATES,
            Significance.MINOR,
            "2023-05-22T09:40:00+01:00",
            "2023-05-23T09:40:00+01:00",
            "published changed: 2023-05-22T09:40:00+01:00 → 2023-05-23T09:40:00+01:00",
        ),
    )


def test_published_same_instant_other_zone_is_cosmetic() -> None:
    diff = diff_articles(make(published=WHEN), make(published=WHEN.astimezone(UTC)))
    assert diff.significance is Significance.COSMETIC


def test_byline_change_is_minor(original: Article) -> None:
    diff = diff_articles(original, dataclasses.replace(original, author="The Copenhagen Post"))
    assert diff.changes == (
        FieldChange(
            ChangeKind.BYLINE,
            Significance.MINOR,
            "Ben Hamilton",
            "The Copenhagen Post",
            "byline changed: Ben Hamilton → The Copenhagen Post",
        ),
    )


def test_tags_added_is_minor(original: Article) -> None:
    new = dataclasses.replace(original, tags=(*original.tags, "immigration"))
    diff = diff_articles(original, new)
    assert [(c.kind, c.significance, c.detail) for c in diff.changes] == [
        (ChangeKind.TAGS, Significance.MINOR, "tags added: immigration")
    ]


def test_tag_order_and_case_are_not_changes(original: Article) -> None:
    new = dataclasses.replace(original, tags=("Deportation", "asylum"))
    assert diff_articles(original, new).is_empty


def test_related_link_change_is_minor(original: Article) -> None:
    new = dataclasses.replace(original, related_links=("Asylum numbers at record low",))
    diff = diff_articles(original, new)
    assert [(c.kind, c.significance, c.detail) for c in diff.changes] == [
        (
            ChangeKind.RELATED,
            Significance.MINOR,
            "READ MORE added: Asylum numbers at record low; READ MORE removed: Record number of"
            " internationals streaming to Denmark",
        )
    ]


def test_standfirst_one_word_is_minor(original: Article) -> None:
    new = dataclasses.replace(original, standfirst=original.standfirst.replace("claims", "says"))
    diff = diff_articles(original, new)
    assert [(c.kind, c.significance) for c in diff.changes] == [
        (ChangeKind.STANDFIRST, Significance.MINOR)
    ]


def test_headline_one_word_is_substantive() -> None:
    diff = diff_articles(
        make(title="Government secures three-party deal on integration policy for next year"),
        make(title="Government secures four-party deal on integration policy for next year"),
    )
    assert diff.significance is Significance.SUBSTANTIVE


def test_headline_quote_style_is_cosmetic() -> None:
    diff = diff_articles(make(title="Minister: ‘A good day’"), make(title="Minister: 'A good day'"))
    assert [(c.kind, c.significance, c.detail) for c in diff.changes] == [
        (ChangeKind.HEADLINE, Significance.COSMETIC, "quote style only")
    ]


def test_one_word_in_body_is_minor(original: Article) -> None:
    new = with_paragraph(
        original, 3, original.paragraphs[3].replace("great efforts", "considerable efforts")
    )
    diff = diff_articles(original, new)
    assert [(c.kind, c.significance, c.detail) for c in diff.changes] == [
        (ChangeKind.BODY, Significance.MINOR, "1 word changed: 'great' → 'considerable'")
    ]


def test_name_in_body_is_substantive(original: Article) -> None:
    new = with_paragraph(original, 5, original.paragraphs[5].replace("added Bek", "added Tesfaye"))
    diff = diff_articles(original, new)
    assert [(c.significance, c.detail) for c in diff.changes] == [
        (Significance.SUBSTANTIVE, "name changed: Bek → Tesfaye")
    ]


def test_quote_in_body_is_substantive(original: Article) -> None:
    new = with_paragraph(original, 2, original.paragraphs[2].replace("good news", "great news"))
    diff = diff_articles(original, new)
    assert [(c.significance, c.detail) for c in diff.changes] == [
        (Significance.SUBSTANTIVE, "quote changed")
    ]


def test_paragraph_added_in_the_middle(original: Article) -> None:
    paragraphs = list(original.paragraphs)
    paragraphs.insert(4, "The opposition disagreed.")
    diff = diff_articles(original, dataclasses.replace(original, paragraphs=tuple(paragraphs)))
    assert diff.changes == (
        FieldChange(
            ChangeKind.BODY,
            Significance.SUBSTANTIVE,
            "",
            "The opposition disagreed.",
            "paragraph added",
        ),
    )


def test_two_paragraphs_removed_are_one_group(original: Article) -> None:
    new = dataclasses.replace(original, paragraphs=original.paragraphs[:-2])
    diff = diff_articles(original, new)
    assert [(c.kind, c.detail) for c in diff.changes] == [(ChangeKind.BODY, "2 paragraphs removed")]
    assert diff.changes[0].old == "\n\n".join(original.paragraphs[-2:])


def test_rewritten_paragraph_reads_as_removed_and_added() -> None:
    old = make(paragraphs=("Intro stays.", "The council met on Monday to vote."))
    new = make(paragraphs=("Intro stays.", "Completely unrelated words replace everything here."))
    assert [c.detail for c in diff_articles(old, new).changes] == [
        "paragraph removed",
        "paragraph added",
    ]


def test_empty_paragraphs_are_not_changes(original: Article) -> None:
    new = dataclasses.replace(original, paragraphs=(*original.paragraphs, "", "  \n "))
    assert diff_articles(original, new).is_empty


def test_punctuation_only_paragraph_added_is_cosmetic() -> None:
    old = make(paragraphs=("One.",))
    new = make(paragraphs=("One.", "***"))
    assert [(c.significance, c.detail) for c in diff_articles(old, new).changes] == [
        (Significance.COSMETIC, "punctuation only")
    ]


def test_correction_appended_to_last_paragraph(original: Article) -> None:
    last = len(original.paragraphs) - 1
    new = with_paragraph(
        original, last, original.paragraphs[last] + " Update: the ministry revised the figure."
    )
    assert diff_articles(original, new).kinds == (ChangeKind.CORRECTION,)


def test_order_follows_the_article(original: Article, corrected: Article) -> None:
    new = dataclasses.replace(
        corrected,
        author="CPH Post",
        tags=("asylum",),
        related_links=(),
        published=WHEN + timedelta(hours=2),
    )
    assert diff_articles(original, new).kinds == (
        ChangeKind.HEADLINE,
        ChangeKind.BYLINE,
        ChangeKind.DATES,
        ChangeKind.BODY,
        ChangeKind.CORRECTION,
        ChangeKind.RELATED,
        ChangeKind.TAGS,
    )
