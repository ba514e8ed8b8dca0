"""The learned alternative: deterministic fitting, explanations that add up to the decision,
and models refitted without the held-out fold."""

from __future__ import annotations

import math

from monitor.classify import classify, load_rules
from monitor.classify.crossval import cross_validate_learned
from monitor.classify.learned import (
    RELEVANCE_FEATURES,
    TOPIC_FEATURES,
    fit,
    relevance_features,
    topic_features,
    train,
)
from tests.classify.test_crossval import articles, mislabel_fold

ROWS = [(0.0, 1.0), (0.5, 0.0), (1.0, 1.0), (2.0, 0.0), (2.5, 1.0), (3.0, 0.0)]
TARGETS = [False, False, False, True, True, True]


def test_fitting_is_deterministic_and_weights_the_separating_feature() -> None:
    a = fit(ROWS, TARGETS, ("x", "noise"))
    b = fit(ROWS, TARGETS, ("x", "noise"))
    assert a == b
    assert a.weights[0] > 1.0
    assert abs(a.weights[1]) < a.weights[0] / 4
    assert a.probability((3.0, 0.5)) > 0.8 > 0.2 > a.probability((0.0, 0.5))
    assert fit(ROWS, TARGETS, ("x", "noise"), l2=0.01).probability((3.0, 0.5)) > 0.95


def test_the_contributions_and_the_bias_are_the_log_odds() -> None:
    model = fit(ROWS, TARGETS, ("x", "noise"))
    x = (1.8, 1.0)
    logit = model.bias + sum(model.contributions(x).values())
    assert math.isclose(model.probability(x), 1 / (1 + math.exp(-logit)))
    assert set(model.contributions(x)) == {"x", "noise"}
    assert set(model.to_dict()["weights"]) == {"x", "noise"}


def test_features_come_from_the_verdicts_measures_in_their_named_order() -> None:
    verdict = classify(
        "Asylum seekers moved to a new centre",
        "The asylum centre in Jutland closes",
        ["Forty asylum seekers moved on Monday.", "The town hall voted on the budget."],
    )
    assert verdict.measures is not None
    x = relevance_features(verdict)
    assert len(x) == len(RELEVANCE_FEATURES)
    assert x[RELEVANCE_FEATURES.index("headline")] == math.log1p(verdict.measures.headline)
    assert x[RELEVANCE_FEATURES.index("coverage")] == verdict.measures.coverage
    assert x[RELEVANCE_FEATURES.index("rules")] == 1.0
    topics = topic_features(verdict)
    assert set(topics) == {e.topic for e in verdict.evidence}
    assert all(len(v) == len(TOPIC_FEATURES) for v in topics.values())
    assert topics["asylum"][TOPIC_FEATURES.index("share_of_best")] == 1.0


def test_the_learned_decision_keeps_the_evidence_and_measures() -> None:
    data = articles()
    rules = load_rules()
    verdicts = [classify(a.title, a.standfirst, a.body, rules) for a in data]
    model = train(verdicts, [a.label.relevant for a in data], [a.label.topics for a in data])
    for verdict in verdicts[:10]:
        decided = model.decide(verdict)
        assert decided.evidence == verdict.evidence
        assert decided.measures == verdict.measures
        assert set(decided.topics) <= {e.topic for e in verdict.evidence}
        assert decided.relevant or decided.topics == {}


def test_learned_cross_validation_refits_without_the_held_out_fold() -> None:
    data = articles()
    rules = load_rules()
    base = cross_validate_learned(data, rules, k=4, seed=1)
    again = cross_validate_learned(mislabel_fold(data, k=4, seed=1), rules, k=4, seed=1)
    assert again.models[0] == base.models[0]
    assert again.models[1] != base.models[1]
    assert base.evaluation.articles == again.evaluation.articles == 97
    assert cross_validate_learned(data, rules, k=4, seed=1) == base
