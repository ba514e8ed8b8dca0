"""Daemon benchmark: the cost of a re-check cycle, against urlwatch, and how fast an edit alerts.

1. Re-check cycles: ``ReplaySite.synthetic(N)`` (default 500 articles) is served in this
   process; ``cphpost-monitor run --once`` loads every article, then every article is made due
   (``UPDATE article SET next_check_at = now``) and one more ``run --once`` re-checks them all:
   once on an idle site (all 304s), once after ``--edits`` articles were edited (200s among the
   304s). Reported for each: requests by kind and status (the site's log), TCP connections the
   site accepted, the CPU of that run (``getrusage(RUSAGE_CHILDREN)``: the monitor's process
   only) less the CPU of a run with nothing due, per re-check, and wall time. Rate limit off
   by default: CPU, not politeness, is measured (at 1 request/s the cycle takes N seconds).
2. Database round trips per check: every article made due again and re-checked in this
   process by the daemon's own ``recheck_job``, counted at the engine
   (``tests/support/round_trips.py``): claims, slots, records and health, divided by checks.
3. Baseline: urlwatch 2.x (``urlwatch --urls … --cache …``, non-interactive) on the same pages
   of the same site in the same run: a first run stores the ETags, then a run of all N jobs
   (304s) less a run of one job, per job. ``--repeat`` alternates ours and urlwatch's.
4. Edit → alert latency: the running daemon (``run``, short intervals: feeds every 1 s,
   re-checks every 0.5 s, the article due every 1 s, deliveries every 0.5 s) watches one
   recorded article; its headline is edited ``--rounds`` times and the time from the edit to
   the webhook receiving the "changed" alert is measured (min / median / max). In production
   the bound is the README's (the sitemap interval plus a re-check and a delivery round).

    .venv/bin/python bench/daemon.py [--articles 500] [--edits 5] [--repeat 3] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import html
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import update  # noqa: E402
from sqlmodel import select  # noqa: E402

from monitor.daemon import Daemon  # noqa: E402
from monitor.db import engine_for  # noqa: E402
from monitor.models import Article, Change  # noqa: E402
from monitor.runtime import make_context  # noqa: E402
from monitor.settings import load_settings  # noqa: E402
from monitor.store import utcnow  # noqa: E402
from tests.e2e.harness import Monitor, wait_until  # noqa: E402
from tests.support import pages  # noqa: E402
from tests.support.replay import RSS, XML, ReplaySite  # noqa: E402
from tests.support.round_trips import RoundTrips  # noqa: E402
from tests.support.sinks import WebhookSink  # noqa: E402

ARTICLE = (
    "/2023-05-22/news/"
    "number-of-rejected-asylum-seekers-earmarked-for-deportation-halved-in-two-years/"
)
HEADLINE = "Number of rejected asylum-seekers earmarked for deportation halved in two years"
SCHEDULE = "3h:15m,1d:1h,7d:6h,*:7d"  # nothing falls due again during the bench
URLWATCH = Path(sys.executable).with_name("urlwatch")


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


@dataclass
class Cycle:
    label: str
    requests: Counter[str]  # "kind status"
    connections: int
    cpu: float
    per_check_ms: float
    wall: float
    changes: int = 0


def make_due(monitor: Monitor) -> None:
    with monitor.db() as db:
        db.execute(update(Article).values(next_check_at=utcnow()))
        db.commit()


def one_cycle(monitor: Monitor, site: ReplaySite, label: str, baseline: float) -> Cycle:
    make_due(monitor)
    with monitor.db() as db:
        before = len(db.exec(select(Change.id)).all())
    site.reset_log()
    cpu_before, started = cpu_of_children(), time.perf_counter()
    monitor.run_once(timeout=1800)
    wall = time.perf_counter() - started
    cpu = cpu_of_children() - cpu_before
    requests = Counter(f"{kind_of(r.path)} {r.status}" for r in site.requests)
    checks = sum(v for k, v in requests.items() if k.startswith("article"))
    with monitor.db() as db:
        changes = len(db.exec(select(Change.id)).all()) - before
    per_check = (cpu - baseline) / max(checks, 1) * 1000
    return Cycle(label, requests, site.connections_opened, cpu, per_check, wall, changes)


def edit_some(site: ReplaySite, n: int) -> None:
    """A new headline on ``n`` articles (a substantive edit: stored, and alerted if relevant)."""
    for spec in random.Random(7).sample(site.articles, n):
        title = html.escape(spec.title, quote=False)
        site.edit(spec.path, lambda text, t=title: text.replace(t, f"{t}, updated"))


def round_trips(monitor: Monitor, origin: str) -> tuple[int, float, Counter[str]]:
    """Every article re-checked once in this process (304s); round trips per check."""
    settings = load_settings(
        site_url=origin,
        data_dir=monitor.data_dir,
        database_url=monitor.database_url,
        rate_limit=0,
        recheck_schedule=SCHEDULE,
        feeds="/feed/",
    )
    make_due(monitor)
    daemon = Daemon(settings)
    engine = engine_for(monitor.database_url)
    trips = RoundTrips(engine)

    async def go() -> int:
        daemon.stopping = asyncio.Event()
        daemon.ctx = make_context(settings, engine, daemon.owner)
        await daemon.ctx.fetcher.allowed(origin + "/")  # robots.txt, outside the count
        checked = 0
        try:
            with trips:
                while reports := await daemon.recheck_job():
                    checked += len(reports)
        finally:
            await daemon.ctx.fetcher.aclose()
        return checked

    checked = asyncio.run(go())
    engine.dispose()
    return checked, trips.total / max(checked, 1), trips.kinds


def urlwatch_cycle(site: ReplaySite, work: Path) -> Cycle | None:
    """urlwatch's CPU per 304 job on the same pages: (all jobs - one job) / (N - 1)."""
    if not URLWATCH.exists():
        return None
    urls = [site.url(spec.path) for spec in site.articles]

    def run(name: str, chosen: list[str]) -> float:
        jobs = work / f"{name}.yaml"
        jobs.write_text("\n---\n".join(f"url: {u}" for u in chosen) + "\n")
        command = [str(URLWATCH), "--urls", str(jobs), "--config", str(work / "urlwatch.yaml")]
        command += ["--cache", str(work / f"{name}.db")]
        before = cpu_of_children()
        subprocess.run(command, capture_output=True, stdin=subprocess.DEVNULL, check=True)
        return cpu_of_children() - before

    for name, chosen in (("all", urls), ("one", urls[:1])):
        if not (work / f"{name}.db").exists():
            run(name, chosen)  # first run: 200s, ETags stored
    one = run("one", urls[:1])
    site.reset_log()
    started = time.perf_counter()
    cpu = run("all", urls)
    wall = time.perf_counter() - started
    requests = Counter(f"{kind_of(r.path)} {r.status}" for r in site.requests)
    per_job = (cpu - one) / max(len(urls) - 1, 1) * 1000
    return Cycle("urlwatch, idle", requests, site.connections_opened, cpu, per_job, wall)


