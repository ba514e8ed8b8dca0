"""A learned alternative to the focus rules, kept to be measured against them (issue 22).

Small logistic regressions over the verdict's own measures, never over words: relevance from
where the evidence sits (headline, lead, rest), how much of the body it covers, the roundup
signal, the score and the rules' verdict; topics from each topic's score, its share of the best
topic, its headline weight, its share of the paragraphs and its distinct terms. Every decision
is explainable: :meth:`Logistic.contributions` gives each feature's weight times its
standardised value, which sum with the bias to the log-odds.

Fitting is Newton's method with an L2 penalty from zero weights: deterministic, no randomness,
no dependency. The packaged classifier does not use these models: on cross-validation over the
labelled sets (``crossval.cross_validate_learned``, refitted inside each fold) they have not
beaten the rules (docs/classifier.md), which the issue requires before a model may decide.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from monitor.classify.results import Classification

RELEVANCE_FEATURES = (
    "headline",
    "lead",
    "rest",
    "coverage",
    "sentence_coverage",
    "roundup_missing",
    "score",
    "rules",
)
TOPIC_FEATURES = ("score", "share_of_best", "headline", "coverage", "terms", "rules")


def relevance_features(verdict: Classification) -> tuple[float, ...]:
    """The measures of one verdict as numbers, in :data:`RELEVANCE_FEATURES` order."""
    m = verdict.measures
    if m is None:
        return (0.0,) * (len(RELEVANCE_FEATURES) - 1) + (float(verdict.relevant),)
    missing = 1 - m.evidence_items / m.items if m.items else 0.0
    return (
        math.log1p(m.headline),
        math.log1p(m.lead),
        math.log1p(m.rest),
        m.coverage,
        m.sentence_coverage,
        missing,
        math.log1p(verdict.score),
        float(verdict.relevant),
    )


def topic_features(verdict: Classification) -> dict[str, tuple[float, ...]]:
    """Each topic with evidence, as numbers in :data:`TOPIC_FEATURES` order."""
    scores: dict[str, float] = {}
    headline: dict[str, float] = {}
    terms: dict[str, set[str]] = {}
    for ev in verdict.evidence:
        scores[ev.topic] = scores.get(ev.topic, 0.0) + ev.weight
        terms.setdefault(ev.topic, set()).add(ev.term)
        if ev.field != "body":
            headline[ev.topic] = headline.get(ev.topic, 0.0) + ev.weight
    if not scores:
        return {}
    best = max(scores.values()) or 1.0
    shares = verdict.measures.topics if verdict.measures is not None else {}
    return {
        topic: (
            math.log1p(score),
            score / best,
            math.log1p(headline.get(topic, 0.0)),
            float(shares.get(topic, 0.0)),
            math.log1p(len(terms[topic])),
            float(topic in verdict.topics),
        )
        for topic, score in scores.items()
    }


@dataclass(frozen=True)
class Logistic:
    """A fitted logistic regression on standardised features."""

    names: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float

    def _z(self, x: Sequence[float]) -> list[float]:
        return [(v - m) / s for v, m, s in zip(x, self.mean, self.scale, strict=True)]

    def contributions(self, x: Sequence[float]) -> dict[str, float]:
        """Each feature's share of the log-odds (weight x standardised value)."""
        return {n: w * z for n, w, z in zip(self.names, self.weights, self._z(x), strict=True)}

    def probability(self, x: Sequence[float]) -> float:
        logit = self.bias + sum(self.contributions(x).values())
        return 1 / (1 + math.exp(-max(min(logit, 50.0), -50.0)))

    def to_dict(self) -> dict[str, Any]:
        return {
            "bias": round(self.bias, 4),
            "weights": {n: round(w, 4) for n, w in zip(self.names, self.weights, strict=True)},
        }


def _solve(a: list[list[float]], b: list[float]) -> list[float]:
    """Gaussian elimination with partial pivoting (the systems here are 7 x 7 or 9 x 9)."""
    n = len(b)
    m = [[*row, v] for row, v in zip(a, b, strict=True)]
    for c in range(n):
        pivot = max(range(c, n), key=lambda r: abs(m[r][c]))
        m[c], m[pivot] = m[pivot], m[c]
        for r in range(n):
            if r != c and m[c][c]:
                f = m[r][c] / m[c][c]
                for k in range(c, n + 1):
                    m[r][k] -= f * m[c][k]
    return [m[i][n] / m[i][i] if m[i][i] else 0.0 for i in range(n)]


