"""Scoring verdicts against labels: precision, recall and F1 for relevance and each topic, the
hard negatives flagged, and every wrong decision with the evidence and measures behind it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from monitor.classify.results import Classification
from monitor.classify.schema import TOPICS


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
class Label:
    """The gold label of one article; ``name`` identifies it in reports (title, url, line)."""

    relevant: bool
    topics: tuple[str, ...] = ()
    hard_negative: bool = False
    name: str = ""


class Confusion(StrEnum):
    FALSE_POSITIVE = "false positive"
    FALSE_NEGATIVE = "false negative"
    TOPICS = "topics"


@dataclass(frozen=True)
class Mistake:
    """One wrong decision, with the verdict (its evidence and measures) that made it."""

    name: str
    confusion: Confusion
    missed: tuple[str, ...]  # gold topics not predicted
    extra: tuple[str, ...]  # predicted topics not in the gold labels
    hard_negative: bool
    verdict: Classification

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "confusion": str(self.confusion),
            "missed": list(self.missed),
            "extra": list(self.extra),
            "hard_negative": self.hard_negative,
            "verdict": self.verdict.to_dict(),
        }


@dataclass(frozen=True)
class Evaluation:
    """Relevance and topic metrics over a labelled set, and every wrong decision."""

    articles: int
    relevance: Metrics
    topics: dict[str, Metrics]
    micro: Metrics
    hard_negatives: int = 0
    hard_negatives_flagged: int = 0
    mistakes: tuple[Mistake, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "articles": self.articles,
            "relevance": self.relevance.to_dict(),
            "topics": {t: m.to_dict() for t, m in self.topics.items()},
            "micro": self.micro.to_dict(),
            "hard_negatives": self.hard_negatives,
            "hard_negatives_flagged": self.hard_negatives_flagged,
            "mistakes": [m.to_dict() for m in self.mistakes],
        }


def evaluate(pairs: Iterable[tuple[Classification, bool, Iterable[str]]]) -> Evaluation:
    """Score predictions against gold ``(relevant, topics)`` labels: :func:`evaluate_labels`."""
    return evaluate_labels((pred, Label(rel, tuple(topics))) for pred, rel, topics in pairs)


def _mistake(pred: Classification, label: Label) -> Mistake | None:
    gold = set(label.topics)
    missed = tuple(t for t in TOPICS if t in gold and t not in pred.topics)
    extra = tuple(t for t in TOPICS if t in pred.topics and t not in gold)
    if pred.relevant != label.relevant:
        kind = Confusion.FALSE_POSITIVE if pred.relevant else Confusion.FALSE_NEGATIVE
    elif missed or extra:
        kind = Confusion.TOPICS
    else:
        return None
    return Mistake(label.name, kind, missed, extra, label.hard_negative, pred)


def evaluate_labels(items: Iterable[tuple[Classification, Label]]) -> Evaluation:
    """Score predictions against gold labels, keeping every wrong decision.

    Topics are scored over every article (a not-relevant article has no gold topics), so topics
    predicted for a false positive count against precision.
    """
    rel = [0, 0, 0]
    per = {t: [0, 0, 0] for t in TOPICS}
    n = hard = hard_flagged = 0
    mistakes = []
    for pred, label in items:
        n += 1
        if pred.relevant and label.relevant:
            rel[0] += 1
        elif pred.relevant:
            rel[1] += 1
        elif label.relevant:
            rel[2] += 1
        hard += label.hard_negative
        hard_flagged += label.hard_negative and pred.relevant
        gold = set(label.topics)
        for topic in TOPICS:
            p, g = topic in pred.topics, topic in gold
            per[topic][0] += p and g
            per[topic][1] += p and not g
            per[topic][2] += g and not p
        if (mistake := _mistake(pred, label)) is not None:
            mistakes.append(mistake)
    topics = {t: Metrics(*c) for t, c in per.items()}
    micro = Metrics(*(sum(c[i] for c in per.values()) for i in range(3)))
    return Evaluation(n, Metrics(*rel), topics, micro, hard, hard_flagged, tuple(mistakes))
