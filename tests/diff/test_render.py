"""Renderings: unified text for logs and the CLI, word-level HTML for email."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from monitor.diff import render_html, render_page, render_unified
from scrapers.article import Article
from tests.diff.helpers import make

URL = (
    "https://cphpost.dk/2023-05-22/news/"
    "number-of-rejected-asylum-seekers-earmarked-for-deportation-halved-in-two-years/"
)
HOSTILE_TITLE = "<script>alert(1)</script> **Bold** & [link](javascript:x)"


def changed_lines(diff: str) -> list[str]:
    return [
        line
        for line in diff.splitlines()
        if line[:1] in "+-" and not line.startswith(("---", "+++"))
    ]


def test_unified_headers_name_the_versions(original: Article, corrected: Article) -> None:
    lines = render_unified(original, corrected).splitlines()
    assert lines[:2] == [
        f"--- old: {URL} @ 2023-05-22T09:40:00+01:00",
        f"+++ new: {URL} @ 2023-05-22T09:40:00+01:00",
    ]


def test_unified_labels_can_be_given(original: Article, corrected: Article) -> None:
    lines = render_unified(original, corrected, old_label="v1", new_label="v2").splitlines()
    assert lines[:2] == ["--- v1", "+++ v2"]


def test_unified_changed_lines(original: Article, corrected: Article) -> None:
    assert changed_lines(render_unified(original, corrected)) == [
        "-Headline: Number of rejected asylum-seekers earmarked for deportation halved in two"
        " years",
        "+Headline: Rejected asylum-seekers earmarked for deportation halved in two years",
        "-There are 550 rejected asylum-seekers at Denmark’s departure centres – the lowest in"
        " almost 15 years.",
        "+There are 548 rejected asylum-seekers at Denmark’s departure centres – the lowest in"
        " almost 15 years.",
        "+Correction: an earlier version of this article gave the number of rejected"
        " asylum-seekers as 550. The report's figure is 548.",
    ]


def test_unified_context_one(original: Article, corrected: Article) -> None:
    hunks = [line for line in render_unified(original, corrected).splitlines() if line[:2] == "@@"]
    assert hunks == ["@@ -1,2 +1,2 @@", "@@ -4,3 +4,3 @@", "@@ -13,2 +13,3 @@"]


def test_unified_same_text_is_empty(original: Article) -> None:
    assert render_unified(original, original) == ""


def test_html_word_level_number(original: Article, corrected: Article) -> None:
    html = render_html(original, corrected)
    assert (
        "<p>There are <del>550</del><ins>548</ins> rejected asylum-seekers at Denmark’s departure"
        " centres – the lowest in almost 15 years.</p>"
    ) in html


def test_html_headline_phrase_is_one_change(original: Article, corrected: Article) -> None:
    html = render_html(original, corrected)
    assert (
        "<h2><del>Number of rejected</del><ins>Rejected</ins> asylum-seekers earmarked for"
        " deportation halved in two years</h2>"
    ) in html


def test_html_added_paragraph_is_escaped_insertion(original: Article, corrected: Article) -> None:
    html = render_html(original, corrected)
    assert (
        "<p><ins>Correction: an earlier version of this article gave the number of rejected"
        " asylum-seekers as 550. The report&#x27;s figure is 548.</ins></p>"
    ) in html


def test_html_elides_unchanged_paragraphs(original: Article, corrected: Article) -> None:
    html = render_html(original, corrected)
    assert html.count('<p class="elided">…</p>') == 1
    assert "Hjemrejsestyrelsen" not in html


def test_html_escapes_script_and_markdown_in_headline() -> None:
    old = make(title=HOSTILE_TITLE)
    new = make(title=HOSTILE_TITLE.replace("Bold", "Brave"))
    html = render_html(old, new)
    assert "<script" not in html
    assert html.splitlines()[1] == (
        "<h2>&lt;script&gt;alert(1)&lt;/script&gt; **<del>Bold</del><ins>Brave</ins>** &amp;"
        " [link](javascript:x)</h2>"
    )


def test_html_escapes_script_in_body() -> None:
    old = make(paragraphs=("Safe text here.",))
    new = make(paragraphs=("Safe text here.", "<script>alert(1)</script> *hi* <b>x</b>"))
    html = render_html(old, new)
    assert "<script" not in html
    assert "<b>" not in html
    assert (
        "<p><ins>&lt;script&gt;alert(1)&lt;/script&gt; *hi* &lt;b&gt;x&lt;/b&gt;</ins></p>" in html
    )


def test_html_escapes_inside_word_diff() -> None:
    old = make(paragraphs=("He wrote <i>yes</i> and left.",))
    new = make(paragraphs=("He wrote <i>no</i> and left.",))
    html = render_html(old, new)
    assert "<p>He wrote &lt;i&gt;<del>yes</del><ins>no</ins>&lt;/i&gt; and left.</p>" in html


def test_html_removed_paragraph() -> None:
    old = make(paragraphs=("Kept.", "Dropped & gone."))
    new = make(paragraphs=("Kept.",))
    assert "<p><del>Dropped &amp; gone.</del></p>" in render_html(old, new)


def test_html_standfirst_and_byline_only_when_changed(original: Article) -> None:
    new = dataclasses.replace(original, author="The Copenhagen Post")
    html = render_html(original, new)
    assert "standfirst" not in html
    assert '<p class="byline"><del>Ben Hamilton</del><ins>The Copenhagen Post</ins></p>' in html


def test_html_is_wrapped_in_one_div(original: Article, corrected: Article) -> None:
    lines = render_html(original, corrected).splitlines()
    assert (lines[0], lines[-1]) == ('<div class="cphmon-diff">', "</div>")


def test_the_page_is_a_complete_self_contained_document_naming_article_and_versions() -> None:
    old = make(title="Asylum deal <struck>", paragraphs=("There are 550 seekers.",))
    new = make(title="Asylum deal <struck>", paragraphs=("There are 770 seekers.",))
    page = render_page(
        old,
        new,
        url="https://cphpost.dk/2024/news/deal/",
        old_version=(3, datetime(2024, 5, 1, 8, 0, tzinfo=UTC)),
        new_version=(4, datetime(2024, 5, 1, 9, 30, tzinfo=UTC)),
    )
    assert page.startswith("<!DOCTYPE html>\n<html") and page.endswith("</html>\n")
    assert '<meta charset="utf-8">' in page and "<style>" in page
    assert "<script" not in page.lower() and "<link" not in page
    assert '<a href="https://cphpost.dk/2024/news/deal/">' in page
    assert "version 3 (2024-05-01 08:00 UTC) → version 4 (2024-05-01 09:30 UTC)" in page
    assert "<del>550</del><ins>770</ins>" in page
    assert "Asylum deal &lt;struck&gt;" in page
