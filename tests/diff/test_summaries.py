"""Change summaries describe the edit truthfully: headlines in full, text as it was written."""

from __future__ import annotations

import dataclasses
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.diff import ChangeKind, diff_articles, rate_text, word_change
from scrapers.article import Article, normalize_text
from tests.diff.helpers import EXPECTED, load, make
from tests.support.properties import examples

SETTINGS = settings(
    max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
REAL = [load(p.name) for p in sorted(EXPECTED.glob("*.json"))]
REAL = [a for a in REAL if a.title and a.paragraphs]


def test_a_rewritten_headline_with_digits_is_shown_old_to_new_in_full() -> None:
    old = make(title="Rates rise 1 percent as council meets")
    new = make(title="Government cuts 3 taxes for families")
    (change,) = diff_articles(old, new).changes
    assert change.kind is ChangeKind.HEADLINE
    assert change.detail == (
        "headline changed: 'Rates rise 1 percent as council meets' → "
        "'Government cuts 3 taxes for families'"
    )


def test_a_summary_keeps_the_slash_of_a_closing_tag() -> None:
    old = "The <i>old</i> rules apply to all of the people here now"
    new = "The new rules apply to all of the people here now"
    assert rate_text(old, new)[1] == "2 words changed: '<i>old</i>' → 'new'"


def test_a_summary_keeps_slashes_between_words() -> None:
    assert word_change("a/b test", "c/d test")[2] == "'a/b' → 'c/d'"


def _snippet_pieces(detail: str) -> list[str]:
    match = re.search(r"'(.*)' → '(.*)'$", detail)
    assert match, detail
    return [p for side in match.groups() for p in side.split(" … ") if p]


words = st.text(st.sampled_from("abcdefghij0123456789/<>-’"), min_size=1, max_size=8)


@SETTINGS
@given(st.sampled_from(REAL), st.data())
def test_a_headline_edit_of_a_real_article_is_summarised_in_full(
    article: Article, data: st.DataObject
) -> None:
    tokens = article.title.split()
    at = data.draw(st.integers(0, len(tokens) - 1))
    tokens[at] = data.draw(words)
    edited = dataclasses.replace(article, title=" ".join(tokens))
    changes = [c for c in diff_articles(article, edited).changes if c.kind is ChangeKind.HEADLINE]
    if changes and changes[0].significance > 1:
        assert changes[0].detail == f"headline changed: '{changes[0].old}' → '{changes[0].new}'"


@SETTINGS
@given(st.sampled_from(REAL), st.data())
def test_word_summaries_of_real_paragraph_edits_quote_the_text_as_written(
    article: Article, data: st.DataObject
) -> None:
    paragraph = data.draw(st.sampled_from(article.paragraphs))
    tokens = paragraph.split()
    if not tokens:
        return
    at = data.draw(st.integers(0, len(tokens) - 1))
    tokens[at] = data.draw(words)
    edited = " ".join(tokens)
    changed, _, snippet = word_change(paragraph, edited)
    if not changed:
        return
    written = normalize_text(paragraph) + " " + normalize_text(edited)
    for piece in _snippet_pieces(snippet):
        assert piece.rstrip("…") in written, (piece, snippet)
