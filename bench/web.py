"""Bench: render time of the web view's pages on a database of 50,000 versions (SQLite).

The database is built with bulk inserts (articles, versions, changes with real diffs, alerts)
from the recorded articles, each edited a little per version; then the pages are requested
through the ASGI app in-process (Jinja2 rendering included, no network). Prints p50/p95 in ms of
``/`` (first page and a filtered one), an article page with its diff, and a search; the target
is p95 < 50 ms for ``/`` and article pages. The search index is built once before timing (its
build time is printed too).

    .venv/bin/python bench/web.py [--versions 50000] [--per-article 5] [--requests 200]
"""

from __future__ import annotations

import argparse
import json
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

from sqlalchemy import insert  # noqa: E402
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


def timed(client: TestClient, paths: list[str]) -> tuple[float, float]:
    times = []
    for path in paths:
        started = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    times.sort()
    return statistics.median(times), times[max(0, int(len(times) * 0.95) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, default=50_000)
    parser.add_argument("--per-article", type=int, default=5)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.sqlite3"
        started = time.perf_counter()
        articles = build(url, args.versions, args.per_article)
        print(
            f"built {articles} articles, {articles * args.per_article} versions "
            f"in {time.perf_counter() - started:.1f} s"
        )
        settings = load_settings(database_url=url, data_dir=Path(tmp) / "data")
        web = open_readonly(settings)
        started = time.perf_counter()
        indexed = SearchIndex(web).refresh()
        print(f"search index: {indexed} versions in {time.perf_counter() - started:.1f} s")
        rng = random.Random(1)
        n = args.requests
        client = TestClient(create_app(settings, web))
        client.get("/")  # warm the templates and the pool
        cases = {
            "/": ["/"] * n,
            "/ page 20": ["/?page=20"] * n,
            "/ by topic+kind": ["/?topic=citizenship&kind=body&significance=substantive"] * n,
            "article (diff)": [f"/articles/{rng.randint(1, articles)}" for _ in range(n)],
            "article side": [f"/articles/{rng.randint(1, articles)}?view=side" for _ in range(n)],
            "search": [f"/search?q={rng.choice(WORDS)}" for _ in range(n)],
            "feed.atom": ["/feed.atom"] * max(1, n // 4),
        }
        print(f"{'page':<18} {'p50 ms':>8} {'p95 ms':>8}")
        for name, paths in cases.items():
            p50, p95 = timed(client, paths)
            print(f"{name:<18} {p50:8.1f} {p95:8.1f}")
        web.engine.dispose()


if __name__ == "__main__":
    main()
