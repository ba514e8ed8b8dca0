"""Bench: classifier speed and quality per labelled set, and a cross-validated figure.

Prints articles per second and, for each labelled file (default: dev.jsonl and extra.jsonl in
tests/fixtures/labels), relevance precision/recall/F1, negatives and hard negatives flagged and
topic micro-F1, and each topic's precision, recall, false positives and false negatives (also
under cross-validation). extra.jsonl is also reported in its two parts: the articles the rules were
tuned with and the seeded third held out from tuning (``holdout.txt``, never looked at while
tuning). Then k-fold cross-validation over all the files pooled (folds by article; the fitted
settings chosen without the held-out fold: ``monitor/classify/crossval.py``). ``--baseline
OLD.toml`` lists every article whose verdict or topics differ between old and current rules;
``--errors`` lists every wrong decision with its evidence and measures. The cross-validation
also fits the learned alternative (logistic regressions over the measures, ``learned.py``) inside
each fold and prints its held-out figure beside the rules' and fold 0's weights.

    .venv/bin/python bench/classify.py [--labels FILE ...] [--rules FILE [--mode replace]]
                                       [--baseline OLD.toml] [--errors] [--cv K] [--seed N] [--l2 X]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitor.classify import (  # noqa: E402
    Classification,
    Evaluation,
    Label,
    Rules,
    classify,
    evaluate_labels,
    load_rules,
)
from monitor.classify.crossval import (  # noqa: E402
    Article,
    cross_validate,
    cross_validate_learned,
)
from monitor.classify.learned import describe  # noqa: E402

LABELS = ROOT / "tests/fixtures/labels"
Row = dict[str, Any]


def read(path: Path) -> list[Row]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def held_out_urls() -> set[str]:
    lines = (LABELS / "holdout.txt").read_text(encoding="utf-8").splitlines()
    return {line.strip() for line in lines if line.strip() and not line.startswith("#")}


def label(row: Row) -> Label:
    name = row.get("title") or row.get("url") or ""
    return Label(row["relevant"], tuple(row["topics"]), bool(row.get("hard_negative")), name)


def run(rows: list[Row], rules: Rules) -> list[Classification]:
    return [classify(r["title"], r["standfirst"], r["body"], rules) for r in rows]


def speed(rows: list[Row], rules: Rules) -> float:
    rounds = max(1, 300 // max(len(rows), 1))
    started = time.process_time()
    for _ in range(rounds):
        run(rows, rules)
    return len(rows) * rounds / max(time.process_time() - started, 1e-9)


def line(name: str, result: Evaluation) -> str:
    rel, micro = result.relevance, result.micro
    negatives = result.articles - rel.support
    return (
        f"{name:22} {result.articles:3} articles  relevance P {rel.precision:.3f} "
        f"R {rel.recall:.3f} F1 {rel.f1:.3f}  negatives flagged {rel.fp}/{negatives}  "
        f"hard {result.hard_negatives_flagged}/{result.hard_negatives}  "
        f"topics P {micro.precision:.3f} R {micro.recall:.3f} F1 {micro.f1:.3f}"
    )


def report(name: str, rows: list[Row], rules: Rules) -> Evaluation:
    result = evaluate_labels(zip(run(rows, rules), map(label, rows), strict=True))
    print(line(name, result))
    return result


def topics(result: Evaluation) -> None:
    for topic, m in result.topics.items():
        if m.support or m.fp:
            print(
                f"    {topic:24} support {m.support:2}  P {m.precision:.2f}  R {m.recall:.2f}"
                f"  (fp {m.fp}, fn {m.fn})"
            )


def errors(result: Evaluation) -> None:
    for mistake in result.mistakes:
        c = mistake.verdict
        print(f"  {mistake.confusion}: {mistake.name[:70]!r}  score {c.score}")
        print(f"    missed {list(mistake.missed)} extra {list(mistake.extra)}")
        if c.measures is not None:
            print(f"    {c.measures.describe()}")
        for ev in c.evidence[:6]:
            print(f"      {ev.topic:22} {ev.term[:32]!r:36} {ev.where:10} x{ev.count} {ev.weight}")


def compare(rows: list[Row], old: Rules, new: Rules) -> None:
    """Every article whose relevance or topic set differs between two rule sets."""
    changed = 0
    for row, a, b in zip(rows, run(rows, old), run(rows, new), strict=True):
        if a.relevant == b.relevant and set(a.topics) == set(b.topics):
            continue
        changed += 1
        gold = f"gold {'R' if row['relevant'] else 'N'} {sorted(row['topics'])}"
        print(f"  {row['title'][:60]!r}  ({gold})")
        if a.relevant != b.relevant:
            print(f"    relevant {a.relevant} -> {b.relevant} (score {a.score} -> {b.score})")
        lost, gained = set(a.topics) - set(b.topics), set(b.topics) - set(a.topics)
        if lost or gained:
            print(f"    topics -{sorted(lost)} +{sorted(gained)}")
    print(f"  {changed} of {len(rows)} articles changed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=Path, action="append", help="labelled JSON lines")
    parser.add_argument("--rules", type=Path, help="rules file (default: packaged rules)")
    parser.add_argument("--mode", choices=("extend", "replace"), default="extend")
    parser.add_argument("--baseline", type=Path, help="old rules file (replace) to diff against")
    parser.add_argument("--errors", action="store_true", help="list wrong decisions")
    parser.add_argument("--cv", type=int, default=5, help="folds (0: no cross-validation)")
    parser.add_argument("--seed", type=int, default=22, help="seed of the fold assignment")
    parser.add_argument("--l2", type=float, default=1.0, help="L2 penalty of the learned models")
    args = parser.parse_args()
    rules = load_rules(args.rules, args.mode)
    paths = args.labels or [LABELS / "dev.jsonl", LABELS / "extra.jsonl"]
    pooled: list[Row] = []
    held_out = held_out_urls()
    for path in paths:
        rows = read(path)
        pooled += rows
        print(f"{path.name}: {speed(rows, rules):,.0f} articles/s (CPU time)")
        result = report(path.name, rows, rules)
        topics(result)
        if path.name == "extra.jsonl":
            report("  tuned-on part", [r for r in rows if r["url"] not in held_out], rules)
            report("  held-out third", [r for r in rows if r["url"] in held_out], rules)
        if args.errors:
            errors(result)
        if args.baseline:
            compare(rows, load_rules(args.baseline, "replace"), rules)
    if len(paths) > 1:
        report("pooled", pooled, rules)
    if args.cv > 1:
        articles = [Article(r["title"], r["standfirst"], r["body"], label(r)) for r in pooled]
        cv = cross_validate(articles, rules, k=args.cv, seed=args.seed)
        print(line(f"{args.cv}-fold CV (seed {args.seed})", cv.evaluation))
        topics(cv.evaluation)
        for i, chosen in enumerate(cv.chosen):
            print(f"    fold {i}: " + ", ".join(f"{k} {v:g}" for k, v in chosen.items()))
        # The learned alternative (monitor/classify/learned.py), refitted inside the same folds.
        lv = cross_validate_learned(articles, rules, k=args.cv, seed=args.seed, l2=args.l2)
        print(line("  learned (logistic)", lv.evaluation))
        first = lv.models[0]
        for name, model in (("relevance", first.relevance), ("topics", first.topics)):
            weights = ", ".join(f"{k} {v:+.2f}" for k, v in describe(model).items())
            print(f"    fold 0 {name}: bias {model.bias:+.2f}, {weights}")


if __name__ == "__main__":
    main()
