"""Bench: render time of the web view's pages on a database of 50,000 versions (SQLite).

The database is built with bulk inserts (articles, versions, changes with real diffs, alerts)
from the recorded articles, each edited a little per version; then the pages are requested
through the ASGI app in-process (Jinja2 rendering included, no network). Prints p50/p95 in ms of
``/`` (first, 20th and last page, and a filtered one), an article page with its diff (inline
and side by side), searches, and the Atom feed, wall time and the process's CPU time per
request; the cases are interleaved round by round, so all of them see the same machine load,
and ``/healthz`` is timed alongside as the floor (what the harness itself costs). The target
is p95 < 50 ms for ``/`` and article pages: exit 3 when it is missed. The search index is
built once before timing (its build time is printed too).

    .venv/bin/python bench/web.py [--versions 50000] [--per-article 5] [--requests 200]
                                  [--database /tmp/web-bench.sqlite3]  # build once, reuse
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, text  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402

from monitor.db import make_engine, upgrade  # noqa: E402
from monitor.diff import diff_articles  # noqa: E402
from monitor.models import Alert, Article, Change, Version  # noqa: E402
from monitor.settings import load_settings  # noqa: E402
from monitor.web.app import create_app  # noqa: E402
from monitor.web.db import open_readonly  # noqa: E402
from monitor.web.search import SearchIndex  # noqa: E402
from scrapers.article import Article as Page  # noqa: E402
from scrapers.article import fingerprint  # noqa: E402

SITE = "https://cphpost.dk"
EXPECTED = ROOT / "tests/fixtures/cphpost/expected"
T0 = datetime(2025, 1, 1, tzinfo=UTC)
TOPICS = ["asylum", "deportation", "refugees", "citizenship", "immigration_statistics"]
WORDS = ["asylum", "deportation", "minister", "citizenship", "refugees", "Copenhagen", "permit"]


def edited(page: Page, n: int) -> Page:
    """Version ``n`` of a page: one paragraph reworded, a figure changed, a line added."""
    paragraphs = list(page.paragraphs)
    if n and paragraphs:
        k = n % len(paragraphs)
        paragraphs[k] = f"{paragraphs[k]} Updated figure: {100 + n * 7} people."
        paragraphs.append(f"Update {n}: the ministry commented on the figures.")
    title = page.title if n < 2 else f"{page.title} (updated)"
    return replace(page, title=title, paragraphs=tuple(paragraphs))


def build(url: str, versions: int, per_article: int) -> int:
    """Fill the database; returns the number of articles."""
    upgrade(url)
    engine = make_engine(url)
    base = [Page.from_dict(json.loads(p.read_text())) for p in sorted(EXPECTED.glob("*.json"))]
    templates = [[edited(b, n) for n in range(per_article)] for b in base]
    diffs = [
        [diff_articles(None, t[0]).to_dict()]
        + [diff_articles(t[n - 1], t[n]).to_dict() for n in range(1, per_article)]
        for t in templates
    ]
    articles = versions // per_article
    version_id = change_id = 0
    with engine.begin() as connection:
        for start in range(0, articles, 500):
            rows: dict[str, list[dict[str, Any]]] = {"a": [], "v": [], "c": [], "al": []}
            for i in range(start, min(articles, start + 500)):
                t = i % len(templates)
                at = T0 + timedelta(minutes=7 * i)
                url_i = f"{SITE}/2025-01-01/news/bench-{i}/"
                topics = [TOPICS[i % len(TOPICS)], TOPICS[(i + 2) % len(TOPICS)]]
                first_version = version_id + 1
                for n, page in enumerate(templates[t]):
                    version_id += 1
                    change_id += 1
                    when = at + timedelta(hours=n)
                    page = replace(page, url=url_i, title=f"{page.title} #{i}")
                    rows["v"].append(
                        {
                            "id": version_id,
                            "article_id": i + 1,
                            "seq": n + 1,
                            "fingerprint": fingerprint(page),
                            "fetched_at": when,
                            "title": page.title,
                            "paywalled": False,
                            "data": page.to_dict(),
                            "relevant": True,
                            "classification": {
                                "relevant": True,
                                "score": 5.0,
                                "topics": {topic: 2.0 for topic in topics},
                                "evidence": [
                                    {"topic": x, "term": x, "field": "body", "count": 2}
                                    for x in topics
                                ],
                            },
                        }
                    )
                    diff = diffs[t][n]
                    rows["c"].append(
                        {
                            "id": change_id,
                            "article_id": i + 1,
                            "from_version_id": version_id - 1 if n else None,
                            "to_version_id": version_id,
                            "kind": diff["kinds"][0],
                            "kinds": diff["kinds"],
                            "significance": 3 if diff["significance"] == "substantive" else 2,
                            "diff": diff,
                            "held": False,
                            "created_at": when,
                        }
                    )
                    rows["al"].append(
                        {
                            "dedupe_key": f"change:{change_id}",
                            "article_id": i + 1,
                            "change_id": change_id,
                            "kind": "new" if n == 0 else "changed",
                            "topics": topics,
                            "payload": {"kind": "changed", "url": url_i, "title": page.title},
                            "created_at": when,
                        }
                    )
                rows["a"].append(
                    {
                        "id": i + 1,
                        "url": url_i,
                        "section": "news",
                        "status": "live",
                        "discovered_via": "bench",
                        "first_seen": at,
                        "next_check_at": at,
                        "current_version_id": version_id,
                        "version_count": per_article,
                        "relevant": True,
                        "topics": topics,
                        "fail_count": 0,
                    }
                )
                assert version_id - first_version + 1 == per_article
            connection.execute(insert(Article), rows["a"])
            connection.execute(insert(Version), rows["v"])
            connection.execute(insert(Change), rows["c"])
            connection.execute(insert(Alert), rows["al"])
    engine.dispose()
    return articles


TARGET_MS = 50.0  # p95 of "/" and the article pages
TARGETED = ("/", "/ page 20", "/ last page", "/ by topic+kind", "article (diff)", "article side")
TARGET_MISSED = 3  # exit code: figures printed, a speed target missed


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile: the smallest value at least ``share`` of them do not exceed."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(len(ordered) * share) - 1)]


def measure(
    client: TestClient, cases: dict[str, list[str]]
) -> dict[str, tuple[list[float], list[float]]]:
    """Wall and process-CPU milliseconds per request, the cases interleaved round by round.

    Interleaving puts every case (and the ``/healthz`` floor) under the same machine load; CPU
    time is what the request cost this process whatever else the machine runs.
    """
    times: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in cases}
    rounds = max(len(paths) for paths in cases.values())
    for k in range(rounds):
        for name, paths in cases.items():
            if k >= len(paths):
                continue
            cpu, started = time.process_time(), time.perf_counter()
            response = client.get(paths[k])
            wall_ms = (time.perf_counter() - started) * 1000
            cpu_ms = (time.process_time() - cpu) * 1000
            assert response.status_code == 200, (paths[k], response.status_code)
            times[name][0].append(wall_ms)
            times[name][1].append(cpu_ms)
    return times


def open_database(path: Path, versions: int, per_article: int) -> int:
    """Build the database at ``path`` unless it is there already; returns its article count."""
    url = f"sqlite:///{path}"
    if path.exists():
        engine = make_engine(url)
        with engine.connect() as connection:
            articles = connection.execute(text("SELECT count(*) FROM article")).scalar_one()
        engine.dispose()
        print(f"reusing {path}: {articles} articles")
        return int(articles)
    started = time.perf_counter()
    articles = build(url, versions, per_article)
    print(
        f"built {articles} articles, {articles * per_article} versions "
        f"in {time.perf_counter() - started:.1f} s"
    )
    return articles


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, default=50_000)
    parser.add_argument("--per-article", type=int, default=5)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument(
        "--database", type=Path, help="keep the built database here and reuse it on later runs"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.database.resolve() if args.database else Path(tmp) / "bench.sqlite3"
        articles = open_database(path, args.versions, args.per_article)
        url = f"sqlite:///{path}"
        data_dir = path.with_name(path.stem + "-data") if args.database else Path(tmp) / "data"
        settings = load_settings(database_url=url, data_dir=data_dir)  # the search index's home
        web = open_readonly(settings)
        started = time.perf_counter()
        indexed = SearchIndex(web).refresh()
        print(f"search index: {indexed} versions in {time.perf_counter() - started:.1f} s")
        rng = random.Random(1)
        n = args.requests
        deep = max(1, articles * args.per_article // 50 - 1)  # the last page of 50 changes
        cases = {
            "healthz (floor)": ["/healthz"] * n,
            "/": ["/"] * n,
            "/ page 20": ["/?page=20"] * n,
            "/ last page": [f"/?page={deep}"] * max(1, n // 4),
            "/ by topic+kind": ["/?topic=citizenship&kind=body&significance=substantive"] * n,
            "article (diff)": [f"/articles/{rng.randint(1, articles)}" for _ in range(n)],
            "article side": [f"/articles/{rng.randint(1, articles)}?view=side" for _ in range(n)],
            "search": [f"/search?q={rng.choice(WORDS)}" for _ in range(n)],
            "search 2 words": [f"/search?q=asylum+{rng.choice(WORDS)}" for _ in range(n // 2)],
            "feed.atom": ["/feed.atom"] * max(1, n // 4),
        }
        # one client for the whole run: one event loop, as a running server has
        with TestClient(create_app(settings, web)) as client:
            for paths in cases.values():  # warm the templates, the pool, the statement cache
                client.get(paths[0])
            times = measure(client, cases)
        web.engine.dispose()
    print(f"{'page':<18} {'p50 ms':>8} {'p95 ms':>8} {'cpu p50':>8} {'cpu p95':>8}")
    missed = []
    for name, (wall, cpu) in times.items():
        p95 = percentile(wall, 0.95)
        print(
            f"{name:<18} {statistics.median(wall):8.1f} {p95:8.1f} "
            f"{statistics.median(cpu):8.1f} {percentile(cpu, 0.95):8.1f}"
        )
        if name in TARGETED and p95 >= TARGET_MS:
            missed.append(name)
    if missed:
        print(f"target missed: p95 >= {TARGET_MS:.0f} ms for {', '.join(missed)}")
        return TARGET_MISSED
    print(f"target met: p95 < {TARGET_MS:.0f} ms for / and the article pages")
    return 0


if __name__ == "__main__":
    sys.exit(main())
