"""Rule terms as compiled matchers, and the text normalisation both the rules and articles share.

A term written in the rules file (``"asylum seeker*"``) becomes a :class:`Term`: a regex plus
the literal pieces (``needles``) any match must contain, which the prefilter (``index.py``)
uses to skip terms that cannot match.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

Tier = Literal["core", "weak"]
TIERS: tuple[Tier, ...] = ("core", "weak")
TERM_FORBIDDEN = frozenset("()[]{}|?+\\^$")

_TRANSLATE = str.maketrans(
    {
        "\u2019": "'",
        "\u2018": "'",
        "\u201b": "'",
        "\u00b4": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2212": "-",
        "\u00a0": " ",
        "\u202f": " ",
        "\u00ad": None,
        "\u200b": None,
    }
)
WORD = re.compile(r"\w+")


class TermError(ValueError):
    """A term or pattern cannot be compiled (the caller adds the file and the place)."""


@dataclass(frozen=True)
class Term:
    """One compiled rule term (or pattern, or negative mask) of one topic."""

    topic: str
    key: str  # the term as written in the rules file (normalised), or the regex
    tier: Tier
    weight: float
    regex: re.Pattern[str]
    needles: tuple[str, ...] = ()  # literal words the text must contain for the term to match
    bounded: bool = False  # the match must not start inside a word (checked in finditer)


def normalise(text: str) -> str:
    """NFC, typographic quotes and dashes made plain, soft hyphens dropped, lower case."""
    return unicodedata.normalize("NFC", text).translate(_TRANSLATE).lower()


def compile_pattern(regex: str) -> re.Pattern[str]:
    try:
        return re.compile(regex, re.IGNORECASE)
    except re.error as exc:
        raise TermError(f"bad regular expression {regex!r} ({exc})") from None


def term_regex(term: str) -> re.Pattern[str]:
    """``*`` = any word characters; spaces and hyphens = any run of spaces/hyphens or none.

    The regex starts with the term's first literal so ``re`` can search for it quickly; the
    word boundary before it is checked by :func:`monitor.classify.matching.finditer`.
    """
    text = normalise(term).strip()
    if not text or not text.strip("*- "):
        raise TermError("empty term")
    if TERM_FORBIDDEN & set(text):
        raise TermError("term looks like a regular expression; put it under patterns")
    pieces = []
    for token in re.split(r"[\s\-]+", text):
        pieces.append(r"\w*".join(re.escape(part) for part in token.split("*")))
    return compile_pattern(r"[\s\-]*".join(pieces) + r"(?!\w)")


def needles(term: str) -> tuple[str, ...]:
    """The literal pieces of a term, checked with ``in`` before its regex runs (a fast skip)."""
    return tuple(p for p in re.split(r"[\s\-*]+", term) if p)


def make_term(topic: str, term: str, tier: Tier, weight: float) -> Term:
    key = normalise(term)
    return Term(topic, key, tier, weight, term_regex(term), needles(key), bounded=True)
