"""The web view's diff layout, built on the word diff and markup of ``monitor.diff.render``."""

from __future__ import annotations

from monitor.diff.render import word_diff, words_html
from monitor.web.render import paragraphs_html


def test_a_one_paragraph_diff_is_the_alerts_word_diff_markup_in_a_paragraph() -> None:
    old, new = "There are 550 asylum <seekers>", "There are 548 asylum <seekers> now"
    assert paragraphs_html(word_diff(old, new)) == f"<p>{words_html(word_diff(old, new))}</p>"
    assert str(paragraphs_html(word_diff(old, new))) == (
        "<p>There are <del>550</del><ins>548</ins> asylum &lt;seekers&gt;<ins> now</ins></p>"
    )


def test_a_change_across_a_paragraph_break_is_closed_and_reopened_so_the_markup_nests() -> None:
    segments = word_diff("One.\nTwo.", "One. Added\nlines.\nTwo.")
    assert str(paragraphs_html(segments)) == (
        "<p>One.<ins> Added</ins></p><p><ins>lines.</ins></p><p>Two.</p>"
    )


def test_blank_paragraphs_are_dropped_but_an_empty_text_is_one_empty_paragraph() -> None:
    assert str(paragraphs_html([("equal", "A\n\n\nB")])) == "<p>A</p><p>B</p>"
    assert str(paragraphs_html([])) == "<p></p>"
