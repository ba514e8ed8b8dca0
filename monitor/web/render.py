"""Two versions of an article as HTML: word-level, inline or side by side, field by field.

What changed comes from :func:`monitor.diff.diff_articles` (the same verdict the alerts use);
this module only lays it out, with the word diff and its markup of :mod:`monitor.diff.render`
(the shapes the HTML alerts and ``diff --html`` use). Each change becomes a section (headline,
standfirst, body, …) with its significance and reason, an inline rendering (``<del>`` and
``<ins>`` in one text) and a side-by-side one (the old text with its deletions, the new text
with its insertions). Every piece of article text goes through :func:`html.escape`; the only
markup emitted is ``<p>``, ``<del>`` and ``<ins>`` without attributes, so the result is safe to
mark as such in a template.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from markupsafe import Markup

from monitor.diff import ChangeKind, Diff, Significance, diff_articles
from monitor.diff.render import Op, word_diff, words_html
from scrapers.article import Article

SECTION_TITLES: dict[ChangeKind, str] = {
    ChangeKind.NEW: "New article",
    ChangeKind.HEADLINE: "Headline",
    ChangeKind.STANDFIRST: "Standfirst",
    ChangeKind.BYLINE: "Byline",
    ChangeKind.DATES: "Publication date",
    ChangeKind.PAYWALL: "Paywall",
    ChangeKind.BODY: "Body",
    ChangeKind.CORRECTION: "Correction",
    ChangeKind.RELATED: "READ MORE links",
    ChangeKind.TAGS: "Tags",
    ChangeKind.DELETED: "Deleted",
    ChangeKind.RESTORED: "Restored",
}

_PARAGRAPH_BREAK = re.compile(r"\n\s*\n|\n")


@dataclass(frozen=True, slots=True)
class Piece:
    """One changed text pair, rendered both ways."""

    significance: Significance
    detail: str
    inline: Markup
    old: Markup  # side by side: the old text, deletions marked
    new: Markup  # side by side: the new text, insertions marked


@dataclass(frozen=True, slots=True)
class Section:
    """All changes to one field (the body has one piece per changed group of paragraphs)."""

    kind: ChangeKind
    title: str
    pieces: tuple[Piece, ...]


def paragraphs_html(segments: list[tuple[Op, str]]) -> Markup:
    """Runs from :func:`word_diff` as ``<p>`` paragraphs (a newline starts one), changes in
    ``<del>``/``<ins>`` (:func:`words_html`).

    A change that spans a paragraph break is closed at the end of one paragraph and reopened
    in the next, so the markup always nests.
    """
    paragraphs: list[list[tuple[Op, str]]] = [[]]
    for op, text in segments:
        for n, part in enumerate(_PARAGRAPH_BREAK.split(text)):
            if n:
                paragraphs.append([])
            if part:
                paragraphs[-1].append((op, part))
    shown = [runs for runs in paragraphs if any(op != "equal" or t.strip() for op, t in runs)]
    body = "".join(f"<p>{words_html(runs)}</p>" for runs in shown)
    return Markup(body or "<p></p>")


def _piece(significance: Significance, detail: str, old: str, new: str) -> Piece:
    segments = word_diff(old, new)
    return Piece(
        significance=significance,
        detail=detail,
        inline=paragraphs_html(segments),
        old=paragraphs_html([s for s in segments if s[0] != "insert"]),
        new=paragraphs_html([s for s in segments if s[0] != "delete"]),
    )


def diff_sections(diff: Diff) -> list[Section]:
    """The diff's changes grouped by field, in article order (headline first)."""
    grouped: dict[ChangeKind, list[Piece]] = {}
    for change in diff.changes:
        piece = _piece(change.significance, change.detail, change.old, change.new)
        grouped.setdefault(change.kind, []).append(piece)
    return [
        Section(kind, SECTION_TITLES.get(kind, kind.value.capitalize()), tuple(pieces))
        for kind, pieces in grouped.items()
    ]


def compare(old: Article, new: Article) -> tuple[Diff, list[Section]]:
    """What changed from ``old`` to ``new`` and its sections, ready for a template."""
    diff = diff_articles(old, new)
    return diff, diff_sections(diff)
