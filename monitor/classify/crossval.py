"""K-fold cross-validation of the classifier's fitted settings, folds by article.

The vocabulary is written by hand; the few numbers that decide relevance and topics from the
measures (the coverage a headline or body story needs, the topic threshold and coverage) are
the parameters one could fit to labels. For each fold they are chosen on the other folds (the
best F1 on a small grid; ties go to the packaged value) and the held-out fold is classified
with them; the pooled held-out verdicts give the cross-validated figure. Matching depends only
on the terms, so each article is matched once and only the decision is repeated.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from monitor.classify.evaluation import Evaluation, Label, evaluate_labels
from monitor.classify.learned import Learned, train
from monitor.classify.matching import Matched, match_article
from monitor.classify.results import Classification
from monitor.classify.rules import Rules
from monitor.classify.scoring import decide

RELEVANCE_GRID: Mapping[str, tuple[float, ...]] = {
    "passing_coverage": (0.2, 0.25, 0.3, 0.35, 0.4),
    "headline_coverage": (0.1, 0.15, 0.2, 0.25, 0.3),
}
TOPIC_GRID: Mapping[str, tuple[float, ...]] = {
    "topic_threshold": (3.0, 4.0, 5.0, 6.0, 8.0),
    "topic_coverage": (0.0, 0.1, 0.2, 0.3),
}


@dataclass(frozen=True)
class Article:
    """A labelled article to cross-validate on."""

    title: str
    standfirst: str
    body: str | Sequence[str]
    label: Label


@dataclass(frozen=True)
class CrossValidation:
    """The pooled held-out evaluation and the settings each fold chose on its training part."""

    k: int
    seed: int
    evaluation: Evaluation
    chosen: tuple[dict[str, float], ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "k": self.k,
            "seed": self.seed,
            "evaluation": self.evaluation.to_dict(),
            "chosen": [dict(c) for c in self.chosen],
        }


def folds(n: int, k: int, seed: int) -> list[int]:
    """The fold of each of ``n`` articles: a seeded shuffle dealt round-robin into ``k``."""
    order = list(range(n))
    random.Random(seed).shuffle(order)
    fold = [0] * n
    for position, i in enumerate(order):
        fold[i] = position % k
    return fold


def _with(rules: Rules, settings: Mapping[str, float]) -> Rules:
    scoring = replace(rules.scoring, **settings)  # type: ignore[arg-type]
    return replace(rules, scoring=scoring)


def _fit(
    rules: Rules,
    matched: Sequence[Matched],
    labels: Sequence[Label],
    grid: Mapping[str, tuple[float, ...]],
    score: Callable[[Evaluation], float],
) -> dict[str, float]:
    names = list(grid)
    packaged = tuple(float(getattr(rules.scoring, name)) for name in names)

    def quality(values: tuple[float, ...]) -> tuple[float, float]:
        trial = _with(rules, dict(zip(names, values, strict=True)))
        verdicts = [decide(m, trial) for m in matched]
        distance = sum(abs(a - b) for a, b in zip(values, packaged, strict=True))
        return round(score(evaluate_labels(zip(verdicts, labels, strict=True))), 9), -distance

    best = max(itertools.product(*(grid[name] for name in names)), key=quality)
    return dict(zip(names, best, strict=True))


def cross_validate(
    articles: Sequence[Article], rules: Rules, k: int = 5, seed: int = 22
) -> CrossValidation:
    """Fit the relevance settings (relevance F1), then the topic settings (topic micro-F1), on
    each fold's training articles; classify its held-out articles with them."""
    matched = [match_article(a.title, a.standfirst, a.body, rules) for a in articles]
    fold = folds(len(articles), k, seed)
    held_out: list[tuple[Classification, Label] | None] = [None] * len(articles)
    chosen = []
    for f in range(k):
        train = [i for i in range(len(articles)) if fold[i] != f]
        m = [matched[i] for i in train]
        labels = [articles[i].label for i in train]
        settings = _fit(rules, m, labels, RELEVANCE_GRID, lambda e: e.relevance.f1)
        fitted = _with(rules, settings)
        settings |= _fit(fitted, m, labels, TOPIC_GRID, lambda e: e.micro.f1)
        fitted = _with(rules, settings)
        chosen.append(settings)
        for i in range(len(articles)):
            if fold[i] == f:
                held_out[i] = (decide(matched[i], fitted), articles[i].label)
    pairs = [p for p in held_out if p is not None]
    return CrossValidation(k, seed, evaluate_labels(pairs), tuple(chosen))


@dataclass(frozen=True)
class LearnedValidation:
    """The pooled held-out evaluation of the learned models and each fold's fitted models."""

    k: int
    seed: int
    evaluation: Evaluation
    models: tuple[Learned, ...]


def cross_validate_learned(
    articles: Sequence[Article], rules: Rules, k: int = 5, seed: int = 22, l2: float = 1.0
) -> LearnedValidation:
    """The same folds as :func:`cross_validate`: both logistic models are fitted on each fold's
    training articles (their rules verdicts and labels) and decide its held-out articles."""
    verdicts = [
        decide(match_article(a.title, a.standfirst, a.body, rules), rules) for a in articles
    ]
    fold = folds(len(articles), k, seed)
    held_out: list[tuple[Classification, Label] | None] = [None] * len(articles)
    models = []
    for f in range(k):
        train_ix = [i for i in range(len(articles)) if fold[i] != f]
        model = train(
            [verdicts[i] for i in train_ix],
            [articles[i].label.relevant for i in train_ix],
            [articles[i].label.topics for i in train_ix],
            l2,
        )
        models.append(model)
        for i in range(len(articles)):
            if fold[i] == f:
                held_out[i] = (model.decide(verdicts[i]), articles[i].label)
    pairs = [p for p in held_out if p is not None]
    return LearnedValidation(k, seed, evaluate_labels(pairs), tuple(models))


__all__ = [
    "Article",
    "CrossValidation",
    "LearnedValidation",
    "cross_validate",
    "cross_validate_learned",
    "folds",
]
