"""The classifier's results as values: evidence, the measures of what an article is about, and
the verdict that carries both (serialisable, and readable from rows stored by older versions)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from monitor.classify.schema import FIELDS

SEGMENTS: tuple[str, ...] = ("title", "standfirst", "lead", "rest")


class Focus(StrEnum):
    """Where an article's migration evidence sits, which decides its relevance."""

    HEADLINE = "headline"  # the title or standfirst is about migration, and the body follows
    BODY = "body"  # the headline is not, but the lead or much of the body is
    PASSING = "passing"  # mentions in a story about something else
    WEAK = "weak"  # placed like a migration story, but too little evidence (the score)
    HEADLINE_ONLY = "headline only"  # a migration word in the headline the body never takes up
    ROUNDUP_ITEM = "roundup item"  # one item in a list of unrelated items (news in brief)
    NONE = "none"  # no migration evidence


@dataclass(frozen=True)
class Evidence:
    """One rule term matched in one part of the article: ``weight`` is its contribution.

    ``segment`` says which part (title, standfirst, lead = the first body paragraphs, rest);
    ``paragraphs`` in how many body paragraphs the term occurs.
    """

    topic: str
    term: str  # the text as it appeared (lower-cased), e.g. "asylum-seekers"
    field: str  # "title" | "standfirst" | "body"
    count: int
    weight: float
    segment: str = ""  # "title" | "standfirst" | "lead" | "rest" ("" in rows of old versions)
    paragraphs: int = 0

    @property
    def where(self) -> str:
        return self.segment or self.field

    def to_dict(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "term": self.term,
            "field": self.field,
            "count": self.count,
            "weight": self.weight,
            "segment": self.where,
            "paragraphs": self.paragraphs,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Evidence:
        return cls(
            topic=str(d["topic"]),
            term=str(d["term"]),
            field=str(d["field"]),
            count=int(d["count"]),
            weight=float(d["weight"]),
            segment=str(d.get("segment") or ""),
            paragraphs=int(d.get("paragraphs") or 0),
        )


@dataclass(frozen=True)
class Measures:
    """What an article is about, measured: where its evidence sits and how much it covers.

    ``headline``, ``lead`` and ``rest`` are the core evidence weight in the title and
    standfirst, the lead paragraphs and the rest of the body. ``coverage`` is the share of body
    paragraphs holding migration evidence (core terms, or population words once the article has
    core evidence). ``items`` and ``evidence_items`` count the items of a roundup (0 when the
    article is not one). ``topics`` gives each topic's share of the body paragraphs.
    """

    focus: Focus
    headline: float
    lead: float
    rest: float
    paragraphs: int
    evidence_paragraphs: int
    sentences: int
    evidence_sentences: int
    words: int
    items: int = 0
    evidence_items: int = 0
    topics: Mapping[str, float] = field(default_factory=dict)

    @property
    def coverage(self) -> float:
        return self.evidence_paragraphs / self.paragraphs if self.paragraphs else 0.0

    @property
    def sentence_coverage(self) -> float:
        return self.evidence_sentences / self.sentences if self.sentences else 0.0

    def describe(self) -> str:
        """One line: the focus and the numbers behind it."""
        parts = [
            f"focus {self.focus}",
            f"headline {self.headline:g}",
            f"lead {self.lead:g}",
            f"rest {self.rest:g}",
            f"{self.evidence_paragraphs}/{self.paragraphs} paragraphs",
            f"{self.evidence_sentences}/{self.sentences} sentences",
        ]
        if self.items:
            parts.append(f"roundup: {self.evidence_items}/{self.items} items")
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "focus": str(self.focus),
            "headline": self.headline,
            "lead": self.lead,
            "rest": self.rest,
            "paragraphs": self.paragraphs,
            "evidence_paragraphs": self.evidence_paragraphs,
            "coverage": round(self.coverage, 3),
            "sentences": self.sentences,
            "evidence_sentences": self.evidence_sentences,
            "sentence_coverage": round(self.sentence_coverage, 3),
            "words": self.words,
            "items": self.items,
            "evidence_items": self.evidence_items,
            "topics": dict(self.topics),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Measures:
        return cls(
            focus=Focus(d["focus"]),
            headline=float(d["headline"]),
            lead=float(d["lead"]),
            rest=float(d["rest"]),
            paragraphs=int(d["paragraphs"]),
            evidence_paragraphs=int(d["evidence_paragraphs"]),
            sentences=int(d["sentences"]),
            evidence_sentences=int(d["evidence_sentences"]),
            words=int(d["words"]),
            items=int(d.get("items") or 0),
            evidence_items=int(d.get("evidence_items") or 0),
            topics={str(k): float(v) for k, v in dict(d.get("topics") or {}).items()},
        )


@dataclass(frozen=True)
class Classification:
    """The verdict on one article version, with the evidence and the measures behind it.

    ``measures`` is None only for verdicts read from rows stored before measures existed.
    """

    relevant: bool
    score: float
    topics: dict[str, float]  # only topics that pass their threshold, best first
    evidence: tuple[Evidence, ...]
    measures: Measures | None = None

    def evidence_for(self, topic: str) -> tuple[Evidence, ...]:
        """The evidence of one topic, strongest first."""
        return tuple(
            sorted((e for e in self.evidence if e.topic == topic), key=lambda e: -e.weight)
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (evidence as a list of dicts)."""
        out: dict[str, Any] = {
            "relevant": self.relevant,
            "score": self.score,
            "topics": dict(self.topics),
            "evidence": [e.to_dict() for e in self.evidence],
        }
        if self.measures is not None:
            out["measures"] = self.measures.to_dict()
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Classification:
        topics = {str(k): float(v) for k, v in dict(d.get("topics") or {}).items()}
        measures = d.get("measures")
        return cls(
            relevant=bool(d["relevant"]),
            score=float(d["score"]),
            topics=dict(sorted(topics.items(), key=lambda kv: -kv[1])),
            evidence=tuple(Evidence.from_dict(e) for e in d.get("evidence") or ()),
            measures=Measures.from_dict(measures) if measures else None,
        )

    def summary(self, limit: int = 3) -> str:
        """One line for alerts: the strongest term of each of the top ``limit`` topics, then
        the measures that decided (when the verdict has them)."""
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
        line = "; ".join(parts)
        if self.measures is not None:
            line += f" [{self.measures.describe()}]"
        return line


__all__ = ["SEGMENTS", "Classification", "Evidence", "Focus", "Measures"]
