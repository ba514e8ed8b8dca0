"""How fast ``scrapers.cphpost.extract`` is next to trafilatura, on the recorded article pages.

Run: ``.venv/bin/python bench/extract.py [--repeat N]``. Both extractors get the same bytes in
the same run, alternating in rounds; each call is timed on its own, so p50/p95 are per
page. Time is the thread's CPU time: both extractors are CPU-bound, and on a shared machine wall
time mostly measures waiting for a core, which inflates the slower extractor and flatters the
ratio. The target is our p50 at most a thirtieth of trafilatura's: re-checks extract every
watched article again and again, so extraction must stay negligible next to the polite fetch
delay.

Then the redesign variants (made by ``tests/fixtures/cphpost/redesign/make_redesign.py``, issue
21): for each, a
template is learned from the variant's pages and their expected text (what the monitor would
have stored), and every page is extracted with it. Reported beside trafilatura on the same
pages: body F1 (bag of words against ``expected/``), exact pages, ms/page. Targets: F1 >= 0.99
on every variant and every page exact. Exits 1 when a target is missed; without trafilatura
it says so and prints ours only.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scrapers.article import Article  # noqa: E402
from scrapers.cphpost import SITE, extract  # noqa: E402
from scrapers.cphpost.urls import DEFAULT_SITE  # noqa: E402
from scrapers.learn import Evidence, confirm  # noqa: E402
from scrapers.template import Stored, Template  # noqa: E402
from tests.support.redesign import redesigned, variant_names  # noqa: E402

RECORDED = ROOT / "tests" / "fixtures" / "cphpost"
TARGET_RATIO = 1 / 30
TARGET_MISSED = 3  # exit code: the bench ran and printed its figures, a target was missed
TARGET_F1 = 0.99

Page = tuple[str, bytes]  # (canonical URL, recorded bytes)


def recorded_pages() -> list[Page]:
    """Every recorded article page with the URL the manifest serves it under."""
    manifest = json.loads((RECORDED / "manifest.json").read_text(encoding="utf-8"))
    return [
        (entry["url"], (RECORDED / entry["file"]).read_bytes())
        for entry in manifest
        if entry["kind"] == "article"
    ]


def time_calls(
    calls: dict[str, Callable[[Page], object]], pages: list[Page], repeat: int
) -> dict[str, list[float]]:
    """Milliseconds of each call, per extractor, after one untimed warm-up pass.

    Extractors alternate in rounds (one pass over all pages each), so drifting load from
    anything else on the machine falls on both alike, while neither runs with its caches
    freshly evicted by the other on every single call.
    """
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for call in calls.values():
        for page in pages:
            call(page)
    for _ in range(repeat):
        for name, call in calls.items():
            for page in pages:
                start = time.thread_time_ns()
                call(page)
                samples[name].append((time.thread_time_ns() - start) / 1e6)
    return samples


def percentiles(samples: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return statistics.median(samples), cuts[94]


def ours(page: Page) -> object:
    return extract(page[1], page[0])


def trafilatura_call() -> Callable[[Page], str | None] | None:
    try:
        import trafilatura
    except ImportError as exc:
        print(f"trafilatura is not importable ({exc}); install the 'bench' extra to compare.")
        return None

    def call(page: Page) -> str | None:
        text: str | None = trafilatura.extract(page[1], url=page[0])
        return text

    return call


def body_f1(got: str, want: str) -> float:
    """F1 of the words of ``got`` against ``want`` (as bags: order and layout do not count)."""
    got_words, want_words = Counter(got.split()), Counter(want.split())
    common = sum((got_words & want_words).values())
    if not common:
        return 0.0
    precision, recall = common / sum(got_words.values()), common / sum(want_words.values())
    return 2 * precision * recall / (precision + recall)


class Known:
    """A variant page and the article text ``expected/`` gives for it."""

    def __init__(self, variant: str, stem: str) -> None:
        want = json.loads((RECORDED / "expected" / f"{stem}.json").read_text(encoding="utf-8"))
        self.url: str = want["url"]
        self.page: bytes = redesigned(variant, stem)
        self.stored = Stored(tuple(want["paragraphs"]), tuple(want["related_links"]))
        self.body = "\n".join(self.stored.paragraphs)


def learned_template(known: list[Known]) -> Template | None:
    """The template confirmed on the variant's pages, each with its expected text as stored."""
    confirmed = confirm(SITE, [Evidence(k.url, k.page, k.stored, DEFAULT_SITE) for k in known])
    return confirmed.template if confirmed is not None else None


