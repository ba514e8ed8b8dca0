"""How fast ``scrapers.cphpost.extract`` is next to trafilatura, on the recorded article pages.

Run: ``.venv/bin/python bench/extract.py [--repeat N]``. Both extractors get the same bytes in
the same run, alternating in rounds; each call is timed on its own, so p50/p95 are per
page. Time is the thread's CPU time: both extractors are CPU-bound, and on a shared machine wall
time mostly measures waiting for a core, which inflates the slower extractor and flatters the
ratio. The target is our p50 at most a tenth of trafilatura's: re-checks extract every watched
article again and again, so extraction must stay negligible next to the polite fetch delay.
Exits 1 when the target is missed; without trafilatura it says so and prints ours only.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scrapers.article import Article  # noqa: E402
from scrapers.cphpost import extract  # noqa: E402

RECORDED = ROOT / "tests" / "fixtures" / "cphpost"
TARGET_RATIO = 0.10

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


def trafilatura_call() -> Callable[[Page], object] | None:
    try:
        import trafilatura
    except ImportError as exc:
        print(f"trafilatura is not importable ({exc}); install the 'bench' extra to compare.")
        return None

    def call(page: Page) -> object:
        return trafilatura.extract(page[1], url=page[0])

    return call


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
    if other is None:
        return 0
    ratio = our_p50 / report("trafilatura", samples["trafilatura"])
    verdict = "met" if ratio <= TARGET_RATIO else "MISSED"
    print(f"ratio p50    {ratio:.3f} (cphpost / trafilatura; target <= {TARGET_RATIO}: {verdict})")
    return 0 if ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
