"""Bench: 10,000 diffs of typical article edits, with warm and with cold caches.

Pairs are built from the recorded articles: unchanged, one word changed, a figure changed,
quote style changed, a paragraph appended, the paywall flipped. "warm" lets monitor.diff's
caches work as in a long-running process; "cold" clears them before every diff (each new
version is text never seen before). Prints diffs per second and the mean time per diff; exits 1
if a cold diff takes more than 20 ms on average (a gross regression, not a tuning target).

    .venv/bin/python bench/diff.py [--diffs 10000] [--render]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import monitor.diff as diff_module  # noqa: E402
from monitor.diff import diff_articles, render_html  # noqa: E402
from scrapers.article import Article  # noqa: E402

EXPECTED = ROOT / "tests/fixtures/cphpost/expected"
BUDGET_MS = 20.0


def _edit_paragraph(article: Article, edit: Callable[[str], str]) -> Article:
    paragraphs = list(article.paragraphs)
    if paragraphs:
        i = len(paragraphs) // 2
        paragraphs[i] = edit(paragraphs[i])
    return replace(article, paragraphs=tuple(paragraphs))


def _one_word(text: str) -> str:
    words = text.split(" ")
    words[len(words) // 2] = "changed"
    return " ".join(words)


def pairs() -> list[tuple[Article, Article]]:
    base = [Article.from_dict(json.loads(p.read_text())) for p in sorted(EXPECTED.glob("*.json"))]
    out: list[tuple[Article, Article]] = []
    for a in base:
        out += [
            (a, a),
            (a, _edit_paragraph(a, _one_word)),
            (a, _edit_paragraph(a, lambda t: t + " It rose to 1,234 in 2024.")),
            (a, _edit_paragraph(a, lambda t: t.replace("’", "'").replace("“", '"'))),
            (a, replace(a, paragraphs=(*a.paragraphs, "Correction: an earlier version erred."))),
            (a, replace(a, paywalled=not a.paywalled, paragraphs=a.paragraphs[:1])),
        ]
    return out


def clear_caches() -> None:
    diff_module.clear_caches()


def run(work: list[tuple[Article, Article]], n: int, cold: bool, render: bool) -> float:
    clear_caches()
    started = time.perf_counter()
    for i in range(n):
        old, new = work[i % len(work)]
        if cold:
            clear_caches()
        diff_articles(old, new)
        if render:
            render_html(old, new)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--diffs", type=int, default=10_000)
    parser.add_argument("--render", action="store_true", help="also render_html each pair")
    args = parser.parse_args()
    work = pairs()
    words = sum(len(" ".join(new.paragraphs).split()) for _, new in work) / len(work)
    print(f"{len(work)} article pairs, {words:.0f} body words on average")
    worst = 0.0
    for label, cold in (("warm", False), ("cold", True)):
        seconds = run(work, args.diffs, cold, args.render)
        per = 1000 * seconds / args.diffs
        worst = max(worst, per)
        what = "diff+html" if args.render else "diff"
        print(
            f"{label}: {args.diffs} {what} in {seconds:.2f} s, "
            f"{args.diffs / seconds:,.0f}/s, {per:.2f} ms each"
        )
    if worst > BUDGET_MS:
        print(f"too slow: {worst:.2f} ms per diff > {BUDGET_MS} ms", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
