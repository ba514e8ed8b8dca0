"""Bench: classifier speed and quality on labelled JSON lines, and what a rule change changes.

Prints articles per second, relevance precision/recall/F1, negatives flagged and topic micro-F1
for each labelled file (default: the dev set). With ``--baseline OLD.toml`` it also lists every
article whose verdict or topics differ between the old rules and the current ones: the record
docs/classifier.md asks for with each rule change. ``--threshold-cv`` repeats the leave-one-out
check of fitting the two topic thresholds on the labels. ``--errors`` lists every wrong verdict
or topic set with each topic's score and the strongest evidence, for analysing misses by kind of
error (which vocabulary class, which threshold) rather than by an article's wording. With more
than one labels file a pooled line follows.

    .venv/bin/python bench/classify.py [--labels FILE ...] [--rules FILE [--mode replace]]
                                       [--baseline OLD.toml] [--threshold-cv] [--errors]
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitor.classify import Classification, Metrics, Rules, classify, evaluate, load_rules  # noqa: E402

DEV = ROOT / "tests/fixtures/labels/dev.jsonl"
Row = dict[str, Any]


def read(path: Path) -> list[Row]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def run(rows: list[Row], rules: Rules) -> list[Classification]:
    return [classify(r["title"], r["standfirst"], r["body"], rules) for r in rows]


def report(path: Path, rows: list[Row], rules: Rules) -> list[int]:
    started = time.perf_counter()
    rounds = max(1, 300 // max(len(rows), 1))
    for _ in range(rounds):
        verdicts = run(rows, rules)
    seconds = (time.perf_counter() - started) / rounds
    result = evaluate((v, r["relevant"], r["topics"]) for v, r in zip(verdicts, rows, strict=True))
    rel, micro = result.relevance, result.micro
    negatives = sum(not r["relevant"] for r in rows)
    print(f"{path.name}: {len(rows)} articles, {len(rows) / seconds:,.0f} articles/s")
    print(f"  relevance  P {rel.precision:.3f}  R {rel.recall:.3f}  F1 {rel.f1:.3f}")
    print(f"  negatives flagged {rel.fp} of {negatives}; positives missed {rel.fn}")
    print(f"  topics     P {micro.precision:.3f}  R {micro.recall:.3f}  micro-F1 {micro.f1:.3f}")
    for topic, m in result.topics.items():
        if m.support or m.fp:
            print(f"    {topic:24} support {m.support:2}  P {m.precision:.2f}  R {m.recall:.2f}")
    return [rel.tp, rel.fp, rel.fn, micro.tp, micro.fp, micro.fn, negatives]


def errors(rows: list[Row], rules: Rules, evidence: int = 6) -> None:
    """Every article whose verdict or topic set is wrong, with all topic scores and evidence."""
    for i, (row, c) in enumerate(zip(rows, run(rows, rules), strict=True), 1):
        gold = set(row["topics"])
        if c.relevant == row["relevant"] and set(c.topics) == gold:
            continue
        verdict = f"{'R' if row['relevant'] else 'N'}->{'R' if c.relevant else 'N'}"
        print(f"  #{i} {verdict} score {c.score}  {row['title'][:60]!r}")
        missed, extra = sorted(gold - set(c.topics)), sorted(set(c.topics) - gold)
        print(f"    missed {missed} extra {extra}")
        totals: dict[str, float] = {}
        for ev in c.evidence:
            totals[ev.topic] = totals.get(ev.topic, 0.0) + ev.weight
        ranked = sorted(totals.items(), key=lambda kv: -kv[1])
        print("    topic scores " + ", ".join(f"{t} {s:.1f}" for t, s in ranked))
        for ev in c.evidence[:evidence]:
            print(f"      {ev.topic:22} {ev.term[:32]!r:36} {ev.field:10} x{ev.count} {ev.weight}")


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


def threshold_cv(rows: list[Row], rules: Rules) -> None:
    """Leave-one-out: fit (topic_threshold, topic_relative) on n-1 articles, score the one left.

    Shows whether tuning these two numbers on the labels would generalise (it did not: the
    surface is flat and noisy), which is why they are set from a principle instead.
    """
    grid = list(itertools.product((2.0, 3.0, 4.0, 5.0, 6.0, 8.0), (0.0, 0.1, 0.2, 0.25, 0.3)))
    cache: dict[tuple[float, float], list[Classification]] = {}
    for a, r in grid:
        scoring = replace(rules.scoring, topic_threshold=a, topic_relative=r)
        cache[(a, r)] = run(rows, replace(rules, scoring=scoring))

    def micro(idx: list[int], params: tuple[float, float]) -> Metrics:
        pairs = ((cache[params][i], rows[i]["relevant"], rows[i]["topics"]) for i in idx)
        return evaluate(pairs).micro

    tp = fp = fn = 0
    for i in range(len(rows)):
        train = [j for j in range(len(rows)) if j != i]
        best = max(grid, key=lambda p: (round(micro(train, p).f1, 6), -p[0]))
        m = micro([i], best)
        tp, fp, fn = tp + m.tp, fp + m.fp, fn + m.fn
    cv = Metrics(tp, fp, fn)
    fitted = max(micro(list(range(len(rows))), p).f1 for p in grid)
    fixed = micro(list(range(len(rows))), (rules.scoring.topic_threshold, 0.0)).f1
    print(f"  topic micro-F1: best in-sample fit {fitted:.3f}, leave-one-out {cv.f1:.3f},")
    print(f"  packaged thresholds (set, not fitted) {fixed:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=Path, action="append", help="labelled JSON lines")
    parser.add_argument("--rules", type=Path, help="rules file (default: packaged rules)")
    parser.add_argument("--mode", choices=("extend", "replace"), default="extend")
    parser.add_argument("--baseline", type=Path, help="old rules file (replace) to diff against")
    parser.add_argument("--threshold-cv", action="store_true", help="leave-one-out thresholds")
    parser.add_argument("--errors", action="store_true", help="list wrong articles with scores")
    args = parser.parse_args()
    rules = load_rules(args.rules, args.mode)
    paths = args.labels or [DEV]
    pooled = [0] * 7
    for path in paths:
        rows = read(path)
        pooled = [a + b for a, b in zip(pooled, report(path, rows, rules), strict=True)]
        if args.errors:
            errors(rows, rules)
        if args.baseline:
            compare(rows, load_rules(args.baseline, "replace"), rules)
        if args.threshold_cv:
            threshold_cv(rows, rules)
    if len(paths) > 1:
        rel, micro = Metrics(*pooled[:3]), Metrics(*pooled[3:6])
        print(
            f"pooled: relevance F1 {rel.f1:.3f} ({rel.fp} of {pooled[6]} negatives flagged,"
            f" {rel.fn} missed); topic micro P {micro.precision:.3f} R {micro.recall:.3f}"
            f" F1 {micro.f1:.3f}"
        )


if __name__ == "__main__":
    main()