def redesign_report(other: Callable[[Page], str | None] | None, repeat: int) -> bool:
    """Body F1, exact pages and ms/page on every redesign variant; whether the targets hold."""
    stems = sorted(p.stem for p in (RECORDED / "articles").glob("*.html"))
    ok = True
    print(f"\nredesign variants ({len(stems)} pages each; template learned from them):")
    for variant in sorted(variant_names()):
        known = [Known(variant, stem) for stem in stems]
        template = learned_template(known)
        if template is None:
            print(f"{variant:<9} no template learned")
            ok = False
            continue
        f1s, exact = [], 0
        for k in known:
            got = extract(k.page, k.url, template=template)
            paragraphs = got.paragraphs if isinstance(got, Article) else ()
            f1s.append(body_f1("\n".join(paragraphs), k.body))
            exact += paragraphs == k.stored.paragraphs
        pages = [(k.url, k.page) for k in known]
        calls: dict[str, Callable[[Page], object]] = {
            "cphpost": lambda page, t=template: extract(page[1], page[0], template=t)
        }
        if other is not None:
            calls["trafilatura"] = other
        samples = time_calls(calls, pages, repeat)
        print(f"{variant:<9} {template.describe()}")
        print(
            f"{'':<9} cphpost      F1 min {min(f1s):.4f} mean {statistics.mean(f1s):.4f}   "
            f"exact {exact}/{len(known)}   p50 {statistics.median(samples['cphpost']):.3f} ms"
        )
        if other is not None:
            theirs = [body_f1(other((k.url, k.page)) or "", k.body) for k in known]
            print(
                f"{'':<9} trafilatura  F1 min {min(theirs):.4f} mean {statistics.mean(theirs):.4f}"
                f"{'':<16}p50 {statistics.median(samples['trafilatura']):.3f} ms"
            )
        ok = ok and min(f1s) >= TARGET_F1 and exact == len(known)
    verdict = "met" if ok else "MISSED"
    print(f"redesign targets (F1 >= {TARGET_F1} on every variant, every page exact): {verdict}")
    return ok


def report(name: str, samples: list[float]) -> float:
    p50, p95 = percentiles(samples)
    print(f"{name:<12} p50 {p50:8.3f} ms   p95 {p95:8.3f} ms   ({len(samples)} calls)")
    return p50


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20, help="timed passes over the pages")
    args = parser.parse_args()
    pages = recorded_pages()
    failed = [url for url, data in pages if not isinstance(extract(data, url), Article)]
    if failed:
        print(f"extract() failed on {len(failed)} recorded pages: {failed}")
        return 1
    print(f"{len(pages)} recorded article pages, {sum(len(d) for _, d in pages) // 1024} KiB")
    calls: dict[str, Callable[[Page], object]] = {"cphpost": ours}
    other = trafilatura_call()
    if other is not None:
        calls["trafilatura"] = other
    samples = time_calls(calls, pages, args.repeat)
    our_p50 = report("cphpost", samples["cphpost"])
    met = True
    if other is not None:
        ratio = our_p50 / report("trafilatura", samples["trafilatura"])
        met = ratio <= TARGET_RATIO
        print(
            f"ratio p50    {ratio:.4f} = 1/{1 / ratio:.1f} (cphpost / trafilatura; "
            f"target <= 1/30: {'met' if met else 'MISSED'})"
        )
    redesign_ok = redesign_report(other, max(1, args.repeat // 4))
    return 0 if met and redesign_ok else TARGET_MISSED


if __name__ == "__main__":
    sys.exit(main())
