"""Decide whether an article version is about migration, which topics, and why.

The classifier is a transparent rule scorer, not a trained model: the rules (weighted terms and
regular expressions per topic, in English and Danish) live in ``monitor/rules/migration.toml``,
which a user can extend or replace. Every point of the score is traceable to an
:class:`Evidence` entry, so an alert can say why it was sent.

Scoring, in short (docs/classifier.md has the full story):

* furniture (READ MORE lines, photo captions and credits) is dropped, and negative phrases
  ("European integration", "cross-border") are blanked out before matching;
* each matched term contributes ``weight x field weight x (1 + ln count)``; body evidence is
  damped for long bodies, so passing mentions in a long story count less;
* *core* terms are migration policy/process vocabulary; *weak* terms (refugees, immigrants,
  foreigners, figures, internationals) only count once core evidence reaches ``core_minimum``,
  so a crime or business story about foreigners never becomes relevant by itself;
* an article is relevant when the total reaches ``relevance_threshold``; topics are reported
  when their share reaches ``topic_threshold`` and ``topic_relative`` of the best topic.
"""

from __future__ import annotations

import functools
import math
import re
import tomllib
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "FIELDS",
    "TOPICS",
    "Classification",
    "Evaluation",
    "Evidence",
    "Metrics",
    "Rules",
    "RulesError",
    "classify",
    "evaluate",
    "load_rules",
]

TOPICS: tuple[str, ...] = (
    "asylum",
    "deportation",
    "refugees",
    "residence_permits",
    "work_permits",
    "citizenship",
    "family_reunification",
    "integration",
    "undocumented",
    "border_control",
    "immigration_statistics",
    "immigration_politics",
)
FIELDS: tuple[str, ...] = ("title", "standfirst", "body")
Tier = Literal["core", "weak"]
_TIERS: tuple[Tier, ...] = ("core", "weak")
_PACKAGED = "migration.toml"


class RulesError(ValueError):
    """A rules file is unusable; the one-line message names the file and the problem."""


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Evidence:
    """One rule term matched in one field: ``weight`` is its contribution to the topic score."""

    topic: str
    term: str  # the text as it appeared (lower-cased), e.g. "asylum-seekers"
    field: str  # "title" | "standfirst" | "body"
    count: int
    weight: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "term": self.term,
            "field": self.field,
            "count": self.count,
            "weight": self.weight,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Evidence:
        return cls(
            topic=str(d["topic"]),
            term=str(d["term"]),
            field=str(d["field"]),
            count=int(d["count"]),
            weight=float(d["weight"]),
        )


