"""How much one changed text pair matters, and a short human reason why.

Small pure rules (:func:`number_change`, :func:`name_change`, :func:`quote_change`,
:func:`word_change`, :func:`sentence_change` in ``text``) combined in :func:`rate_text`; and
the recognition of newsroom correction notices.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache

from monitor.diff.model import Significance
from monitor.diff.text import (
    clean,
    count_noun,
    fold,
    folded_words,
    normal,
    opcodes,
    sentence_keys,
    split_sentences,
)

# --- sentences ----------------------------------------------------------------------------


def sentence_change(old: str, new: str) -> str | None:
    """'sentence added' / 'N sentences removed' when whole sentences came or went, else None.

    A sentence split or merged (same words, new full stop) is not a sentence added: in a block of
    replaced sentences the side with more sentences must also bring at least three new words.
    """
    a, b = sentence_keys(old), sentence_keys(new)
    added = removed = 0
    for tag, i1, i2, j1, j2 in opcodes(a, b):
        if tag == "insert":
            added += j2 - j1
        elif tag == "delete":
            removed += i2 - i1
        elif tag == "replace" and (i2 - i1) != (j2 - j1):
            words_a = Counter(w for s in a[i1:i2] for w in s.split())
            words_b = Counter(w for s in b[j1:j2] for w in s.split())
            if j2 - j1 > i2 - i1 and (words_b - words_a).total() >= 3:
                added += (j2 - j1) - (i2 - i1)
            if i2 - i1 > j2 - j1 and (words_a - words_b).total() >= 3:
                removed += (i2 - i1) - (j2 - j1)
    parts = []
    if added:
        parts.append(count_noun(added, "sentence") + " added")
    if removed:
        parts.append(count_noun(removed, "sentence") + " removed")
    return "; ".join(parts) or None


# --- numbers ------------------------------------------------------------------------------

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_NUMBER_WORDS_TEXT = (
    "two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety "
    "hundred thousand million billion trillion dozen half"
)
_NUMBER_WORDS = frozenset(_NUMBER_WORDS_TEXT.split())
_WORD = re.compile(r"\w+")


def _number_key(token: str) -> str:
    """Same digits, same number: ``1,155`` = ``1.155`` = ``1155``; ``2,5`` = ``2.5``.

    Groups of exactly three digits after a separator are thousands (English comma or Danish
    full stop alike); otherwise the last separator is the decimal point.
    """
    parts = re.split(r"[.,]", token)
    if all(len(p) == 3 for p in parts[1:]):
        return "".join(parts).lstrip("0") or "0"
    whole = "".join(parts[:-1]).lstrip("0") or "0"
    return f"{whole}.{parts[-1]}"


def _numbers(text: str) -> list[tuple[str, str]]:
    """(key, as written) for digit numbers and number words, in order."""
    norm = normal(text)
    found = [(m.start(), _number_key(m.group()), m.group()) for m in _NUMBER.finditer(norm)]
    found += [
        (m.start(), m.group().casefold(), m.group())
        for m in _WORD.finditer(norm)
        if m.group().casefold() in _NUMBER_WORDS
    ]
    return [(key, raw) for _, key, raw in sorted(found)]


def _surplus(items: list[tuple[str, str]], other: Counter[str]) -> list[str]:
    """Written forms of the items whose key occurs more often here than in ``other``."""
    left = Counter(k for k, _ in items) - other
    out = []
    for key, raw in items:
        if left[key] > 0:
            left[key] -= 1
            out.append(raw)
    return out


def listing(items: list[str], limit: int = 3) -> str:
    items = list(dict.fromkeys(items))
    return ", ".join(items[:limit]) + (", …" if len(items) > limit else "")


def _change_phrase(what: str, removed: list[str], added: list[str]) -> str | None:
    if removed and added:
        return f"{what} changed: {listing(removed)} → {listing(added)}"
    if added:
        return f"{what} added: {listing(added)}"
    if removed:
        return f"{what} removed: {listing(removed)}"
    return None


def number_change(old: str, new: str) -> str | None:
    """'number changed: 550 → 548' when a figure differs (digits compared, see _number_key)."""
    a, b = _numbers(old), _numbers(new)
    removed = _surplus(a, Counter(k for k, _ in b))
    added = _surplus(b, Counter(k for k, _ in a))
    return _change_phrase("number", removed, added)


# --- names --------------------------------------------------------------------------------

# Capitalised for grammar, not because they name anyone.
_NOT_NAMES_TEXT = (
    "the a an and but or nor in on at of for to from with by as it its this that these those "
    "there here he she they we you his her their our my your if when while after before however "
    "also according meanwhile not no yes so then now one some many most all what who why how "
    "which where such both each every other another more less only even still yet"
)
_NOT_NAMES = frozenset(_NOT_NAMES_TEXT.split())
_SENTENCE_STARTER = re.compile(r'[.!?:;"“”«»(\n]')


_GAP_WORD = re.compile(r"(\W*)(\w+)")


@lru_cache(maxsize=4096)
def _word_spans(text: str) -> tuple[tuple[str, bool], ...]:
    """Word tokens of the normalized text, each with 'starts a sentence or quote'."""
    starter = _SENTENCE_STARTER.search
    return tuple(
        (word, i == 0 or (gap != " " and starter(gap) is not None))
        for i, (gap, word) in enumerate(_GAP_WORD.findall(normal(text)))
    )


def _capitalised(token: str) -> bool:
    return (
        token[0].isupper()
        and len(token) >= 2
        and not any(c.isdigit() for c in token)
        and token.casefold() not in _NOT_NAMES
    )


@lru_cache(maxsize=4096)
def _mid_sentence_names(text: str) -> frozenset[str]:
    return frozenset(t for t, initial in _word_spans(text) if not initial and _capitalised(t))


def _name_vocabulary(texts: Iterable[str]) -> frozenset[str]:
    """Capitalised words seen mid-sentence: names, even where they open a sentence."""
    return frozenset().union(*(_mid_sentence_names(text) for text in texts))


class LazyNames:
    """An article's name vocabulary, built only if some text pair reaches the name rule."""

    def __init__(self, texts: Sequence[str]) -> None:
        self._texts = texts
        self._names: frozenset[str] | None = None

    def __iter__(self) -> Iterator[str]:
        if self._names is None:
            self._names = _name_vocabulary(self._texts)
        return iter(self._names)


