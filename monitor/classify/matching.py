"""Finding the rules' terms in an article: furniture dropped, negative phrases masked, overlaps
resolved, each match located (field, body paragraph, sentence) for the measures.

The prefilter (:class:`monitor.classify.index.Index`) decides which terms are tried; what is
matched is exactly what trying every term would match (tests/classify/test_prefilter.py).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from monitor.classify.rules import Rules
from monitor.classify.terms import WORD, Term, normalise

_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+")


class Hit(NamedTuple):
    """One accepted match: the term, its surface text, and where it sits (a tuple: there are
    dozens per article, and a tuple is the cheapest value to make)."""

    term: Term
    surface: str
    field: str  # "title" | "standfirst" | "body"
    start: int  # offset in the field's normalised text (the body: paragraphs joined by "\n")
    paragraph: int  # index of the body paragraph (-1 outside the body)
    sentence: int  # index of the body sentence (-1 outside the body)


@dataclass(frozen=True)
class Matched:
    """Every hit in one article, with the body's shape (paragraphs, sentences, words)."""

    title: str  # normalised
    hits: tuple[Hit, ...]
    paragraphs: tuple[str, ...]  # body paragraphs without furniture, normalised
    sentences: int
    words: int


def body_paragraphs(body: str | Sequence[str], rules: Rules) -> list[str]:
    """Body paragraphs without furniture: READ MORE lines, captions and credits never count."""
    lines = (
        body.splitlines()
        if isinstance(body, str)
        else [line for para in body for line in str(para).splitlines()]
    )
    kept = []
    for para in lines:
        line = normalise(para).rstrip()
        text = line.strip()
        if not text or any(r.search(line) for r in rules.drop_patterns):
            continue
        for r in rules.strip:
            text = r.sub(" ", text)
        kept.append(text)
    return kept


def finditer(term: Term, text: str) -> Iterator[re.Match[str]]:
    """Matches of one term: skipped at once when a literal piece is missing from the text,
    and for plain terms only where the match does not start inside a word."""
    for needle in term.needles:
        if needle not in text:
            return
    if not term.bounded:
        yield from term.regex.finditer(text)
        return
    pos = 0
    while (m := term.regex.search(text, pos)) is not None:
        start = m.start()
        if start and (text[start - 1].isalnum() or text[start - 1] == "_"):
            pos = start + 1  # inside a word: look again one character later
            continue
        yield m
        pos = max(m.end(), start + 1)


def masked(text: str, masks: Sequence[Term]) -> str:
    """``text`` with negative phrases blanked out (same length, so offsets stay valid)."""
    for mask in masks:
        for m in list(finditer(mask, text)):
            text = text[: m.start()] + " " * (m.end() - m.start()) + text[m.end() :]
    return text


def matches(text: str, terms: Sequence[Term]) -> list[tuple[Term, str, int]]:
    """Accepted (term, surface, start) matches: a longer match hides shorter terms inside it.

    A match is dropped when it overlaps a strictly longer accepted match ("immigration
    minister" is not also "minister"; "rejected asylum seekers" is not also "asylum seekers"
    unless the rules list it under asylum too), or an equally long one of another term of the
    same topic (one span counts once per topic). Equal spans in different topics all count.
    """
    found: list[tuple[int, int, Term]] = []
    for term in terms:
        if not term.bounded:
            found.extend(
                (m.start(), m.end(), term) for m in finditer(term, text) if m.end() > m.start()
            )
            continue
        # finditer for a plain term, inlined: this loop is most of the classifier's time
        for needle in term.needles:
            if needle not in text:
                break
        else:
            _search_plain(term, text, found)
    found.sort(key=lambda f: (f[0] - f[1], f[0]))
    accepted: list[tuple[int, int, Term]] = []
    for start, end, term in found:
        if any(
            start < a_end
            and a_start < end
            and a_term.key != term.key
            and (a_end - a_start > end - start or a_term.topic == term.topic)
            for a_start, a_end, a_term in accepted
        ):
            continue
        accepted.append((start, end, term))
    return [(term, " ".join(text[s:e].split()), s) for s, e, term in accepted]


def _search_plain(term: Term, text: str, found: list[tuple[int, int, Term]]) -> None:
    """:func:`finditer` of a plain term whose needles are present, appending the spans."""
    search, pos = term.regex.search, 0
    while (m := search(text, pos)) is not None:
        start, end = m.span()
        if start and (text[start - 1].isalnum() or text[start - 1] == "_"):
            pos = start + 1
            continue
        if end > start:
            found.append((start, end, term))
        pos = max(end, start + 1)


def _starts(paragraphs: Sequence[str]) -> tuple[list[int], list[int]]:
    """Offsets in the joined body where each paragraph and each sentence starts."""
    para_starts: list[int] = []
    sentence_starts: list[int] = []
    offset = 0
    for para in paragraphs:
        para_starts.append(offset)
        sentence_starts.append(offset)
        sentence_starts.extend(offset + m.end() for m in _SENTENCE_END.finditer(para))
        if sentence_starts[-1] == offset + len(para):  # text ended on a sentence end
            sentence_starts.pop()
        offset += len(para) + 1
    return para_starts, sentence_starts


def match_article(title: str, standfirst: str, body: str | Sequence[str], rules: Rules) -> Matched:
    """Every accepted hit of ``rules`` in one article, located."""
    paragraphs = body_paragraphs(body, rules)
    body_text = "\n".join(paragraphs)
    index = rules.index
    para_starts, sentence_starts = _starts(paragraphs)
    hits: list[Hit] = []
    for fname, text in (
        ("title", normalise(title)),
        ("standfirst", normalise(standfirst)),
        ("body", body_text),
    ):
        # Masking only blanks text out, so what may match the masked text may match this one.
        term_ids, mask_ids = index.candidates(text)
        text = masked(text, [rules.masks[i] for i in mask_ids])
        possible = [rules.terms[i] for i in index.possible(text, term_ids)]
        for term, surface, start in matches(text, possible):
            if fname == "body":
                para = bisect.bisect_right(para_starts, start) - 1
                sentence = bisect.bisect_right(sentence_starts, start) - 1
            else:
                para = sentence = -1
            hits.append(Hit(term, surface, fname, start, para, sentence))
    return Matched(
        normalise(title),
        tuple(hits),
        tuple(paragraphs),
        len(sentence_starts),
        len(WORD.findall(body_text)),
    )
