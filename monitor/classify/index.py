"""The prefilter: which terms and masks can match a text at all, found in one pass over it."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from monitor.classify.terms import Term


@dataclass(frozen=True)
class Index:
    """Which terms and masks can match a text at all, found in one pass over it.

    Matching every term's regex over every field is the cost of classifying: a term whose
    literal pieces (``needles``) are not all in the text cannot match, and most are not. One
    regex, a trie of every needle inside a lookahead, reports the longest needle starting at
    each position of the text; the needles that are prefixes of it start there too. Each term
    is filed under one of its needles (the longest), so the terms to try are those filed under
    a needle the text contains, plus the terms without needles (patterns). It is only a
    prefilter: :func:`monitor.classify.matching.finditer` still checks every needle and runs the
    term's own regex, so the matches, and their order, are those of trying every term.
    """

    scan: re.Pattern[str] | None
    terms_at: Mapping[str, frozenset[int]]  # longest needle at a position -> candidate terms
    masks_at: Mapping[str, frozenset[int]]
    always_terms: frozenset[int]
    always_masks: frozenset[int]
    required: Mapping[int, tuple[str, ...]]  # pattern -> literals one of which each match has

    @classmethod
    def build(cls, terms: Sequence[Term], masks: Sequence[Term]) -> Index:
        terms_by_key: dict[str, set[int]] = {}
        masks_by_key: dict[str, set[int]] = {}
        always_terms: set[int] = set()
        always_masks: set[int] = set()
        for items, by_key, always in (
            (terms, terms_by_key, always_terms),
            (masks, masks_by_key, always_masks),
        ):
            for i, term in enumerate(items):
                if term.needles:
                    key = max(term.needles, key=len)
                    by_key.setdefault(key, set()).add(i)
                else:
                    always.add(i)
        needles = {*terms_by_key, *masks_by_key}
        terms_at: dict[str, frozenset[int]] = {}
        masks_at: dict[str, frozenset[int]] = {}
        for needle in needles:
            prefixes = [needle[:n] for n in range(1, len(needle) + 1)]
            terms_at[needle] = frozenset(i for p in prefixes for i in terms_by_key.get(p, ()))
            masks_at[needle] = frozenset(i for p in prefixes for i in masks_by_key.get(p, ()))
        scan = re.compile(f"(?=({trie(needles)}))") if needles else None
        required = {
            i: literals
            for i in always_terms
            if not terms[i].bounded and (literals := required_literals(terms[i].regex))
        }
        return cls(
            scan, terms_at, masks_at, frozenset(always_terms), frozenset(always_masks), required
        )

    def candidates(self, text: str) -> tuple[list[int], list[int]]:
        """Indices (ascending) of the terms and of the masks that may match ``text``."""
        terms, masks = set(self.always_terms), set(self.always_masks)
        if self.scan is not None:
            for needle in set(self.scan.findall(text)):
                terms |= self.terms_at[needle]
                masks |= self.masks_at[needle]
        return sorted(terms), sorted(masks)

    def possible(self, text: str, terms: list[int]) -> list[int]:
        """``terms`` without the patterns that cannot match ``text`` (none of their required
        literals is in it). The literals are lower-case ASCII, and a pattern ignores case: in a
        text without upper-case ASCII and without the four other characters that match an ASCII
        letter when case is ignored, the pattern's literal matches exactly where its
        lower-case form is a substring."""
        required = self.required
        if not required or FOLDS_TO_ASCII.search(text):
            return terms
        return [i for i in terms if (lits := required.get(i)) is None or any_in(lits, text)]


FOLDS_TO_ASCII = re.compile("[A-Z\u0130\u0131\u017f\u212a]")  # İ ı ſ K: see test_prefilter


def any_in(literals: tuple[str, ...], text: str) -> bool:
    return any(literal in text for literal in literals)


def required_literals(regex: re.Pattern[str]) -> tuple[str, ...]:
    """Lower-case ASCII literals one of which every match of ``regex`` contains (ignoring
    case), or () when the regex has no such set (or cannot be analysed)."""
    try:
        from re import _constants as sre  # type: ignore[attr-defined]
        from re import _parser  # type: ignore[attr-defined]

        found = literal_sets(list(_parser.parse(regex.pattern, regex.flags)), sre)
    except Exception:  # a private module that may change: no prefilter is always correct
        return ()
    return tuple(sorted(literal.lower() for literal in found)) if found else ()


def literal_sets(items: list[tuple[Any, Any]], sre: Any) -> frozenset[str] | None:
    """Of the parsed regex sequence ``items``: the most selective set of ASCII literals one of
    which every match contains (the longest shortest literal), or None."""
    options: list[frozenset[str]] = []
    run: list[str] = []
    for op, arg in [*items, (None, None)]:
        if op is sre.LITERAL:
            run.append(chr(arg))
            continue
        if run:
            options.append(frozenset({"".join(run)}))
            run = []
        found: frozenset[str] | None = None
        if op is sre.SUBPATTERN:
            _group, add_flags, del_flags, sub = arg
            found = None if add_flags or del_flags else literal_sets(list(sub), sre)
        elif op is sre.BRANCH:
            branches = [literal_sets(list(branch), sre) for branch in arg[1]]
            if all(b is not None for b in branches):
                found = frozenset().union(*(b for b in branches if b is not None))
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT):
            least, _most, sub = arg
            found = literal_sets(list(sub), sre) if least >= 1 else None
        elif op is sre.ASSERT:  # a lookaround that must match: its text is in the text too
            found = literal_sets(list(arg[1]), sre)
        if found:
            options.append(found)
    options = [o for o in options if all(literal.isascii() and literal for literal in o)]
    if not options:
        return None
    return max(options, key=lambda o: (min(map(len, o)), -len(o)))


def trie(words: Iterable[str]) -> str:
    """A regex matching the longest of ``words`` that starts where it is tried (exact case).

    Alternatives branch on distinct characters and every optional tail is greedy, so the one
    path the text allows is followed as far as a word ends on it.
    """
    root: dict[str, Any] = {}
    for word in words:
        node = root
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def pattern(node: dict[str, Any]) -> str:
        alternatives = [re.escape(ch) + pattern(node[ch]) for ch in sorted(node) if ch]
        if not alternatives:
            return ""
        body = alternatives[0] if len(alternatives) == 1 else f"(?:{'|'.join(alternatives)})"
        return f"(?:{body})?" if "" in node else body

    return pattern(root)