def _name_phrases(text: str, vocabulary: frozenset[str]) -> list[str]:
    """Runs of adjacent name tokens ('Kaare Dybvad Bek'), in order."""
    phrases: list[list[str]] = []
    previous_was_name = False
    for token, initial in _word_spans(text):
        is_name = _capitalised(token) and (not initial or token in vocabulary or token.isupper())
        if is_name and previous_was_name and not initial:
            phrases[-1].append(token)
        elif is_name:
            phrases.append([token])
        previous_was_name = is_name
    return [" ".join(p) for p in phrases]


def name_change(old: str, new: str, names: Iterable[str] = ()) -> str | None:
    """'name changed: Bek → Tesfaye' when a capitalised name came, went or changed.

    Sentence-initial words count as names only if seen mid-sentence (in these texts or in
    ``names``, the article's vocabulary). A word merely recapitalised is not a new name.
    """
    vocabulary = frozenset(names) | _name_vocabulary((old, new))
    a, b = _name_phrases(old, vocabulary), _name_phrases(new, vocabulary)
    flat_a = f" {' '.join(w.casefold() for w, _ in _word_spans(old))} "
    flat_b = f" {' '.join(w.casefold() for w, _ in _word_spans(new))} "

    def grew(phrase: str, here: str, there: str) -> bool:
        key = f" {phrase.casefold()} "
        return here.count(key) > there.count(key)

    removed = [p for p in (Counter(a) - Counter(b)) if grew(p, flat_a, flat_b)]
    added = [p for p in (Counter(b) - Counter(a)) if grew(p, flat_b, flat_a)]
    return _change_phrase("name", removed, added)


# --- quotes -------------------------------------------------------------------------------

_DOUBLE_QUOTED = re.compile(r'"([^"]+)(?:"|$)')  # unclosed: runs on to the next paragraph
_SINGLE_QUOTED = re.compile(r"(?<!\w)'([^']+?)'(?!\w)")  # apostrophes sit inside words


def _quotes(text: str) -> Counter[str]:
    norm = normal(text)
    spans = [m.group(1) for m in _DOUBLE_QUOTED.finditer(norm)]
    spans += [m.group(1) for m in _SINGLE_QUOTED.finditer(norm)]
    return Counter(f for f in (fold(s) for s in spans) if f)


def quote_change(old: str, new: str) -> str | None:
    """'quote changed' when the words inside quotation marks differ (punctuation aside)."""
    a, b = _quotes(old), _quotes(new)
    if a == b:
        return None
    if not a - b:
        return "quote added"
    if not b - a:
        return "quote removed"
    return "quote changed"


# --- words --------------------------------------------------------------------------------


