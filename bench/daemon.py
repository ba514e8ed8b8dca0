"""Daemon benchmark: the cost of an idle cycle, and how fast an edit becomes an alert.

1. Idle cycle: ``ReplaySite.synthetic(N)`` (default 1,000 articles) is served in this process;
   ``cphpost-monitor run --once`` loads every article, then every article is made due
   (``UPDATE article SET next_check_at = now``) and one more ``run --once`` re-checks them all.
   The site answers 304 to each. Reported: requests sent (from the site's log, by kind and
   status) and the CPU seconds of that run (``getrusage(RUSAGE_CHILDREN)``: the monitor's
   process only, the site runs here), wall time, and the rate limit used (off by default: CPU,
   not politeness, is measured; at the default 1 request/s the same cycle takes N seconds).
2. Edit → alert latency: the running daemon (``run``, short intervals: feeds every 1 s,
   re-checks every 0.5 s, the article due every 1 s, deliveries every 0.5 s) watches one
   recorded article; the page's headline is edited ``--rounds`` times and the time from the
   edit to the webhook receiving the "changed" alert is measured (min / median / max).
   In production the latency is bounded the same way: the article's re-check interval plus
   ``delivery_interval`` (the poll interval when the edit shows in a feed's lastmod first).

    .venv/bin/python bench/daemon.py [--articles 1000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import update  # noqa: E402

from monitor.models import Article  # noqa: E402
from monitor.store import utcnow  # noqa: E402
from tests.e2e.harness import Monitor, wait_until  # noqa: E402
from tests.support import pages  # noqa: E402
from tests.support.replay import RSS, XML, ReplaySite  # noqa: E402
from tests.support.sinks import WebhookSink  # noqa: E402

ARTICLE = (
    "/2023-05-22/news/"
    "number-of-rejected-asylum-seekers-earmarked-for-deportation-halved-in-two-years/"
)
HEADLINE = "Number of rejected asylum-seekers earmarked for deportation halved in two years"


def cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def kind_of(path: str) -> str:
    if "sitemap" in path:
        return "sitemap"
    if path.endswith("/feed/"):
        return "feed"
    if path == "/robots.txt":
        return "robots"
    return "article"


def idle_cycle(n: int, rate_limit: float) -> None:
    with tempfile.TemporaryDirectory() as tmp, ReplaySite.synthetic(n) as site:
        # The default schedule (nothing falls due again during the bench), log level INFO.
        monitor = Monitor(
            Path(tmp), site.origin, feeds="/feed/", recheck_schedule="3h:15m,1d:1h,7d:6h,*:7d"
        )
        try:
            monitor.upgrade()
            started = time.perf_counter()
            monitor.run_once(timeout=1800)
            load = time.perf_counter() - started
            tracked = len(monitor.articles())
            monitor.set(rate_limit=rate_limit)
            cpu_before = cpu_of_children()
            monitor.run_once(timeout=1800)  # nothing due: start-up, discovery, delivery round
            baseline = cpu_of_children() - cpu_before
            with monitor.db() as db:
                db.execute(update(Article).values(next_check_at=utcnow()))
                db.commit()
            site.reset_log()
            cpu_before, started = cpu_of_children(), time.perf_counter()
            monitor.run_once(timeout=1800)
            wall = time.perf_counter() - started
            cpu = cpu_of_children() - cpu_before
            requests = site.requests
        finally:
            monitor.close()
    by_kind = Counter(kind_of(r.path) for r in requests)
    statuses = Counter(str(r.status) for r in requests if kind_of(r.path) == "article")
    articles = by_kind["article"]
    print(f"idle cycle over {tracked:,} tracked articles (site answers 304 to each)")
    print(f"  first run --once (load, extract, store all):  {load:7.1f} s wall")
    print(f"  rate limit during the idle cycle:             {rate_limit or 'off'}")
    print(f"  requests sent:                                {len(requests):7,}")
    print(
        "    by kind:                                    "
        + ", ".join(f"{k} {v:,}" for k, v in sorted(by_kind.items()))
    )
    print(
        "    article statuses:                           "
        + ", ".join(f"{k}: {v:,}" for k, v in sorted(statuses.items()))
    )
    per_check = (cpu - baseline) / max(articles, 1) * 1000
    print(f"  CPU of the run --once process:                {cpu:7.2f} s")
    print(f"    start-up + discovery alone (nothing due):   {baseline:7.2f} s")
    print(f"    per article re-check (the difference / N):  {per_check:7.2f} ms")
    print(f"  wall time:                                    {wall:7.2f} s")


def publish_only(site: ReplaySite, path: str) -> dict[str, str]:
    site.set_page(
        "/bench/feed/",
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
        f"<title>bench</title><link>{pages.LIVE}/</link>\n"
        f"<item><title>t</title><link>{pages.LIVE}{path}</link></item>\n</channel></rss>\n",
        content_type=RSS,
    )
    when = datetime(2023, 5, 22, 9, 0, tzinfo=UTC)
    site.set_page("/bench/post-sitemap.xml", pages.urlset([(path, when)]), content_type=XML)
    site.set_page(
        "/bench/sitemap_index.xml",
        pages.sitemap_index([("/bench/post-sitemap.xml", when)]),
        content_type=XML,
    )
    return {"feeds": "/bench/feed/", "sitemap_path": "/bench/sitemap_index.xml"}


def edit_latency(rounds: int) -> None:
    latencies: list[float] = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        ReplaySite() as site,
        WebhookSink() as sink,
    ):
        monitor = Monitor(
            Path(tmp),
            site.origin,
            notify_urls=sink.json_url(),
            recheck_schedule="*:1s",
            **publish_only(site, ARTICLE),
        )
        try:
            monitor.upgrade()
            daemon = monitor.start()
            sink.wait_for(1, timeout=60)  # the "new" alert of the article
            headline = HEADLINE
            for n in range(1, rounds + 1):
                time.sleep(random.uniform(0.2, 1.2))  # edits land anywhere in the cycle
                new = f"{HEADLINE}, update {n}"
                site.edit(ARTICLE, lambda text, old=headline, new=new: text.replace(old, new))
                headline = new
                edited = time.monotonic()
                arrived = sink.wait_for(1 + n, timeout=60)[-1].time
                latencies.append(arrived - edited)
            code = monitor.stop(daemon)
            wait_until("the daemon to stop", lambda: daemon.poll() is not None)
            kinds = [a.kind for a in monitor.alerts()]
        finally:
            monitor.close()
    print(f"edit → alert at the webhook, {rounds} edits (daemon exit code {code})")
    print(f"  alerts: {Counter(kinds)}")
    print(
        f"  latency min / median / max:  {min(latencies):.2f} / "
        f"{statistics.median(latencies):.2f} / {max(latencies):.2f} s"
    )
    print("  each: " + ", ".join(f"{x:.2f}" for x in latencies))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--rate-limit", type=float, default=0.0, help="requests/s in the idle cycle (0 = off)"
    )
    args = parser.parse_args()
    idle_cycle(args.articles, args.rate_limit)
    print()
    edit_latency(args.rounds)


if __name__ == "__main__":
    main()
