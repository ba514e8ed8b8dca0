"""Compare two versions of an article: what changed, field by field, and how much it matters.

Functional core, no I/O. The store keeps every version and asks :func:`diff_articles` what
changed; the alerts use :attr:`Diff.significance` to decide whether to tell anyone (cosmetic
changes are stored, never alerted) and :func:`render_html`, :func:`render_unified` and
:func:`changed_sentences` to show it.

A :class:`Diff` reports exactly what :func:`scrapers.article.fingerprint` sees: whitespace,
invisible characters, Unicode form, tag order and ``modified`` are not changes. What a reader
can see but that carries no news (quote style, punctuation, dashes, capitalisation) is a
COSMETIC change. Significance is decided per changed text pair by small pure helpers
(:func:`cosmetic_reason`, :func:`sentence_change`, :func:`number_change`, :func:`name_change`,
:func:`quote_change`, :func:`word_change`) combined in :func:`rate_text`.

Modules: ``model`` (the result types), ``text`` (folding, sentences, paragraph alignment),
``rating`` (the significance rules), ``compare`` (field by field), ``render`` (text, HTML).
"""

from __future__ import annotations

from monitor.diff import compare, rating, render, text
from monitor.diff.compare import diff_articles, lifecycle
from monitor.diff.model import ChangeKind, Diff, FieldChange, Significance
from monitor.diff.rating import (
    cosmetic_reason,
    is_correction_notice,
    name_change,
    number_change,
    quote_change,
    rate_text,
    sentence_change,
    word_change,
)
from monitor.diff.render import (
    changed_sentences,
    render_html,
    render_page,
    render_unified,
    render_words_text,
    word_diff,
)
from monitor.diff.text import fold, split_sentences

__all__ = [
    "ChangeKind",
    "Diff",
    "FieldChange",
    "Significance",
    "changed_sentences",
    "clear_caches",
    "cosmetic_reason",
    "diff_articles",
    "fold",
    "is_correction_notice",
    "lifecycle",
    "name_change",
    "number_change",
    "quote_change",
    "rate_text",
    "render_html",
    "render_page",
    "render_unified",
    "render_words_text",
    "sentence_change",
    "split_sentences",
    "word_change",
    "word_diff",
]


def clear_caches() -> None:
    """Empty every memo of the diff modules (benchmarks measure cold runs with it)."""
    for module in (text, rating, compare, render):
        for value in vars(module).values():
            clear = getattr(value, "cache_clear", None)
            if callable(clear):
                clear()