def show(cycle: Cycle) -> None:
    shown = ", ".join(f"{k}: {v:,}" for k, v in sorted(cycle.requests.items()))
    print(f"  {cycle.label}")
    print(f"    requests by kind and status:   {shown}")
    print(f"    connections opened:            {cycle.connections}")
    print(f"    CPU of the run:                {cycle.cpu:.2f} s  ({cycle.wall:.1f} s wall)")
    print(f"    CPU per re-check:              {cycle.per_check_ms:.2f} ms")
    if cycle.changes:
        print(f"    changes stored:                {cycle.changes}")


def recheck_cycles(n: int, edits: int, repeat: int, rate_limit: float) -> None:
    ours: list[float] = []
    theirs: list[float] = []
    with tempfile.TemporaryDirectory() as tmp, ReplaySite.synthetic(n) as site:
        monitor = Monitor(Path(tmp), site.origin, feeds="/feed/", recheck_schedule=SCHEDULE)
        try:
            monitor.upgrade()
            started = time.perf_counter()
            monitor.run_once(timeout=1800)
            load = time.perf_counter() - started
            print(f"re-check cycles over {len(monitor.articles()):,} tracked articles")
            print(f"  first run --once (load, extract, store all): {load:.1f} s wall")
            print(f"  rate limit during the cycles: {rate_limit or 'off'}")
            monitor.set(rate_limit=rate_limit)
            cpu_before = cpu_of_children()
            monitor.run_once(timeout=1800)  # nothing due: start-up, discovery, delivery round
            baseline = cpu_of_children() - cpu_before
            print(f"  CPU of a run with nothing due (start-up, discovery): {baseline:.2f} s")
            work = Path(tmp) / "urlwatch"
            work.mkdir()
            for attempt in range(1, repeat + 1):
                print(f"round {attempt} of {repeat}")
                idle = one_cycle(monitor, site, "cphpost-monitor, idle site", baseline)
                show(idle)
                ours.append(idle.per_check_ms)
                baseline_run = urlwatch_cycle(site, work)
                if baseline_run is not None:
                    show(baseline_run)
                    theirs.append(baseline_run.per_check_ms)
            edit_some(site, edits)
            show(one_cycle(monitor, site, f"cphpost-monitor, {edits} articles edited", baseline))
            checked, per_check, kinds = round_trips(monitor, site.origin)
            print(f"database round trips per check (SQLite, {checked} checks in this process):")
            print(f"  {per_check:.2f}  ({', '.join(f'{k} {v}' for k, v in kinds.most_common())})")
        finally:
            monitor.close()
    print("CPU per 304 re-check, min / median / max over the rounds:")
    print(f"  cphpost-monitor: {spread(ours)}")
    print(f"  urlwatch:        {spread(theirs) if theirs else 'not installed (bench extra)'}")


def spread(values: list[float]) -> str:
    return f"{min(values):.2f} / {statistics.median(values):.2f} / {max(values):.2f} ms"


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
    parser.add_argument("--articles", type=int, default=500)
    parser.add_argument("--edits", type=int, default=5, help="articles edited in the 2nd cycle")
    parser.add_argument("--repeat", type=int, default=3, help="idle rounds, ours and urlwatch's")
    parser.add_argument("--rounds", type=int, default=5, help="edits timed edit -> alert")
    parser.add_argument(
        "--rate-limit", type=float, default=0.0, help="requests/s in the cycles (0 = off)"
    )
    args = parser.parse_args()
    recheck_cycles(args.articles, args.edits, args.repeat, args.rate_limit)
    print()
    edit_latency(args.rounds)


if __name__ == "__main__":
    main()
