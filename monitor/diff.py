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
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from difflib import SequenceMatcher, unified_diff
from enum import IntEnum, StrEnum
from functools import lru_cache
from typing import Any, Literal

from scrapers.article import Article, clean_text, normalize_text

__all__ = [
    "ChangeKind",
    "Diff",
    "FieldChange",
    "Significance",
    "changed_sentences",
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
    "render_unified",
    "sentence_change",
    "split_sentences",
    "word_change",
]


class ChangeKind(StrEnum):
    NEW = "new"
    HEADLINE = "headline"
    STANDFIRST = "standfirst"
    BODY = "body"
    BYLINE = "byline"
    DATES = "dates"
    TAGS = "tags"
    RELATED = "related"
    PAYWALL = "paywall"
    CORRECTION = "correction"
    DELETED = "deleted"
    RESTORED = "restored"


class Significance(IntEnum):
    """Ordered, so a diff's significance is the max over its changes."""

    NONE = 0
    COSMETIC = 1
    MINOR = 2
    SUBSTANTIVE = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, value: str | int) -> Significance:
        """From a label (``"minor"``) or its number, as stored JSON may hold either."""
        if isinstance(value, str):
            return cls[value.strip().upper()]
        return cls(value)


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One change to one field (for the body: to one group of paragraphs)."""

    kind: ChangeKind
    significance: Significance
    old: str
    new: str
    detail: str  # short human reason: 'number changed: 550 → 548', 'quote style only'

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "significance": self.significance.label,
            "old": self.old,
            "new": self.new,
            "detail": self.detail,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FieldChange:
        return cls(
            kind=ChangeKind(data["kind"]),
            significance=Significance.parse(data["significance"]),
            old=str(data.get("old", "")),
            new=str(data.get("new", "")),
            detail=str(data.get("detail", "")),
        )


@dataclass(frozen=True, slots=True)
class Diff:
    """All changes between two versions, in article order (headline first, tags last)."""

    changes: tuple[FieldChange, ...] = ()

    @property
    def significance(self) -> Significance:
        return max((c.significance for c in self.changes), default=Significance.NONE)

    @property
    def kinds(self) -> tuple[ChangeKind, ...]:
        return tuple(dict.fromkeys(c.kind for c in self.changes))

    @property
    def is_empty(self) -> bool:
        return not self.changes

    @property
    def alertable(self) -> bool:
        """Cosmetic changes are stored but never alerted."""
        return self.significance >= Significance.MINOR

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready. ``significance`` and ``kinds`` are derived, kept for querying the column."""
        return {
            "significance": self.significance.label,
            "kinds": [k.value for k in self.kinds],
            "changes": [c.to_dict() for c in self.changes],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Diff:
        return cls(tuple(FieldChange.from_dict(c) for c in data.get("changes", ())))


# --- text folding -------------------------------------------------------------------------

# Paragraphs are folded and normalized many times per diff (alignment, rating, sentences).
_clean = lru_cache(maxsize=4096)(clean_text)
_normal = lru_cache(maxsize=4096)(normalize_text)

# Punctuation (Unicode category P*) is what an edit for style touches; %, &, @, #, § carry
# meaning, so they stay. Scanned once at import over the blocks that hold punctuation after
# NFKC (fullwidth and small forms fold to ASCII first).
_KEEP = frozenset("%‰‱&@#§")
_PUNCT = re.compile(
    "["
    + "".join(
        re.escape(ch)
        for ch in map(chr, (*range(0x3040), *range(0xFE10, 0xFE70), *range(0xFF00, 0xFF66)))
        if unicodedata.category(ch)[0] == "P" and ch not in _KEEP
    )
    + "]"
)


@lru_cache(maxsize=4096)
def fold(text: str) -> str:
    """:func:`normalize_text` with punctuation (dashes included) turned into spaces.

    Two texts that fold equal differ only in whitespace, quote style or punctuation. Punctuation
    becomes a space rather than nothing so that ``2.5`` and ``25`` stay apart while
    ``asylum-seekers`` and ``asylum seekers`` meet.
    """
    return " ".join(_PUNCT.sub(" ", _normal(text)).split())


def _words(text: str) -> list[str]:
    return fold(text).split()


def _opcodes(a: Sequence[str], b: Sequence[str]) -> list[tuple[str, int, int, int, int]]:
    """difflib opcodes, with the common head and tail cut off first.

    Most edits touch a few words of a long text; trimming makes those diffs linear and keeps
    huge paragraphs cheap. Junk heuristics only kick in on very long middles.
    """
    n = min(len(a), len(b))
    head = 0
    while head < n and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < n - head and a[len(a) - 1 - tail] == b[len(b) - 1 - tail]:
        tail += 1
    ops: list[tuple[str, int, int, int, int]] = []
    if head:
        ops.append(("equal", 0, head, 0, head))
    mid_a, mid_b = a[head : len(a) - tail], b[head : len(b) - tail]
    if mid_a or mid_b:
        matcher = SequenceMatcher(None, mid_a, mid_b, autojunk=len(mid_b) > 2000)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            ops.append((tag, i1 + head, i2 + head, j1 + head, j2 + head))
    if tail:
        ops.append(("equal", len(a) - tail, len(a), len(b) - tail, len(b)))
    return ops


# --- sentences ----------------------------------------------------------------------------

_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|(?<=[.!?…][\"'“”‘’«»)\]])\s+")
_ABBREVIATION = re.compile(
    r"(?:\b(?:Mr|Mrs|Ms|Dr|Prof|St|No|vs|Gen|Col|Lt|Sgt|Rep|Sen|Gov|Jr|Sr|e\.g|i\.e|ca)"
    r"|\b[A-Z])\.$"
)


@lru_cache(maxsize=4096)
def split_sentences(text: str) -> tuple[str, ...]:
    """Sentences of a text, whitespace cleaned.

    Splits after ``.``, ``!``, ``?`` (closing quotes allowed) when the next piece does not start
    in lower case and the previous does not end in a common abbreviation or an initial.
    """
    text = _clean(text)
    if not text:
        return ()
    out: list[str] = []
    for piece in _SENTENCE_END.split(text):
        if out and (_starts_lower(piece) or _ABBREVIATION.search(out[-1])):
            out[-1] = f"{out[-1]} {piece}"
        else:
            out.append(piece)
    return tuple(out)


def _starts_lower(text: str) -> bool:
    for ch in text:
        if ch.isalnum():
            return ch.islower()
    return False


def _sentence_keys(text: str) -> list[str]:
    return [k for k in (fold(s) for s in split_sentences(text)) if k]


def sentence_change(old: str, new: str) -> str | None:
    """'sentence added' / 'N sentences removed' when whole sentences came or went, else None.

    A sentence split or merged (same words, new full stop) is not a sentence added: in a block of
    replaced sentences the side with more sentences must also bring at least three new words.
    """
    a, b = _sentence_keys(old), _sentence_keys(new)
    added = removed = 0
    for tag, i1, i2, j1, j2 in _opcodes(a, b):
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
        parts.append(_count(added, "sentence") + " added")
    if removed:
        parts.append(_count(removed, "sentence") + " removed")
    return "; ".join(parts) or None


def _count(n: int, noun: str) -> str:
    return noun if n == 1 else f"{n} {noun}s"


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
    norm = _normal(text)
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


def _listing(items: list[str], limit: int = 3) -> str:
    items = list(dict.fromkeys(items))
    return ", ".join(items[:limit]) + (", …" if len(items) > limit else "")


def _change_phrase(what: str, removed: list[str], added: list[str]) -> str | None:
    if removed and added:
        return f"{what} changed: {_listing(removed)} → {_listing(added)}"
    if added:
        return f"{what} added: {_listing(added)}"
    if removed:
        return f"{what} removed: {_listing(removed)}"
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
        for i, (gap, word) in enumerate(_GAP_WORD.findall(_normal(text)))
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


class _LazyNames:
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
    norm = _normal(text)
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
    """(words changed, words in the longer text, "'old words' → 'new words'") on folded words."""
    a, b = _words(old), _words(new)
    changed = 0
    gone: list[str] = []
    came: list[str] = []
    for tag, i1, i2, j1, j2 in _opcodes(a, b):
        if tag != "equal":
            changed += max(i2 - i1, j2 - j1)
            if i2 > i1:
                gone += (["…"] if gone else []) + a[i1:i2]
            if j2 > j1:
                came += (["…"] if came else []) + b[j1:j2]
    return changed, max(len(a), len(b)), f"'{_snippet(gone)}' → '{_snippet(came)}'"


# --- rating -------------------------------------------------------------------------------


def cosmetic_reason(old: str, new: str) -> str | None:
    """Why two visibly different texts carry the same words, or None if they don't."""
    if _normal(old) == _normal(new):
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
    if _clean(old) == _clean(new):
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
    return bool(_CORRECTION.match(_normal(text)))


def _adds_correction(old: str, new: str) -> bool:
    """A correction notice opens the new paragraph, or one of its new sentences."""
    if is_correction_notice(new) and not is_correction_notice(old):
        return True
    before = set(_sentence_keys(old))
    return any(is_correction_notice(s) for s in split_sentences(new) if fold(s) not in before)


# --- body alignment -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Segment:
    op: Literal["equal", "edit", "added", "removed"]
    old: tuple[str, ...]
    new: tuple[str, ...]


def _paragraphs(article: Article) -> list[str]:
    """Paragraphs as a reader sees them; empty ones do not exist (as for the fingerprint)."""
    return [p for p in (_clean(x) for x in article.paragraphs) if p]


def _similarity(a: str, b: str) -> float:
    wa, wb = fold(a).split(), fold(b).split()
    if not wa and not wb:
        return 1.0
    matched = sum(i2 - i1 for tag, i1, i2, _, _ in _opcodes(wa, wb) if tag == "equal")
    return 2.0 * matched / (len(wa) + len(wb))


_PAIRING_LIMIT = 400  # old x new paragraphs in one replaced block; beyond it, no pairing


def _pair(old: Sequence[str], new: Sequence[str]) -> list[_Segment]:
    """Split a replaced block into edited pairs (over half the words shared) and the rest.

    Greedy and order-preserving: each old paragraph takes its most similar new paragraph after
    the last one taken; new paragraphs skipped over are added, old ones left alone removed.
    """
    if len(old) * len(new) > _PAIRING_LIMIT:
        return [_Segment("removed", tuple(old), ()), _Segment("added", (), tuple(new))]
    out: list[_Segment] = []
    j = 0
    for paragraph in old:
        best, best_ratio = -1, 0.5
        for k in range(j, len(new)):
            ratio = _similarity(paragraph, new[k])
            if ratio > best_ratio:
                best, best_ratio = k, ratio
        if best < 0:
            out.append(_Segment("removed", (paragraph,), ()))
            continue
        if best > j:
            out.append(_Segment("added", (), tuple(new[j:best])))
        out.append(_Segment("edit", (paragraph,), (new[best],)))
        j = best + 1
    if j < len(new):
        out.append(_Segment("added", (), tuple(new[j:])))
    return out


def _align(old: Sequence[str], new: Sequence[str]) -> list[_Segment]:
    """Paragraph alignment on folded text, so cosmetic edits pair up as edits."""
    out: list[_Segment] = []
    for tag, i1, i2, j1, j2 in _opcodes([fold(p) for p in old], [fold(p) for p in new]):
        if tag == "equal":
            for o, n in zip(old[i1:i2], new[j1:j2], strict=True):
                out.append(_Segment("equal" if o == n else "edit", (o,), (n,)))
        elif tag == "delete":
            out.append(_Segment("removed", tuple(old[i1:i2]), ()))
        elif tag == "insert":
            out.append(_Segment("added", (), tuple(new[j1:j2])))
        else:
            out += _pair(old[i1:i2], new[j1:j2])
    merged: list[_Segment] = []
    for seg in out:  # removed+removed, added+added: one group each
        if merged and seg.op in ("added", "removed") and merged[-1].op == seg.op:
            last = merged.pop()
            seg = _Segment(seg.op, last.old + seg.old, last.new + seg.new)
        merged.append(seg)
    return merged


def _runs(paragraphs: Sequence[str]) -> list[tuple[bool, tuple[str, ...]]]:
    """Consecutive paragraphs grouped by 'is a correction notice'."""
    runs: list[tuple[bool, tuple[str, ...]]] = []
    for p in paragraphs:
        flag = is_correction_notice(p)
        if runs and runs[-1][0] == flag:
            runs[-1] = (flag, (*runs[-1][1], p))
        else:
            runs.append((flag, (p,)))
    return runs


def _body_changes(old: Article, new: Article, names: Iterable[str]) -> list[FieldChange]:
    changes: list[FieldChange] = []
    for seg in _align(_paragraphs(old), _paragraphs(new)):
        if seg.op == "edit":
            o, n = seg.old[0], seg.new[0]
            sig, detail = rate_text(o, n, names)
            if sig > Significance.COSMETIC and _adds_correction(o, n):
                changes.append(
                    FieldChange(
                        ChangeKind.CORRECTION,
                        Significance.SUBSTANTIVE,
                        o,
                        n,
                        "correction notice added",
                    )
                )
            elif sig:
                changes.append(FieldChange(ChangeKind.BODY, sig, o, n, detail))
        elif seg.op == "added":
            for correction, run in _runs(seg.new):
                text = "\n\n".join(run)
                if correction:
                    changes.append(
                        FieldChange(
                            ChangeKind.CORRECTION,
                            Significance.SUBSTANTIVE,
                            "",
                            text,
                            "correction notice added",
                        )
                    )
                else:
                    changes.append(_whole("", text, _count(len(run), "paragraph") + " added"))
        elif seg.op == "removed":
            text = "\n\n".join(seg.old)
            changes.append(_whole(text, "", _count(len(seg.old), "paragraph") + " removed"))
    return changes


def _whole(old: str, new: str, detail: str) -> FieldChange:
    """Paragraphs that came or went: sentences added or removed, unless they hold no words."""
    if fold(old) == fold(new):
        return FieldChange(ChangeKind.BODY, Significance.COSMETIC, old, new, "punctuation only")
    return FieldChange(ChangeKind.BODY, Significance.SUBSTANTIVE, old, new, detail)


# --- the other fields ---------------------------------------------------------------------


def _text_change(
    kind: ChangeKind, old: str, new: str, names: Iterable[str], floor: Significance | None = None
) -> list[FieldChange]:
    o, n = _clean(old), _clean(new)
    sig, detail = rate_text(o, n, names)
    if not sig:
        return []
    if floor is not None and sig > Significance.COSMETIC:
        sig = max(sig, floor)
    return [FieldChange(kind, sig, o, n, detail)]


def _byline_change(old: str, new: str) -> list[FieldChange]:
    o, n = _clean(old), _clean(new)
    if o == n:
        return []
    cosmetic = cosmetic_reason(o, n)
    if cosmetic:
        return [FieldChange(ChangeKind.BYLINE, Significance.COSMETIC, o, n, cosmetic)]
    detail = f"byline changed: {o or '(none)'} → {n or '(none)'}"
    return [FieldChange(ChangeKind.BYLINE, Significance.MINOR, o, n, detail)]


def _iso(when: datetime | None) -> str:
    return when.isoformat() if when is not None else ""


def _dates_change(old: datetime | None, new: datetime | None) -> list[FieldChange]:
    """Only ``published``: ``modified`` bumps on saves that change nothing."""
    o, n = _iso(old), _iso(new)
    if o == n:
        return []
    if old is not None and new is not None and _same_instant(old, new):
        detail = "published: same time, other time zone"
        return [FieldChange(ChangeKind.DATES, Significance.COSMETIC, o, n, detail)]
    detail = f"published changed: {o or '(none)'} → {n or '(none)'}"
    return [FieldChange(ChangeKind.DATES, Significance.MINOR, o, n, detail)]


def _same_instant(a: datetime, b: datetime) -> bool:
    if (a.tzinfo is None) != (b.tzinfo is None):
        return False
    return a == b


def _tags_change(old: Sequence[str], new: Sequence[str]) -> list[FieldChange]:
    """Tags as a set, case-folded (as in the fingerprint)."""
    a = {_clean(t).casefold(): _clean(t) for t in old if _clean(t)}
    b = {_clean(t).casefold(): _clean(t) for t in new if _clean(t)}
    added = [b[k] for k in b if k not in a]
    removed = [a[k] for k in a if k not in b]
    if not added and not removed:
        return []
    parts = [f"tags added: {', '.join(added)}"] if added else []
    parts += [f"tags removed: {', '.join(removed)}"] if removed else []
    return [
        FieldChange(
            ChangeKind.TAGS,
            Significance.MINOR,
            ", ".join(a.values()),
            ", ".join(b.values()),
            "; ".join(parts),
        )
    ]


def _related_change(old: Sequence[str], new: Sequence[str]) -> list[FieldChange]:
    a = [t for t in (_clean(x) for x in old) if t]
    b = [t for t in (_clean(x) for x in new) if t]
    if a == b:
        return []
    o, n = "\n".join(a), "\n".join(b)
    if [fold(x) for x in a] == [fold(x) for x in b]:
        reason = cosmetic_reason(o, n) or "punctuation only"
        return [FieldChange(ChangeKind.RELATED, Significance.COSMETIC, o, n, reason)]
    fa, fb = {fold(x) for x in a}, {fold(x) for x in b}
    added = [x for x in b if fold(x) not in fa]
    removed = [x for x in a if fold(x) not in fb]
    parts = [f"READ MORE added: {_listing(added)}"] if added else []
    parts += [f"READ MORE removed: {_listing(removed)}"] if removed else []
    detail = "; ".join(parts) or "READ MORE links reworded or reordered"
    return [FieldChange(ChangeKind.RELATED, Significance.MINOR, o, n, detail)]


def _paywall_label(paywalled: bool) -> str:
    return "premium" if paywalled else "free"


# --- the API ------------------------------------------------------------------------------


def diff_articles(old: Article | None, new: Article) -> Diff:
    """Every change from ``old`` to ``new``; ``old`` None means a new article.

    When the paywall flips, the body and READ MORE links are not compared: a premium page shows
    only a teaser, and that must read as 'free → premium', never as 'body deleted'. Headline,
    standfirst, byline, date and tags are still compared.
    """
    if old is None:
        title = _clean(new.title)
        return Diff(
            (FieldChange(ChangeKind.NEW, Significance.SUBSTANTIVE, "", title, "new article"),)
        )
    names = _LazyNames([old.standfirst, *old.paragraphs, new.standfirst, *new.paragraphs])
    changes = [
        *_text_change(ChangeKind.HEADLINE, old.title, new.title, names, Significance.SUBSTANTIVE),
        *_text_change(ChangeKind.STANDFIRST, old.standfirst, new.standfirst, names),
        *_byline_change(old.author, new.author),
        *_dates_change(old.published, new.published),
    ]
    if old.paywalled != new.paywalled:
        o, n = _paywall_label(old.paywalled), _paywall_label(new.paywalled)
        changes.append(
            FieldChange(ChangeKind.PAYWALL, Significance.SUBSTANTIVE, o, n, f"{o} → {n}")
        )
    else:
        changes += _body_changes(old, new, names)
        changes += _related_change(old.related_links, new.related_links)
    changes += _tags_change(old.tags, new.tags)
    return Diff(tuple(changes))


_LIFECYCLE_DETAIL = {
    ChangeKind.DELETED: "article deleted (404/410 confirmed)",
    ChangeKind.RESTORED: "article restored",
}


def lifecycle(
    kind: Literal[ChangeKind.DELETED, ChangeKind.RESTORED], detail: str | None = None
) -> Diff:
    """A one-change Diff for the store's state transitions (gone, back again)."""
    if kind not in _LIFECYCLE_DETAIL:
        raise ValueError(f"lifecycle() takes deleted or restored, not {kind!r}")
    text = detail if detail is not None else _LIFECYCLE_DETAIL[kind]
    return Diff((FieldChange(kind, Significance.SUBSTANTIVE, "", "", text),))


def _text_lines(article: Article) -> list[str]:
    lines = [f"Headline: {_clean(article.title)}"]
    if _clean(article.standfirst):
        lines.append(f"Standfirst: {_clean(article.standfirst)}")
    if _clean(article.author):
        lines.append(f"Byline: {_clean(article.author)}")
    lines.append("Body (premium, teaser only):" if article.paywalled else "Body:")
    lines += _paragraphs(article)
    lines += [f"READ MORE: {t}" for t in (_clean(x) for x in article.related_links) if t]
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


_HTML_TOKEN = re.compile(r"\w+|\s+|[^\w\s]")


def _html_words(old: str, new: str) -> str:
    """Word-level <del>/<ins> markup; every piece of text escaped.

    Spaces between two changed words join the change, so a reworded phrase reads as one
    deletion and one insertion rather than a word-by-word zigzag.
    """
    esc = html.escape
    if old == new:
        return esc(old)
    a, b = _HTML_TOKEN.findall(old), _HTML_TOKEN.findall(new)
    ops = _opcodes(a, b)
    for k in range(1, len(ops) - 1):
        tag, i1, i2, j1, j2 = ops[k]
        between_changes = ops[k - 1][0] != "equal" and ops[k + 1][0] != "equal"
        if tag == "equal" and between_changes and "".join(a[i1:i2]).isspace():
            ops[k] = ("replace", i1, i2, j1, j2)
    out: list[str] = []
    k = 0
    while k < len(ops):
        tag, i1, i2, j1, j2 = ops[k]
        if tag == "equal":
            out.append(esc("".join(a[i1:i2])))
            k += 1
            continue
        while k + 1 < len(ops) and ops[k + 1][0] != "equal":
            k += 1
            i2, j2 = ops[k][2], ops[k][4]
        if i2 > i1:
            out.append(f"<del>{esc(''.join(a[i1:i2]))}</del>")
        if j2 > j1:
            out.append(f"<ins>{esc(''.join(b[j1:j2]))}</ins>")
        k += 1
    return "".join(out)


def render_html(old: Article, new: Article) -> str:
    """Word-level HTML diff for an email: headline, changed fields, one <p> per paragraph.

    Unchanged runs of paragraphs become one '…' paragraph. Only <div>, <h2>, <p>, <ins>, <del>
    with fixed class names are emitted; all article text goes through html.escape.
    """
    esc = html.escape
    out = ['<div class="cphmon-diff">']
    out.append(f"<h2>{_html_words(_clean(old.title), _clean(new.title))}</h2>")
    for css, o, n in (
        ("standfirst", old.standfirst, new.standfirst),
        ("byline", old.author, new.author),
    ):
        o, n = _clean(o), _clean(n)
        if o != n:
            out.append(f'<p class="{css}">{_html_words(o, n)}</p>')
    if old.paywalled != new.paywalled:
        o, n = _paywall_label(old.paywalled), _paywall_label(new.paywalled)
        out.append(f'<p class="paywall">Paywall: {o} → {n}; the body is not compared.</p>')
    else:
        elided = False
        for seg in _align(_paragraphs(old), _paragraphs(new)):
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
        for change in _related_change(old.related_links, new.related_links):
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
    for tag, i1, i2, j1, j2 in _opcodes(ka, kb):
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
    pairs = _sentence_pairs(_clean(old.title), _clean(new.title))
    pairs += _sentence_pairs(_clean(old.standfirst), _clean(new.standfirst))
    if old.paywalled == new.paywalled:
        for seg in _align(_paragraphs(old), _paragraphs(new)):
            if len(pairs) >= limit:
                break
            if seg.op != "equal":
                pairs += _sentence_pairs("\n".join(seg.old), "\n".join(seg.new))
    return pairs[:limit]
