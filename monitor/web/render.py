"""Two versions of an article as HTML: word-level, inline or side by side, field by field.

What changed comes from :func:`monitor.diff.diff_articles` (the same verdict the alerts use);
this module only lays it out. Each change becomes a section (headline, standfirst, body, …) with
its significance and reason, an inline rendering (``<del>`` and ``<ins>`` in one text) and a
side-by-side one (the old text with its deletions, the new text with its insertions). Every
piece of article text goes through :func:`html.escape`; the only markup emitted is ``<p>``,
``<del>`` and ``<ins>`` without attributes, so the result is safe to mark as such in a template.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Literal

from markupsafe import Markup

from monitor.diff import ChangeKind, Diff, Significance, diff_articles
from scrapers.article import Article

Op = Literal["equal", "delete", "insert"]

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

_TOKEN = re.compile(r"\w+|\s+|[^\w\s]")
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


def word_segments(old: str, new: str) -> list[tuple[Op, str]]:
    """The two texts as runs of equal, deleted and inserted words (whitespace kept).

    A space between two changed words joins the change, so a reworded phrase reads as one
    deletion and one insertion rather than alternating single words.
    """
    a, b = _TOKEN.findall(old), _TOKEN.findall(new)
    ops = SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    for k in range(1, len(ops) - 1):
        tag, i1, i2, j1, j2 = ops[k]
        between = ops[k - 1][0] != "equal" and ops[k + 1][0] != "equal"
        if tag == "equal" and between and "".join(a[i1:i2]).isspace():
            ops[k] = ("replace", i1, i2, j1, j2)
    segments: list[tuple[Op, str]] = []

    def add(op: Op, text: str) -> None:
        if not text:
            return
        if segments and segments[-1][0] == op:
            segments[-1] = (op, segments[-1][1] + text)
        else:
            segments.append((op, text))

    pending_del: list[str] = []
    pending_ins: list[str] = []
    for tag, i1, i2, j1, j2 in ops:
        if tag == "equal":
            add("delete", "".join(pending_del))
            add("insert", "".join(pending_ins))
            pending_del, pending_ins = [], []
            add("equal", "".join(a[i1:i2]))
        else:
            pending_del += a[i1:i2]
            pending_ins += b[j1:j2]
    add("delete", "".join(pending_del))
    add("insert", "".join(pending_ins))
    return segments


def paragraphs_html(segments: list[tuple[Op, str]]) -> Markup:
    """Segments as ``<p>`` paragraphs (a newline starts one), changes in ``<del>``/``<ins>``.

    A change that spans a paragraph break is closed at the end of one paragraph and reopened
    in the next, so the markup always nests.
    """
    paragraphs: list[list[str]] = [[]]
    for op, text in segments:
        parts = _PARAGRAPH_BREAK.split(text)
        for n, part in enumerate(parts):
            if n:
                paragraphs.append([])
            if not part:
                continue
            escaped = html.escape(part)
            tag = {"equal": "", "delete": "del", "insert": "ins"}[op]
            paragraphs[-1].append(f"<{tag}>{escaped}</{tag}>" if tag else escaped)
    body = "".join(f"<p>{''.join(p)}</p>" for p in paragraphs if "".join(p).strip())
    return Markup(body or "<p></p>")


def _piece(significance: Significance, detail: str, old: str, new: str) -> Piece:
    segments = word_segments(old, new)
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