def _snippet(words: list[str], limit: int = 60) -> str:
    text = " ".join(words)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def word_change(old: str, new: str) -> tuple[int, int, str]:
    """(words changed, words in the longer text, "'old words' → 'new words'").

    Counted on folded words; the snippet quotes the tokens as written (``</i>``, ``a/b``), matched
    by their folded form so that punctuation-only differences do not show in it.
    """
    a, b = folded_words(old), folded_words(new)
    changed = sum(max(i2 - i1, j2 - j1) for tag, i1, i2, j1, j2 in opcodes(a, b) if tag != "equal")
    ta, tb = normal(old).split(), normal(new).split()
    gone: list[str] = []
    came: list[str] = []
    for tag, i1, i2, j1, j2 in opcodes([fold(t) for t in ta], [fold(t) for t in tb]):
        if tag != "equal":
            if i2 > i1:
                gone += (["…"] if gone else []) + ta[i1:i2]
            if j2 > j1:
                came += (["…"] if came else []) + tb[j1:j2]
    return changed, max(len(a), len(b)), f"'{_snippet(gone)}' → '{_snippet(came)}'"


# --- rating -------------------------------------------------------------------------------


def cosmetic_reason(old: str, new: str) -> str | None:
    """Why two visibly different texts carry the same words, or None if they don't."""
    if normal(old) == normal(new):
        return "quote style only"
    fa, fb = fold(old), fold(new)
    if fa == fb:
        return "punctuation only"
    if fa.casefold() == fb.casefold():
        return "capitalisation only"
    return None


def rate_text(old: str, new: str, names: Iterable[str] = ()) -> tuple[Significance, str]:
    """Significance and reason for one changed text pair (a paragraph, a standfirst, ...).

    NONE if no reader can see a difference (whitespace, Unicode form); COSMETIC if only quote
    style, punctuation or capitalisation differ; SUBSTANTIVE if a sentence came or went, or a
    number, a name or a quotation changed; otherwise MINOR for up to three words and under 20%
    of the text, SUBSTANTIVE beyond.
    """
    if clean(old) == clean(new):
        return Significance.NONE, ""
    cosmetic = cosmetic_reason(old, new)
    if cosmetic:
        return Significance.COSMETIC, cosmetic
    sentences = sentence_change(old, new)
    if sentences:
        return Significance.SUBSTANTIVE, sentences
    reasons = [
        r
        for r in (number_change(old, new), name_change(old, new, names), quote_change(old, new))
        if r
    ]
    if reasons:
        return Significance.SUBSTANTIVE, "; ".join(reasons)
    changed, total, snippet = word_change(old, new)
    if changed <= 3 and changed * 5 < total:
        return Significance.MINOR, f"{_words_count(changed)} changed: {snippet}"
    return Significance.SUBSTANTIVE, f"{changed} of {total} words changed: {snippet}"


def _words_count(n: int) -> str:
    return "1 word" if n == 1 else f"{n} words"


# --- corrections --------------------------------------------------------------------------

_CORRECTION = re.compile(
    r"""^[\s*_\[(>#\-–—]*
    (?:
        (?:corrections?|clarification|update|updated|editor'?s\s+note
          |rettelse|berigtigelse|præcisering|opdatering|opdateret)
        (?:\s*\([^)]{0,40}\))?[\])*_]*\s*[:\-–—]
      | (?:this|the)\s+(?:article|story|report|piece)\s+(?:has\s+been|was|is\s+being)\s+
        (?:corrected|updated|amended|clarified|changed|edited)
      | an?\s+(?:earlier|previous|former)\s+version\s+of\s+this\s+(?:article|story|report|piece)
      | artiklen\s+er\s+(?:blevet\s+)?(?:rettet|opdateret|præciseret)
    )""",
    re.IGNORECASE | re.VERBOSE,
)


def is_correction_notice(text: str) -> bool:
    """Does the text open like a newsroom's correction or update notice?

    'Correction:', 'Clarification (23 May):', 'UPDATE –', 'Rettelse:', '*This article has been
    corrected', 'An earlier version of this article ...'; markup before it is ignored. A keyword
    must be followed by a colon or dash, so 'Corrections officers said' is not a notice.
    """
    return bool(_CORRECTION.match(normal(text)))


def adds_correction(old: str, new: str) -> bool:
    """A correction notice opens the new paragraph, or one of its new sentences."""
    if is_correction_notice(new) and not is_correction_notice(old):
        return True
    before = set(sentence_keys(old))
    return any(is_correction_notice(s) for s in split_sentences(new) if fold(s) not in before)
