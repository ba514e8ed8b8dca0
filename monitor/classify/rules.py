"""Loading rules: the packaged file, a user's file extending or replacing it, compiled once.

A user file is checked on its own (:func:`monitor.classify.schema.check`) so an error names the
file that has it, then merged into the packaged rules (settings and term weights override,
lists append) and compiled into :class:`Rules`.
"""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from monitor.classify.index import Index
from monitor.classify.schema import FIELDS, TOPICS, RulesError, check
from monitor.classify.terms import TIERS, Term, compile_pattern, make_term

PACKAGED = "migration.toml"
PACKAGED_SOURCE = f"monitor/rules/{PACKAGED}"
_BACKREF = re.compile(r"\\\d|\(\?P=|\(\?[a-zA-Z-]+[:)]|\\g<")


@dataclass(frozen=True)
class Scoring:
    """The numbers that turn matches into a verdict (``[scoring]`` in the rules file)."""

    field_weights: Mapping[str, float]
    relevance_threshold: float
    core_minimum: float
    body_norm_words: float
    topic_threshold: float
    topic_relative: float
    lead_paragraphs: int = 3
    headline_minimum: float = 3.0
    passing_coverage: float = 0.3
    headline_coverage: float = 0.2
    roundup_items: int = 3
    topic_coverage: float = 0.2


_NUMBERS = (
    "relevance_threshold",
    "core_minimum",
    "body_norm_words",
    "topic_threshold",
    "topic_relative",
    "lead_paragraphs",
    "headline_minimum",
    "passing_coverage",
    "headline_coverage",
    "roundup_items",
    "topic_coverage",
)


@dataclass(frozen=True)
class Rules:
    """Loaded and compiled rules: build with :func:`load_rules`, reuse for every article."""

    scoring: Scoring
    terms: tuple[Term, ...]
    drop: tuple[re.Pattern[str], ...]
    strip: tuple[re.Pattern[str], ...]
    masks: tuple[Term, ...]
    definitions: Mapping[str, str] = field(default_factory=dict)
    sources: tuple[str, ...] = ()
    roundup_titles: tuple[re.Pattern[str], ...] = ()

    def terms_for(self, topic: str) -> tuple[Term, ...]:
        return tuple(t for t in self.terms if t.topic == topic)

    @functools.cached_property
    def drop_patterns(self) -> tuple[re.Pattern[str], ...]:
        """The furniture ``drop`` regexes as one alternation (one search a line), or as they
        are when joining them could change a match (backreferences, inline flags)."""
        if len(self.drop) < 2 or any(_BACKREF.search(r.pattern) for r in self.drop):
            return self.drop
        try:
            joined = "|".join(f"(?:{r.pattern})" for r in self.drop)
            return (re.compile(joined, re.IGNORECASE),)
        except re.error:
            return self.drop

    @functools.cached_property
    def index(self) -> Index:
        """The prefilter over these rules' terms and masks (built on first use)."""
        return Index.build(self.terms, self.masks)


def merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """Extend ``base`` with ``extra``: settings and term weights override, lists append."""
    out: dict[str, Any] = {
        "scoring": dict(base.get("scoring", {})),
        "furniture": {k: list(v) for k, v in base.get("furniture", {}).items()},
        "negative": {k: list(v) for k, v in base.get("negative", {}).items()},
        "structure": {k: list(v) for k, v in base.get("structure", {}).items()},
        "topics": {},
    }
    for key, value in extra.get("scoring", {}).items():
        if key == "field_weights":
            out["scoring"][key] = {**out["scoring"].get(key, {}), **value}
        else:
            out["scoring"][key] = value
    for section in ("furniture", "negative", "structure"):
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


def read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise RulesError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise RulesError(f"{path}: is a directory, not a rules file") from None
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"{path}: not valid TOML ({exc})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RulesError(f"{path}: cannot be read ({exc})") from None


