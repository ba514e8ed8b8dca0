"""Showing a comparison: unified text, word-level HTML, changed sentences for alerts."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from difflib import unified_diff
from typing import Literal

from monitor.diff.compare import paywall_label, related_change
from monitor.diff.text import (
    align_paragraphs,
    article_paragraphs,
    clean,
    fold,
    opcodes,
    split_sentences,
)
from scrapers.article import Article


def _text_lines(article: Article) -> list[str]:
    lines = [f"Headline: {clean(article.title)}"]
    if clean(article.standfirst):
        lines.append(f"Standfirst: {clean(article.standfirst)}")
    if clean(article.author):
        lines.append(f"Byline: {clean(article.author)}")
    lines.append("Body (premium, teaser only):" if article.paywalled else "Body:")
    lines += article_paragraphs(article)
    lines += [f"READ MORE: {t}" for t in (clean(x) for x in article.related_links) if t]
    return lines


def _version_label(tag: str, article: Article) -> str:
    when = article.modified or article.published
    return f"{tag}: {article.url}" + (f" @ {when.isoformat()}" if when else "")


def render_unified(
    old: Article,
    new: Article,
    context: int = 1,
    *,
    old_label: str | None = None,
    new_label: str | None = None,
) -> str:
    """Unified diff, one line per field or paragraph; '' when the text is the same."""
    lines = unified_diff(
        _text_lines(old),
        _text_lines(new),
        fromfile=old_label if old_label is not None else _version_label("old", old),
        tofile=new_label if new_label is not None else _version_label("new", new),
        n=max(0, context),
        lineterm="",
    )
    text = "\n".join(lines)
    return text + "\n" if text else ""


_TOKEN = re.compile(r"\w+|\s+|[^\w\s]")
Op = Literal["equal", "delete", "insert"]
_HTML_TAGS: dict[Op, tuple[str, str]] = {
    "equal": ("", ""),
    "delete": ("<del>", "</del>"),
    "insert": ("<ins>", "</ins>"),
}


def word_diff(old: str, new: str) -> list[tuple[Op, str]]:
    """``old`` → ``new`` as ("equal" | "delete" | "insert", text) runs, word by word.

    Spaces between two changed words join the change, so a reworded phrase reads as one
    deletion and one insertion rather than a word-by-word zigzag.
    """
    if old == new:
        return [("equal", old)] if old else []
    a, b = _TOKEN.findall(old), _TOKEN.findall(new)
    ops = opcodes(a, b)
    for k in range(1, len(ops) - 1):
        tag, i1, i2, j1, j2 = ops[k]
        between_changes = ops[k - 1][0] != "equal" and ops[k + 1][0] != "equal"
        if tag == "equal" and between_changes and "".join(a[i1:i2]).isspace():
            ops[k] = ("replace", i1, i2, j1, j2)
    out: list[tuple[Op, str]] = []
    k = 0
    while k < len(ops):
        tag, i1, i2, j1, j2 = ops[k]
        if tag == "equal":
            out.append(("equal", "".join(a[i1:i2])))
            k += 1
            continue
        while k + 1 < len(ops) and ops[k + 1][0] != "equal":
            k += 1
            i2, j2 = ops[k][2], ops[k][4]
        if i2 > i1:
            out.append(("delete", "".join(a[i1:i2])))
        if j2 > j1:
            out.append(("insert", "".join(b[j1:j2])))
        k += 1
    return out


def render_words_text(old: str, new: str) -> str:
    """The word diff as plain text, wdiff style: ``There are [-550-]{+770+} asylum seekers``."""
    marks = {"equal": ("", ""), "delete": ("[-", "-]"), "insert": ("{+", "+}")}
    return "".join(f"{marks[op][0]}{text}{marks[op][1]}" for op, text in word_diff(old, new))


def words_html(segments: Iterable[tuple[Op, str]]) -> str:
    """Runs from :func:`word_diff` as markup: deletions in ``<del>``, insertions in ``<ins>``
    (no attributes), every piece of text through :func:`html.escape`."""
    return "".join(
        f"{_HTML_TAGS[op][0]}{html.escape(text)}{_HTML_TAGS[op][1]}" for op, text in segments
    )


def _html_words(old: str, new: str) -> str:
    return words_html(word_diff(old, new))


def render_html(old: Article, new: Article) -> str:
    """Word-level HTML diff for an email: headline, changed fields, one <p> per paragraph.

    Unchanged runs of paragraphs become one '…' paragraph. Only <div>, <h2>, <p>, <ins>, <del>
    with fixed class names are emitted; all article text goes through html.escape.
    """
    esc = html.escape
    out = ['<div class="cphmon-diff">']
    out.append(f"<h2>{_html_words(clean(old.title), clean(new.title))}</h2>")
    for css, o, n in (
        ("standfirst", old.standfirst, new.standfirst),
        ("byline", old.author, new.author),
    ):
        o, n = clean(o), clean(n)
        if o != n:
            out.append(f'<p class="{css}">{_html_words(o, n)}</p>')
    if old.paywalled != new.paywalled:
        o, n = paywall_label(old.paywalled), paywall_label(new.paywalled)
        out.append(f'<p class="paywall">Paywall: {o} → {n}; the body is not compared.</p>')
    else:
        elided = False
        for seg in align_paragraphs(article_paragraphs(old), article_paragraphs(new)):
            if seg.op == "equal":
                if not elided:
                    out.append('<p class="elided">…</p>')
                elided = True
                continue
            elided = False
            if seg.op == "edit":
                out.append(f"<p>{_html_words(seg.old[0], seg.new[0])}</p>")
            for p in seg.old if seg.op == "removed" else ():
                out.append(f"<p><del>{esc(p)}</del></p>")
            for p in seg.new if seg.op == "added" else ():
                out.append(f"<p><ins>{esc(p)}</ins></p>")
        for change in related_change(old.related_links, new.related_links):
            out.append(f'<p class="related">READ MORE: {_html_words(change.old, change.new)}</p>')
    out.append("</div>")
    return "\n".join(out)


def _sentence_pairs(old: str, new: str) -> list[tuple[str, str]]:
    """Changed sentences of one text pair; cosmetic differences left out."""
    sa = [s for s in split_sentences(old) if fold(s)]
    sb = [s for s in split_sentences(new) if fold(s)]
    ka = [fold(s).casefold() for s in sa]
    kb = [fold(s).casefold() for s in sb]
    pairs: list[tuple[str, str]] = []
    for tag, i1, i2, j1, j2 in opcodes(ka, kb):
        if tag == "equal":
            continue
        olds, news = sa[i1:i2], sb[j1:j2]
        for k in range(max(len(olds), len(news))):
            pairs.append((olds[k] if k < len(olds) else "", news[k] if k < len(news) else ""))
    return pairs


def changed_sentences(old: Article, new: Article, limit: int = 5) -> list[tuple[str, str]]:
    """Up to ``limit`` (old sentence, new sentence) pairs for an alert, in article order.

    ``("", new)`` is a sentence added, ``(old, "")`` one removed. Headline first, then
    standfirst, then body (not compared when the paywall flipped).
    """
    if limit <= 0:
        return []
    pairs = _sentence_pairs(clean(old.title), clean(new.title))
    pairs += _sentence_pairs(clean(old.standfirst), clean(new.standfirst))
    if old.paywalled == new.paywalled:
        for seg in align_paragraphs(article_paragraphs(old), article_paragraphs(new)):
            if len(pairs) >= limit:
                break
            if seg.op != "equal":
                pairs += _sentence_pairs("\n".join(seg.old), "\n".join(seg.new))
    return pairs[:limit]


_PAGE_CSS = (
    "body{font-family:system-ui,sans-serif;max-width:46em;margin:2em auto;padding:0 1em;"
    "line-height:1.5;color:#1f2328}header{border-bottom:1px solid #d0d7de;margin-bottom:1em}"
    "header p{margin:.2em 0;color:#59636e}del{background:#ffebe9;color:#82071e}"
    "ins{background:#dafbe1;color:#116329;text-decoration:none}"
    ".elided{color:#8c959f}.paywall,.related{font-style:italic}"
)


def _when(moment: datetime | None) -> str:
    if moment is None:
        return "time unknown"
    if moment.tzinfo is None:
        return f"{moment:%Y-%m-%d %H:%M}"
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def render_page(
    old: Article,
    new: Article,
    *,
    url: str,
    old_version: tuple[int, datetime | None],
    new_version: tuple[int, datetime | None],
) -> str:
    """A complete, self-contained HTML page of :func:`render_html` (for ``diff --html`` and a
    web view): charset, inline CSS, no scripts; names the article and both versions
    (number, fetch time)."""
    esc = html.escape
    (a, a_at), (b, b_at) = old_version, new_version
    title = f"{clean(new.title) or url} — version {a} → {b}"
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n<style>{_PAGE_CSS}</style>\n</head>\n<body>\n"
        f'<header>\n<p><a href="{esc(url)}">{esc(url)}</a></p>\n'
        f"<p>version {a} ({esc(_when(a_at))}) → version {b} ({esc(_when(b_at))})</p>\n"
        "<p><del>removed</del> <ins>added</ins></p>\n</header>\n"
        f"{render_html(old, new)}\n</body>\n</html>\n"
    )
