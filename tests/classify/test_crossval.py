"""Cross-validation: folds by article, deterministic, and settings fitted without the held-out
fold (changing a held-out article's label cannot change what its fold chose)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from monitor.classify import Label, load_rules
from monitor.classify.crossval import Article, cross_validate, folds

LABELS = Path(__file__).resolve().parents[1] / "fixtures" / "labels"


def articles() -> list[Article]:
    rows = [
        json.loads(line)
        for name in ("dev.jsonl", "extra.jsonl")
        for line in (LABELS / name).read_text(encoding="utf-8").splitlines()
        if line
    ]
    return [
        Article(
            r["title"],
            r["standfirst"],
            r["body"],
            Label(r["relevant"], tuple(r["topics"]), bool(r.get("hard_negative"))),
        )
        for r in rows
    ]


def mislabel_fold(data: list[Article], k: int, seed: int, held_out: int = 0) -> list[Article]:
    """``data`` with every label of one fold inverted: what must not reach that fold's fit."""
    fold = folds(len(data), k, seed=seed)
    return [
        replace(a, label=replace(a.label, relevant=not a.label.relevant, topics=()))
        if fold[i] == held_out
        else a
        for i, a in enumerate(data)
    ]


def test_folds_are_balanced_seeded_and_cover_every_article() -> None:
    assert folds(97, 5, seed=22) == folds(97, 5, seed=22)
    assert folds(97, 5, seed=22) != folds(97, 5, seed=23)
    sizes = sorted(folds(97, 5, seed=22).count(f) for f in range(5))
    assert sizes == [19, 19, 19, 20, 20]


def test_the_held_out_fold_does_not_influence_its_own_settings() -> None:
    data = articles()
    rules = load_rules()
    base = cross_validate(data, rules, k=4, seed=1)
    again = cross_validate(mislabel_fold(data, k=4, seed=1), rules, k=4, seed=1)
    assert again.chosen[0] == base.chosen[0]
    assert again.evaluation.articles == base.evaluation.articles == len(data)


def test_cross_validation_pools_every_article_once() -> None:
    result = cross_validate(articles(), load_rules(), k=5, seed=22)
    assert result.evaluation.articles == 97
    assert result.evaluation.hard_negatives == 18
    assert len(result.chosen) == 5
    assert set(result.chosen[0]) == {
        "passing_coverage",
        "headline_coverage",
        "topic_threshold",
        "topic_coverage",
    }
