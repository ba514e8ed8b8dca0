"""Text helpers every part of the diff shares: folding, word opcodes, sentences, paragraphs.

Folding decides what counts as the same text (see :func:`fold`); :func:`opcodes` is difflib
with the common head and tail trimmed; :func:`align_paragraphs` pairs the paragraphs of two
versions so that an edited paragraph reads as an edit rather than a removal plus an addition.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import lru_cache
from typing import Literal

from scrapers.article import Article, clean_text, normalize_text

# --- text folding -------------------------------------------------------------------------

# Paragraphs are folded and normalized many times per diff (alignment, rating, sentences).
clean = lru_cache(maxsize=4096)(clean_text)
normal = lru_cache(maxsize=4096)(normalize_text)

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
    return " ".join(_PUNCT.sub(" ", normal(text)).split())


def folded_words(text: str) -> list[str]:
    return fold(text).split()


def opcodes(a: Sequence[str], b: Sequence[str]) -> list[tuple[str, int, int, int, int]]:
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
    text = clean(text)
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


def sentence_keys(text: str) -> list[str]:
    return [k for k in (fold(s) for s in split_sentences(text)) if k]


def count_noun(n: int, noun: str) -> str:
    return noun if n == 1 else f"{n} {noun}s"


# --- body alignment -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Segment:
    op: Literal["equal", "edit", "added", "removed"]
    old: tuple[str, ...]
    new: tuple[str, ...]


def article_paragraphs(article: Article) -> list[str]:
    """Paragraphs as a reader sees them; empty ones do not exist (as for the fingerprint)."""
    return [p for p in (clean(x) for x in article.paragraphs) if p]


def _similarity(a: str, b: str) -> float:
    wa, wb = fold(a).split(), fold(b).split()
    if not wa and not wb:
        return 1.0
    matched = sum(i2 - i1 for tag, i1, i2, _, _ in opcodes(wa, wb) if tag == "equal")
    return 2.0 * matched / (len(wa) + len(wb))


_PAIRING_LIMIT = 400  # old x new paragraphs in one replaced block; beyond it, no pairing


def _pair(old: Sequence[str], new: Sequence[str]) -> list[Segment]:
    """Split a replaced block into edited pairs (over half the words shared) and the rest.

    Greedy and order-preserving: each old paragraph takes its most similar new paragraph after
    the last one taken; new paragraphs skipped over are added, old ones left alone removed.
    """
    if len(old) * len(new) > _PAIRING_LIMIT:
        return [Segment("removed", tuple(old), ()), Segment("added", (), tuple(new))]
    out: list[Segment] = []
    j = 0
    for paragraph in old:
        best, best_ratio = -1, 0.5
        for k in range(j, len(new)):
            ratio = _similarity(paragraph, new[k])
            if ratio > best_ratio:
                best, best_ratio = k, ratio
        if best < 0:
            out.append(Segment("removed", (paragraph,), ()))
            continue
        if best > j:
            out.append(Segment("added", (), tuple(new[j:best])))
        out.append(Segment("edit", (paragraph,), (new[best],)))
        j = best + 1
    if j < len(new):
        out.append(Segment("added", (), tuple(new[j:])))
    return out


def align_paragraphs(old: Sequence[str], new: Sequence[str]) -> list[Segment]:
    """Paragraph alignment on folded text, so cosmetic edits pair up as edits."""
    out: list[Segment] = []
    for tag, i1, i2, j1, j2 in opcodes([fold(p) for p in old], [fold(p) for p in new]):
        if tag == "equal":
            for o, n in zip(old[i1:i2], new[j1:j2], strict=True):
                out.append(Segment("equal" if o == n else "edit", (o,), (n,)))
        elif tag == "delete":
            out.append(Segment("removed", tuple(old[i1:i2]), ()))
        elif tag == "insert":
            out.append(Segment("added", (), tuple(new[j1:j2])))
        else:
            out += _pair(old[i1:i2], new[j1:j2])
    merged: list[Segment] = []
    for seg in out:  # removed+removed, added+added: one group each
        if merged and seg.op in ("added", "removed") and merged[-1].op == seg.op:
            last = merged.pop()
            seg = Segment(seg.op, last.old + seg.old, last.new + seg.new)
        merged.append(seg)
    return merged
