"""A paywall flip reads as one PAYWALL change, never as the body deleted or restored."""

from __future__ import annotations

import dataclasses

from monitor.diff import (
    ChangeKind,
    FieldChange,
    Significance,
    changed_sentences,
    diff_articles,
    render_html,
)
from scrapers.article import Article


def premium(article: Article) -> Article:
    """What the premium page yields: the teaser paragraph only, no READ MORE links."""
    return dataclasses.replace(
        article, paywalled=True, paragraphs=article.paragraphs[:1], related_links=()
    )


def test_free_to_premium_is_one_paywall_change(original: Article) -> None:
    diff = diff_articles(original, premium(original))
    assert diff.changes == (
        FieldChange(
            ChangeKind.PAYWALL, Significance.SUBSTANTIVE, "free", "premium", "free → premium"
        ),
    )


def test_premium_to_free_is_one_paywall_change(original: Article) -> None:
    diff = diff_articles(premium(original), original)
    assert diff.changes == (
        FieldChange(
            ChangeKind.PAYWALL, Significance.SUBSTANTIVE, "premium", "free", "premium → free"
        ),
    )


def test_flip_with_empty_teaser_reports_no_body(original: Article) -> None:
    gated = dataclasses.replace(original, paywalled=True, paragraphs=(), related_links=())
    assert diff_articles(original, gated).kinds == (ChangeKind.PAYWALL,)


def test_flip_and_headline_change_reports_both(original: Article, corrected: Article) -> None:
    diff = diff_articles(original, premium(corrected))
    assert diff.kinds == (ChangeKind.HEADLINE, ChangeKind.PAYWALL)


def test_body_edit_between_two_premium_versions_is_reported(original: Article) -> None:
    old = premium(original)
    new = dataclasses.replace(old, paragraphs=(old.paragraphs[0].replace("550", "548"),))
    diff = diff_articles(old, new)
    assert [(c.kind, c.detail) for c in diff.changes] == [
        (ChangeKind.BODY, "number changed: 550 → 548")
    ]


def test_changed_sentences_skip_body_on_flip(original: Article) -> None:
    assert changed_sentences(original, premium(original)) == []


def test_html_says_paywall_not_deleted(original: Article) -> None:
    html = render_html(original, premium(original))
    assert '<p class="paywall">Paywall: free → premium; the body is not compared.</p>' in html
    assert "<del>" not in html