@dataclass(frozen=True)
class Classification:
    """The verdict on one article version, with the evidence behind it."""

    relevant: bool
    score: float
    topics: dict[str, float]  # only topics that pass their threshold, best first
    evidence: tuple[Evidence, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (evidence as a list of dicts)."""
        return {
            "relevant": self.relevant,
            "score": self.score,
            "topics": dict(self.topics),
            "evidence": [e.to_dict() for e in self.evidence],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Classification:
        topics = {str(k): float(v) for k, v in dict(d.get("topics") or {}).items()}
        return cls(
            relevant=bool(d["relevant"]),
            score=float(d["score"]),
            topics=dict(sorted(topics.items(), key=lambda kv: -kv[1])),
            evidence=tuple(Evidence.from_dict(e) for e in d.get("evidence") or ()),
        )

    def summary(self, limit: int = 3) -> str:
        """One line for alerts: the strongest term of each of the top ``limit`` topics."""
        by_topic: dict[str, list[Evidence]] = {}
        for ev in self.evidence:
            by_topic.setdefault(ev.topic, []).append(ev)
        if not by_topic:
            return "no migration evidence"
        order = [t for t in self.topics if t in by_topic]
        rest = sorted(
            (t for t in by_topic if t not in self.topics),
            key=lambda t: -sum(e.weight for e in by_topic[t]),
        )
        parts = []
        for topic in (order + rest)[: max(limit, 1)]:
            terms: dict[str, list[Evidence]] = {}
            for ev in by_topic[topic]:
                terms.setdefault(ev.term, []).append(ev)
            term, evs = max(terms.items(), key=lambda kv: sum(e.weight for e in kv[1]))
            count = sum(e.count for e in evs)
            fields = ", ".join(f for f in FIELDS if any(e.field == f for e in evs))
            parts.append(f'{topic}: "{term}" ×{count} ({fields})')
        return "; ".join(parts)


# --------------------------------------------------------------------------------------------
# Rules
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scoring:
    """The numbers that turn matches into a verdict (``[scoring]`` in the rules file)."""

    field_weights: Mapping[str, float]
    relevance_threshold: float
    core_minimum: float
    body_norm_words: float
    topic_threshold: float
    topic_relative: float


@dataclass(frozen=True)
class _Term:
    topic: str
    key: str  # the term as written in the rules file (or the regex)
    tier: Tier
    weight: float
    regex: re.Pattern[str]
    needles: tuple[str, ...] = ()  # literal words the text must contain for the term to match
    bounded: bool = False  # the match must not start inside a word (checked in _finditer)


@dataclass(frozen=True)
class Rules:
    """Loaded and compiled rules: build with :func:`load_rules`, reuse for every article."""

    scoring: Scoring
    terms: tuple[_Term, ...]
    drop: tuple[re.Pattern[str], ...]
    strip: tuple[re.Pattern[str], ...]
    masks: tuple[_Term, ...]
    definitions: Mapping[str, str] = field(default_factory=dict)
    sources: tuple[str, ...] = ()

    def terms_for(self, topic: str) -> tuple[_Term, ...]:
        return tuple(t for t in self.terms if t.topic == topic)

    @functools.cached_property
    def _index(self) -> _Index:
        return _Index.build(self.terms, self.masks)


@dataclass(frozen=True)
class _Index:
    """Which terms and masks can match a text at all, found in one pass over it.

    Matching every term's regex over every field is the cost of classifying: a term whose
    literal pieces (``needles``) are not all in the text cannot match, and most are not. One
    regex, a trie of every needle inside a lookahead, reports the longest needle starting at
    each position of the text; the needles that are prefixes of it start there too. Each term
    is filed under one of its needles (the longest), so the terms to try are those filed under
    a needle the text contains, plus the terms without needles (patterns). It is only a
    prefilter: :func:`_finditer` still checks every needle and runs the term's own regex, so
    the matches, and their order, are those of trying every term.
    """

    scan: re.Pattern[str] | None
    terms_at: Mapping[str, frozenset[int]]  # longest needle at a position -> candidate terms
    masks_at: Mapping[str, frozenset[int]]
    always_terms: frozenset[int]
    always_masks: frozenset[int]
    required: Mapping[int, tuple[str, ...]]  # pattern -> literals one of which each match has

    @classmethod
    def build(cls, terms: Sequence[_Term], masks: Sequence[_Term]) -> _Index:
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
        scan = re.compile(f"(?=({_trie(needles)}))") if needles else None
        required = {
            i: literals
            for i in always_terms
            if not terms[i].bounded and (literals := _required_literals(terms[i].regex))
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
        if not required or _FOLDS_TO_ASCII.search(text):
            return terms
        return [i for i in terms if (lits := required.get(i)) is None or _any_in(lits, text)]


_FOLDS_TO_ASCII = re.compile("[A-Z\u0130\u0131\u017f\u212a]")  # İ ı ſ K: see test_prefilter


def _any_in(literals: tuple[str, ...], text: str) -> bool:
    return any(literal in text for literal in literals)


def _required_literals(regex: re.Pattern[str]) -> tuple[str, ...]:
    """Lower-case ASCII literals one of which every match of ``regex`` contains (ignoring
    case), or () when the regex has no such set (or cannot be analysed)."""
    try:
        from re import _constants as sre  # type: ignore[attr-defined]
        from re import _parser  # type: ignore[attr-defined]

        found = _literal_sets(list(_parser.parse(regex.pattern, regex.flags)), sre)
    except Exception:  # a private module that may change: no prefilter is always correct
        return ()
    return tuple(sorted(literal.lower() for literal in found)) if found else ()


def _literal_sets(items: list[tuple[Any, Any]], sre: Any) -> frozenset[str] | None:
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
            found = None if add_flags or del_flags else _literal_sets(list(sub), sre)
        elif op is sre.BRANCH:
            branches = [_literal_sets(list(branch), sre) for branch in arg[1]]
            if all(b is not None for b in branches):
                found = frozenset().union(*(b for b in branches if b is not None))
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT):
            least, _most, sub = arg
            found = _literal_sets(list(sub), sre) if least >= 1 else None
        elif op is sre.ASSERT:  # a lookaround that must match: its text is in the text too
            found = _literal_sets(list(arg[1]), sre)
        if found:
            options.append(found)
    options = [o for o in options if all(literal.isascii() and literal for literal in o)]
    if not options:
        return None
    return max(options, key=lambda o: (min(map(len, o)), -len(o)))


def _trie(words: Iterable[str]) -> str:
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


_SCORING_KEYS = {
    "field_weights",
    "relevance_threshold",
    "core_minimum",
    "body_norm_words",
    "topic_threshold",
    "topic_relative",
}
_TOP_KEYS = {"version", "scoring", "furniture", "negative", "topics"}
_TOPIC_KEYS = {"definition", "core", "weak", "patterns"}
_TERM_FORBIDDEN = set("()[]{}|?+\\^$")


def _err(source: str, where: str, problem: str) -> RulesError:
    return RulesError(f"{source}: {where}: {problem}" if where else f"{source}: {problem}")


def _number(source: str, where: str, value: Any, *, minimum: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise _err(source, where, f"expected a number, got {value!r}")
    if value < minimum:
        raise _err(source, where, f"must be at least {minimum:g}, got {value!r}")
    return float(value)


def _string_list(source: str, where: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _err(source, where, "expected a list of strings")
    return list(value)


def _compile(source: str, where: str, regex: str) -> re.Pattern[str]:
    try:
        return re.compile(regex, re.IGNORECASE)
    except re.error as exc:
        raise _err(source, where, f"bad regular expression {regex!r} ({exc})") from None


def _term_regex(source: str, where: str, term: str) -> re.Pattern[str]:
    """``*`` = any word characters; spaces and hyphens = any run of spaces/hyphens or none.

    The regex starts with the term's first literal so ``re`` can search for it quickly; the
    word boundary before it is checked by :func:`_finditer`.
    """
    text = _normalise(term).strip()
    if not text or not text.strip("*- "):
        raise _err(source, where, "empty term")
    if _TERM_FORBIDDEN & set(text):
        raise _err(source, where, "term looks like a regular expression; put it under patterns")
    pieces = []
    for token in re.split(r"[\s\-]+", text):
        pieces.append(r"\w*".join(re.escape(part) for part in token.split("*")))
    return _compile(source, where, r"[\s\-]*".join(pieces) + r"(?!\w)")


def _needles(term: str) -> tuple[str, ...]:
    """The literal pieces of a term, checked with ``in`` before its regex runs (a fast skip)."""
    return tuple(p for p in re.split(r"[\s\-*]+", term) if p)


def _validate(source: str, data: Mapping[str, Any], *, complete: bool) -> None:
    """Check the structure of one rules file so errors name the file that has them."""
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise _err(source, "", f"unknown section {sorted(unknown)[0]!r}")
    if "version" in data and data["version"] != 1:
        raise _err(source, "version", f"unsupported rules version {data['version']!r}")
    scoring = data.get("scoring", {})
    if not isinstance(scoring, dict):
        raise _err(source, "scoring", "expected a table")
    for key, value in scoring.items():
        if key not in _SCORING_KEYS:
            raise _err(source, f"scoring.{key}", "unknown setting")
        if key == "field_weights":
            if not isinstance(value, dict):
                raise _err(source, "scoring.field_weights", "expected a table")
            for fname, weight in value.items():
                if fname not in FIELDS:
                    raise _err(source, f"scoring.field_weights.{fname}", "unknown field")
                _number(source, f"scoring.field_weights.{fname}", weight)
        else:
            _number(source, f"scoring.{key}", value)
    for section, keys in (("furniture", ("drop", "strip")), ("negative", ("mask",))):
        table = data.get(section, {})
        if not isinstance(table, dict):
            raise _err(source, section, "expected a table")
        for key in table:
            if key not in keys:
                raise _err(source, f"{section}.{key}", "unknown setting")
            items = _string_list(source, f"{section}.{key}", table[key])
            for i, item in enumerate(items):
                where = f"{section}.{key}[{i}]"
                if section == "negative":
                    _term_regex(source, where, item)
                else:
                    _compile(source, where, item)
    topics = data.get("topics", {})
    if not isinstance(topics, dict):
        raise _err(source, "topics", "expected a table")
    if complete and not topics:
        raise _err(source, "topics", "a replacement rules file needs at least one topic")
    for topic, spec in topics.items():
        if topic not in TOPICS:
            raise _err(source, f"topics.{topic}", f"unknown topic (topics: {', '.join(TOPICS)})")
        if not isinstance(spec, dict):
            raise _err(source, f"topics.{topic}", "expected a table")
        for key in spec:
            if key not in _TOPIC_KEYS:
                raise _err(source, f"topics.{topic}.{key}", "unknown key")
        if not isinstance(spec.get("definition", ""), str):
            raise _err(source, f"topics.{topic}.definition", "expected a string")
        for tier in _TIERS:
            terms = spec.get(tier, {})
            if not isinstance(terms, dict):
                raise _err(source, f"topics.{topic}.{tier}", "expected a table of term = weight")
            for term, weight in terms.items():
                where = f'topics.{topic}.{tier}."{term}"'
                _number(source, where, weight)
                _term_regex(source, where, term)
        patterns = spec.get("patterns", [])
        if not isinstance(patterns, list):
            raise _err(source, f"topics.{topic}.patterns", "expected an array of tables")
        for i, pat in enumerate(patterns):
            where = f"topics.{topic}.patterns[{i}]"
            if not isinstance(pat, dict) or not isinstance(pat.get("regex"), str):
                raise _err(source, where, "expected { regex = '...', weight = N, tier = ... }")
            extra = set(pat) - {"regex", "weight", "tier"}
            if extra:
                raise _err(source, f"{where}.{sorted(extra)[0]}", "unknown key")
            _number(source, f"{where}.weight", pat.get("weight", 1.0))
            if pat.get("tier", "core") not in _TIERS:
                raise _err(source, f"{where}.tier", "must be 'core' or 'weak'")
            _compile(source, f"{where}.regex", pat["regex"])


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """Extend ``base`` with ``extra``: settings and term weights override, lists append."""
    out: dict[str, Any] = {
        "scoring": dict(base.get("scoring", {})),
        "furniture": {k: list(v) for k, v in base.get("furniture", {}).items()},
        "negative": {k: list(v) for k, v in base.get("negative", {}).items()},
        "topics": {},
    }
    for key, value in extra.get("scoring", {}).items():
        if key == "field_weights":
            out["scoring"][key] = {**out["scoring"].get(key, {}), **value}
        else:
            out["scoring"][key] = value
    for section in ("furniture", "negative"):
        for key, values in extra.get(section, {}).items():
            out[section].setdefault(key, []).extend(values)
    for topic in TOPICS:
        old = base.get("topics", {}).get(topic)
        new = extra.get("topics", {}).get(topic)
        if old is None and new is None:
            continue
        old = old or {}
        new = new or {}
        out["topics"][topic] = {
            "definition": new.get("definition", old.get("definition", "")),
            "core": {**old.get("core", {}), **new.get("core", {})},
            "weak": {**old.get("weak", {}), **new.get("weak", {})},
            "patterns": [*old.get("patterns", []), *new.get("patterns", [])],
        }
    return out


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise _err(str(path), "", "no such file") from None
    except IsADirectoryError:
        raise _err(str(path), "", "is a directory, not a rules file") from None
    except tomllib.TOMLDecodeError as exc:
        raise _err(str(path), "", f"not valid TOML ({exc})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise _err(str(path), "", f"cannot be read ({exc})") from None


@functools.lru_cache(maxsize=1)
def _packaged_data() -> dict[str, Any]:
    text = resources.files("monitor").joinpath("rules", _PACKAGED).read_text("utf-8")
    data = tomllib.loads(text)
    _validate(f"monitor/rules/{_PACKAGED}", data, complete=True)
    return data


def _build(data: Mapping[str, Any], sources: tuple[str, ...]) -> Rules:
    src = " + ".join(sources)
    sc = data.get("scoring", {})
    packaged_sc = _packaged_data()["scoring"]

    def setting(key: str) -> float:
        return float(sc.get(key, packaged_sc[key]))

    weights = {**packaged_sc["field_weights"], **sc.get("field_weights", {})}
    scoring = Scoring(
        field_weights={f: float(weights.get(f, 1.0)) for f in FIELDS},
        relevance_threshold=setting("relevance_threshold"),
        core_minimum=setting("core_minimum"),
        body_norm_words=max(setting("body_norm_words"), 1.0),
        topic_threshold=setting("topic_threshold"),
        topic_relative=setting("topic_relative"),
    )
    terms: list[_Term] = []
    definitions: dict[str, str] = {}
    for topic in TOPICS:
        spec = data.get("topics", {}).get(topic)
        if spec is None:
            continue
        definitions[topic] = " ".join(str(spec.get("definition", "")).split())
        for tier in _TIERS:
            for term, weight in spec.get(tier, {}).items():
                if weight > 0:
                    where = f'topics.{topic}.{tier}."{term}"'
                    regex = _term_regex(src, where, term)
                    key = _normalise(term)
                    terms.append(
                        _Term(topic, key, tier, float(weight), regex, _needles(key), bounded=True)
                    )
        for i, pat in enumerate(spec.get("patterns", [])):
            weight = float(pat.get("weight", 1.0))
            if weight > 0:
                regex = _compile(src, f"topics.{topic}.patterns[{i}]", pat["regex"])
                terms.append(_Term(topic, pat["regex"], pat.get("tier", "core"), weight, regex))
    if not terms:
        raise _err(src, "topics", "no term has a positive weight")
    masks = tuple(
        _Term("", key, "core", 0.0, _term_regex(src, "negative.mask", key), _needles(key), True)
        for key in (_normalise(m) for m in data.get("negative", {}).get("mask", []))
    )
    furniture = data.get("furniture", {})
    return Rules(
        scoring=scoring,
        terms=tuple(terms),
        drop=tuple(_compile(src, "furniture.drop", r) for r in furniture.get("drop", [])),
        strip=tuple(_compile(src, "furniture.strip", r) for r in furniture.get("strip", [])),
        masks=masks,
        definitions=definitions,
        sources=sources,
    )


@functools.lru_cache(maxsize=1)
def _packaged_rules() -> Rules:
    return _build(_packaged_data(), (f"monitor/rules/{_PACKAGED}",))


def load_rules(path: Path | None = None, mode: Literal["extend", "replace"] = "extend") -> Rules:
    """The packaged rules, extended or replaced by the TOML file at ``path``.

    Raises :class:`RulesError` (one line naming the file and the problem) for a missing file,
    bad TOML, an unknown topic or setting, a bad weight or an uncompilable pattern.
    """
    if path is None:
        return _packaged_rules()
    if mode not in ("extend", "replace"):
        raise _err(str(path), "", f"unknown rules mode {mode!r} (extend or replace)")
    user = _read(path)
    _validate(str(path), user, complete=mode == "replace")
    if mode == "replace":
        return _build(_merge({}, user), (str(path),))
    return _build(_merge(_packaged_data(), user), (f"monitor/rules/{_PACKAGED}", str(path)))


# --------------------------------------------------------------------------------------------
# Classification
# --------------------------------------------------------------------------------------------

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
_WORD = re.compile(r"\w+")


def _normalise(text: str) -> str:
    return unicodedata.normalize("NFC", text).translate(_TRANSLATE).lower()


def _paragraphs(body: str | Sequence[str]) -> list[str]:
    if isinstance(body, str):
        return body.splitlines()
    return [line for para in body for line in str(para).splitlines()]


def _clean_body(body: str | Sequence[str], rules: Rules) -> str:
    """Body text without furniture: READ MORE lines, captions and credits never count."""
    kept = []
    for para in _paragraphs(body):
        line = _normalise(para).rstrip()
        text = line.strip()
        if not text or any(r.search(line) for r in rules.drop):
            continue
        for r in rules.strip:
            text = r.sub(" ", text)
        kept.append(text)
    return "\n".join(kept)


def _finditer(term: _Term, text: str) -> Iterator[re.Match[str]]:
    """Matches of one term: skipped at once when a literal piece is missing from the text,
    and for plain terms only where the match does not start inside a word."""
    if not all(needle in text for needle in term.needles):
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


def _masked(text: str, rules: Rules, only: Sequence[int] | None = None) -> str:
    """``text`` with negative phrases blanked out (same length, so offsets stay valid).

    ``only``: the indices (ascending) of the masks to try, all others being known not to match
    (:meth:`_Index.candidates`).
    """
    masks = rules.masks if only is None else [rules.masks[i] for i in only]
    for mask in masks:
        for m in list(_finditer(mask, text)):
            text = text[: m.start()] + " " * (m.end() - m.start()) + text[m.end() :]
    return text


def _matches(text: str, rules: Rules, only: Sequence[int] | None = None) -> list[tuple[_Term, str]]:
    """Accepted (term, surface) matches: a longer match hides shorter terms inside it.

    A match is dropped when it overlaps a strictly longer accepted match ("immigration
    minister" is not also "minister"; "rejected asylum seekers" is not also "asylum seekers"
    unless the rules list it under asylum too), or an equally long one of another term of the
    same topic (one span counts once per topic). Equal spans in different topics all count.
    ``only``: the indices (ascending) of the terms to try, as in :func:`_masked`.
    """
    found: list[tuple[int, int, _Term]] = []
    for term in rules.terms if only is None else [rules.terms[i] for i in only]:
        for m in _finditer(term, text):
            if m.end() > m.start():
                found.append((m.start(), m.end(), term))
    found.sort(key=lambda f: (f[0] - f[1], f[0]))
    accepted: list[tuple[int, int, _Term]] = []
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
    return [(term, " ".join(text[s:e].split())) for s, e, term in accepted]


def classify(
    title: str,
    standfirst: str,
    body: str | Sequence[str],
    rules: Rules | None = None,
) -> Classification:
    """Classify one article version (pure; ``rules`` default to the packaged rules)."""
    rules = rules or _packaged_rules()
    sc = rules.scoring
    body_text = _clean_body(body, rules)
    index = rules._index
    texts: dict[str, str] = {}
    only: dict[str, list[int]] = {}
    for fname, text in (
        ("title", _normalise(title)),
        ("standfirst", _normalise(standfirst)),
        ("body", body_text),
    ):
        # Masking only blanks text out, so what may match the masked text may match this one.
        terms, masks = index.candidates(text)
        texts[fname] = _masked(text, rules, masks)
        only[fname] = index.possible(texts[fname], terms)
    words = len(_WORD.findall(body_text))
    damping = {"title": 1.0, "standfirst": 1.0}
    damping["body"] = min(1.0, math.sqrt(sc.body_norm_words / words)) if words else 1.0

    contributions: list[tuple[_Term, Evidence]] = []
    for fname in FIELDS:
        counts: Counter[int] = Counter()
        surfaces: dict[int, Counter[str]] = {}
        by_id: dict[int, _Term] = {}
        for term, surface in _matches(texts[fname], rules, only[fname]):
            counts[id(term)] += 1
            surfaces.setdefault(id(term), Counter())[surface] += 1
            by_id[id(term)] = term
        for tid, n in counts.items():
            term = by_id[tid]
            weight = term.weight * sc.field_weights[fname] * (1 + math.log(n)) * damping[fname]
            surface = surfaces[tid].most_common(1)[0][0]
            contributions.append((term, Evidence(term.topic, surface, fname, n, weight)))

    core = sum(ev.weight for term, ev in contributions if term.tier == "core")
    counted = [ev for term, ev in contributions if term.tier == "core" or core >= sc.core_minimum]
    score = sum(ev.weight for ev in counted)
    relevant = core >= sc.core_minimum and score >= sc.relevance_threshold

    topic_scores: dict[str, float] = {}
    for ev in counted:
        topic_scores[ev.topic] = topic_scores.get(ev.topic, 0.0) + ev.weight
    topics: dict[str, float] = {}
    if relevant and topic_scores:
        best = max(topic_scores.values())
        floor = max(sc.topic_threshold, sc.topic_relative * best)
        ranked = sorted(topic_scores.items(), key=lambda kv: (-kv[1], TOPICS.index(kv[0])))
        topics = {t: round(s, 2) for t, s in ranked if s >= floor} or {
            ranked[0][0]: round(ranked[0][1], 2)
        }
    evidence = tuple(
        Evidence(ev.topic, ev.term, ev.field, ev.count, round(ev.weight, 3))
        for ev in sorted(
            counted, key=lambda e: (-e.weight, TOPICS.index(e.topic), FIELDS.index(e.field))
        )
    )
    return Classification(relevant, round(score, 2), topics, evidence)


# --------------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Metrics:
    """Counts and precision/recall/F1 for one label (undefined ratios are 0)."""

    tp: int
    fp: int
    fn: int

    @property
    def support(self) -> int:
        return self.tp + self.fn

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "support": self.support,
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
        }


@dataclass(frozen=True)
class Evaluation:
    """Relevance and topic metrics over a labelled set."""

    articles: int
    relevance: Metrics
    topics: dict[str, Metrics]
    micro: Metrics

    def to_dict(self) -> dict[str, Any]:
        return {
            "articles": self.articles,
            "relevance": self.relevance.to_dict(),
            "topics": {t: m.to_dict() for t, m in self.topics.items()},
            "micro": self.micro.to_dict(),
        }


def evaluate(pairs: Iterable[tuple[Classification, bool, Iterable[str]]]) -> Evaluation:
    """Score predictions against gold ``(relevant, topics)`` labels.

    Topics are scored over every article (a not-relevant article has no gold topics), so topics
    predicted for a false positive count against precision.
    """
    rel = [0, 0, 0]
    per = {t: [0, 0, 0] for t in TOPICS}
    n = 0
    for pred, gold_relevant, gold_topics in pairs:
        n += 1
        if pred.relevant and gold_relevant:
            rel[0] += 1
        elif pred.relevant:
            rel[1] += 1
        elif gold_relevant:
            rel[2] += 1
        gold = set(gold_topics)
        for topic in TOPICS:
            p, g = topic in pred.topics, topic in gold
            per[topic][0] += p and g
            per[topic][1] += p and not g
            per[topic][2] += g and not p
    topics = {t: Metrics(*c) for t, c in per.items()}
    micro = Metrics(*(sum(c[i] for c in per.values()) for i in range(3)))
    return Evaluation(n, Metrics(*rel), topics, micro)