@functools.lru_cache(maxsize=1)
def packaged_data() -> dict[str, Any]:
    text = resources.files("monitor").joinpath("rules", PACKAGED).read_text("utf-8")
    data = tomllib.loads(text)
    check(PACKAGED_SOURCE, data, complete=True)
    return data


def build(data: Mapping[str, Any], sources: tuple[str, ...]) -> Rules:
    """Compile merged (already checked) rules data."""
    sc = data.get("scoring", {})
    packaged_sc = packaged_data()["scoring"]
    defaults = Scoring({}, 0.0, 0.0, 1.0, 0.0, 0.0)

    def setting(key: str) -> float:
        return float(sc.get(key, packaged_sc.get(key, getattr(defaults, key))))

    weights = {**packaged_sc["field_weights"], **sc.get("field_weights", {})}
    numbers = {key: setting(key) for key in _NUMBERS}
    scoring = Scoring(
        field_weights={f: float(weights.get(f, 1.0)) for f in FIELDS},
        relevance_threshold=numbers["relevance_threshold"],
        core_minimum=numbers["core_minimum"],
        body_norm_words=max(numbers["body_norm_words"], 1.0),
        topic_threshold=numbers["topic_threshold"],
        topic_relative=numbers["topic_relative"],
        lead_paragraphs=int(numbers["lead_paragraphs"]),
        headline_minimum=numbers["headline_minimum"],
        passing_coverage=numbers["passing_coverage"],
        headline_coverage=numbers["headline_coverage"],
        roundup_items=max(int(numbers["roundup_items"]), 2),
        topic_coverage=numbers["topic_coverage"],
    )
    terms: list[Term] = []
    definitions: dict[str, str] = {}
    for topic in TOPICS:
        spec = data.get("topics", {}).get(topic)
        if spec is None:
            continue
        definitions[topic] = " ".join(str(spec.get("definition", "")).split())
        for tier in TIERS:
            for term, weight in spec.get(tier, {}).items():
                if weight > 0:
                    terms.append(make_term(topic, term, tier, float(weight)))
        for pat in spec.get("patterns", []):
            weight = float(pat.get("weight", 1.0))
            if weight > 0:
                regex = compile_pattern(pat["regex"])
                terms.append(Term(topic, pat["regex"], pat.get("tier", "core"), weight, regex))
    if not terms:
        raise RulesError(f"{' + '.join(sources)}: topics: no term has a positive weight")
    masks = tuple(
        make_term("", mask, "core", 0.0) for mask in data.get("negative", {}).get("mask", [])
    )
    furniture = data.get("furniture", {})
    structure = data.get("structure", {})
    return Rules(
        scoring=scoring,
        terms=tuple(terms),
        drop=tuple(compile_pattern(r) for r in furniture.get("drop", [])),
        strip=tuple(compile_pattern(r) for r in furniture.get("strip", [])),
        masks=masks,
        definitions=definitions,
        sources=sources,
        roundup_titles=tuple(compile_pattern(r) for r in structure.get("roundup_titles", [])),
    )


@functools.lru_cache(maxsize=1)
def packaged_rules() -> Rules:
    return build(packaged_data(), (PACKAGED_SOURCE,))


def load_rules(path: Path | None = None, mode: Literal["extend", "replace"] = "extend") -> Rules:
    """The packaged rules, extended or replaced by the TOML file at ``path``.

    Raises :class:`RulesError` (one line naming the file, the place and the problem) for a
    missing file, bad TOML, an unknown topic or setting, a bad weight or an uncompilable
    pattern.
    """
    if path is None:
        return packaged_rules()
    if mode not in ("extend", "replace"):
        raise RulesError(f"{path}: unknown rules mode {mode!r} (extend or replace)")
    user = read(path)
    check(str(path), user, complete=mode == "replace")
    if mode == "replace":
        return build(merge({}, user), (str(path),))
    return build(merge(packaged_data(), user), (PACKAGED_SOURCE, str(path)))


__all__ = ["Rules", "Scoring", "load_rules"]
