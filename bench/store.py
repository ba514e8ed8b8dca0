"""Bench: store 10,000 versions, then re-check 10,000 unchanged articles, on SQLite.

Runs the real write path (`monitor.check.record`: claim, fingerprint, classify, diff, version,
change, outbox) with pages built from a recorded article, so no network is involved. Prints
seconds, rate, and database bytes per version.

    .venv/bin/python bench/store.py [--articles 10000]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitor.check import Prepared, record  # noqa: E402
from monitor.classify import load_rules  # noqa: E402
from monitor.db import make_engine, session, upgrade  # noqa: E402
from monitor.fetch import Fetcher, FetchResult  # noqa: E402
from monitor.runtime import Context  # noqa: E402
from monitor.settings import load_settings  # noqa: E402
from monitor.store import add_candidates, claim_due  # noqa: E402
from scrapers.article import Article, Candidate  # noqa: E402

SITE = "http://127.0.0.1:8123"
EXPECTED = ROOT / "tests/fixtures/cphpost/expected"


def pages(n: int) -> list[Article]:
    base = [Article.from_dict(json.loads(p.read_text())) for p in sorted(EXPECTED.glob("*.json"))]
    out = []
    for i in range(n):
        src = base[i % len(base)]
        url = f"{SITE}/2026-01-{1 + i % 28:02d}/news/bench-article-{i}/"
        out.append(replace(src, url=url, title=f"{src.title} ({i})", post_id=100000 + i))
    return out


def run_phase(ctx: Context, by_url: dict[str, Article], status: int) -> tuple[int, float]:
    done, started = 0, time.perf_counter()
    while done < len(by_url):
        claims = claim_due(ctx.engine, ctx.owner, min(200, len(by_url) - done), 300)
        for claim in claims:
            result = FetchResult(claim.url, claim.url, status=status, etag='"x"')
            record(ctx, claim, result, Prepared(by_url[claim.url]), datetime.now(UTC))
            done += 1
    return done, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "bench.sqlite3"
        url = f"sqlite:///{db_path}"
        upgrade(url)
        settings = load_settings(
            site_url=SITE, database_url=url, data_dir=Path(tmp), recheck_schedule="*:0.001s"
        )
        engine = make_engine(url)
        ctx = Context(settings, engine, Fetcher(settings), [], load_rules(), "bench")
        by_url = {p.url: p for p in pages(args.articles)}
        now = datetime.now(UTC)
        with session(engine) as db:
            add_candidates(db, [Candidate(u, "bench") for u in by_url], now)
        stored, t_store = run_phase(ctx, by_url, 200)
        time.sleep(0.01)
        rechecked, t_recheck = run_phase(ctx, by_url, 200)
        time.sleep(0.01)
        not_modified, t_304 = run_phase(ctx, by_url, 304)
        engine.dispose()
        size = db_path.stat().st_size + sum(
            p.stat().st_size for p in Path(tmp).glob("bench.sqlite3-*")
        )
    print(f"store {stored:,} new versions:        {t_store:7.2f} s  ({stored / t_store:,.0f}/s)")
    print(
        f"re-check {rechecked:,} unchanged (200): {t_recheck:7.2f} s  "
        f"({rechecked / t_recheck:,.0f}/s)"
    )
    rate_304 = not_modified / t_304
    print(f"re-check {not_modified:,} unchanged (304): {t_304:7.2f} s  ({rate_304:,.0f}/s)")
    print(f"database: {size / 1_048_576:.1f} MiB, {size / stored / 1024:.1f} KiB per version")


if __name__ == "__main__":
    main()