def fit(
    rows: Sequence[Sequence[float]],
    targets: Sequence[bool],
    names: Sequence[str],
    l2: float = 1.0,
    iterations: int = 30,
) -> Logistic:
    """Fit by Newton's method with an L2 penalty on the weights (not the bias)."""
    if not rows:
        raise ValueError("no training rows")
    d = len(names)
    mean = [sum(r[j] for r in rows) / len(rows) for j in range(d)]
    scale = [
        math.sqrt(sum((r[j] - mean[j]) ** 2 for r in rows) / len(rows)) or 1.0 for j in range(d)
    ]
    z = [[1.0] + [(r[j] - mean[j]) / scale[j] for j in range(d)] for r in rows]
    y = [1.0 if t else 0.0 for t in targets]
    w = [0.0] * (d + 1)
    for _ in range(iterations):
        grad = [l2 * w[i] if i else 0.0 for i in range(d + 1)]
        hess = [[l2 if i == k and i else 0.0 for k in range(d + 1)] for i in range(d + 1)]
        for zi, yi in zip(z, y, strict=True):
            logit = max(min(sum(a * b for a, b in zip(w, zi, strict=True)), 50.0), -50.0)
            p = 1 / (1 + math.exp(-logit))
            for i in range(d + 1):
                grad[i] += (p - yi) * zi[i]
                for k in range(d + 1):
                    hess[i][k] += p * (1 - p) * zi[i] * zi[k]
        step = _solve(hess, grad)
        w = [a - b for a, b in zip(w, step, strict=True)]
        if max(abs(s) for s in step) < 1e-9:
            break
    return Logistic(tuple(names), tuple(mean), tuple(scale), tuple(w[1:]), w[0])


@dataclass(frozen=True)
class Learned:
    """The two models: relevance, and topic membership (one model shared by all topics)."""

    relevance: Logistic
    topics: Logistic

    def decide(self, verdict: Classification) -> Classification:
        """The rules' verdict with relevance and topics decided by the models (evidence and
        measures unchanged)."""
        relevant = self.relevance.probability(relevance_features(verdict)) >= 0.5
        topics: dict[str, float] = {}
        if relevant:
            scored = {t: self.topics.probability(x) for t, x in topic_features(verdict).items()}
            chosen = {t for t, p in scored.items() if p >= 0.5}
            if scored and not chosen:
                chosen = {max(scored, key=lambda t: scored[t])}
            totals: dict[str, float] = {}
            for ev in verdict.evidence:
                totals[ev.topic] = totals.get(ev.topic, 0.0) + ev.weight
            topics = {
                t: round(s, 2)
                for t, s in sorted(totals.items(), key=lambda kv: -kv[1])
                if t in chosen
            }
        return Classification(relevant, verdict.score, topics, verdict.evidence, verdict.measures)


def train(
    verdicts: Sequence[Classification],
    relevant: Sequence[bool],
    gold_topics: Sequence[Sequence[str]],
    l2: float = 1.0,
) -> Learned:
    """Fit both models on the rules' verdicts of labelled articles (topic rows come from the
    articles labelled relevant that the rules find relevant)."""
    relevance = fit([relevance_features(v) for v in verdicts], relevant, RELEVANCE_FEATURES, l2)
    rows: list[tuple[float, ...]] = []
    targets: list[bool] = []
    for v, rel, gold in zip(verdicts, relevant, gold_topics, strict=True):
        if rel and v.relevant:
            for topic, x in topic_features(v).items():
                rows.append(x)
                targets.append(topic in gold)
    return Learned(relevance, fit(rows, targets, TOPIC_FEATURES, l2))


def describe(model: Logistic) -> Mapping[str, float]:
    """The weights, strongest first (for reports)."""
    pairs = zip(model.names, model.weights, strict=True)
    return dict(sorted(pairs, key=lambda kv: -abs(kv[1])))


__all__ = [
    "RELEVANCE_FEATURES",
    "TOPIC_FEATURES",
    "Learned",
    "Logistic",
    "describe",
    "fit",
    "relevance_features",
    "topic_features",
    "train",
]
