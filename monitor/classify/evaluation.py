"""Scoring verdicts against labels: precision, recall and F1 for relevance and each topic, the
hard negatives flagged, and every wrong decision with the evidence and measures behind it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
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
