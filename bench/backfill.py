"""Backfill benchmark: N generated articles from a local server, rate limit off.

Reports articles per second and the peak memory (RSS) of the backfill process. Each size runs in
a fresh process, so the peak RSS of one size is not inflated by an earlier, larger run; the
server runs in its own process too, so it does not share the backfill's interpreter (GIL).

    .venv/bin/python bench/backfill.py                 # 1,000 and 5,000 articles
    .venv/bin/python bench/backfill.py --sizes 5000 --profile /tmp/backfill.prof
    .venv/bin/python bench/backfill.py --postgres      # on CPHMON_TEST_PG_URL instead of SQLite
    .venv/bin/python bench/backfill.py --sizes 1000 --breakdown   # CPU ms per article by stage

The machine is shared, so wall time is noisy; ``--breakdown`` reports process CPU per article by
stage (exclusive: a stage's figure does not include the stages it calls; measured by the
backfill's own ``timings`` hook, :class:`monitor.backfill.Timings`), which is what decides the
rate once the machine is idle. The replay server's CPU per article is reported too: it runs
on the same cores. ``--repeat K`` runs each size K times (the rate varies with the machine's load).

Target: at least 300 articles/s on a 2-core machine, and peak RSS flat in N.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TARGET_PER_SECOND = 300.0

from bench.support.replay_server import replay_server  # noqa: E402


def _process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process of this host has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_once(
    origin: str, n: int, database_url: str | None, profile: str | None, breakdown: bool
) -> dict[str, Any]:
    """One backfill in this process (the child); returns its measurements."""
    from monitor.backfill import Timings, backfill
    from monitor.db import get_engine, upgrade
    from monitor.settings import load_settings

    with tempfile.TemporaryDirectory(prefix="backfill-bench-") as tmp:
        overrides: dict[str, Any] = {"site_url": origin, "data_dir": Path(tmp), "rate_limit": 0}
        if database_url:
            overrides["database_url"] = database_url
        settings = load_settings(**overrides)
        upgrade(settings.effective_database_url)
        engine = get_engine(settings)
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        timings = Timings()  # also the worker processes' CPU and memory
        coro = backfill(
            settings,
            engine,
            since=None,
            until=None,
            source="sitemap",
            limit=None,
            alert=False,
            dry_run=False,
            timings=timings,
        )
        started, cpu_started = time.perf_counter(), time.process_time()
        if profile:
            import cProfile

            with cProfile.Profile(time.process_time) as prof:  # CPU, not wall: a shared machine
                counts = asyncio.run(coro)
            prof.dump_stats(profile)
        else:
            counts = asyncio.run(coro)
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if counts.fetched != n or counts.failed:
        raise SystemExit(f"backfill stored {counts.fetched} of {n} ({counts.failed} failed)")
    result: dict[str, Any] = {
        "articles": n,
        "seconds": round(elapsed, 2),
        "per_second": round(n / elapsed, 1),
        "cpu_ms_per_article": round(cpu / n * 1000, 2),
        "cpu_bound_per_second": round(n / cpu, 1),
        "relevant": counts.relevant,
        "peak_rss_mib": round(peak_kib / 1024, 1),
        "worker_cpu_ms_per_article": round(timings.worker_cpu / n * 1000, 2),
        "worker_peak_rss_mib": round(timings.worker_peak_kib / 1024, 1),
        "prepared_by_workers": timings.prepared_by_workers,
        "pages_per_chunk": round(timings.prepared_by_workers / max(timings.worker_chunks, 1), 2),
        "rss_before_run_mib": round(rss_before / 1024, 1),
    }
    if breakdown:
        measured = sum(timings.seconds.values())
        by_stage = {k: v / n * 1000 for k, v in timings.seconds.items()}
        other = "other (fetch: httpx, robots, limiter; the event loop; the pool's IPC)"
        by_stage[other] = (cpu - measured) / n * 1000
        result["cpu_ms_by_stage"] = {k: round(v, 2) for k, v in by_stage.items()}
        result["checks_per_write"] = round(sum(timings.batches) / max(len(timings.batches), 1), 2)
    return result


def _child(args: argparse.Namespace) -> None:
    result = run_once(args.origin, args.child, args.database_url, args.profile, args.breakdown)
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--profile", help="write cProfile stats of the largest size here")
    parser.add_argument("--postgres", action="store_true", help="use CPHMON_TEST_PG_URL")
    parser.add_argument("--breakdown", action="store_true", help="CPU ms per article by stage")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each size")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--origin", help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args)
        return
    results = []
    for n in [size for size in sorted(args.sizes) for _ in range(max(args.repeat, 1))]:
        with replay_server(n) as (origin, server_pid), _database(args.postgres) as url:
            command = [sys.executable, __file__, "--child", str(n), "--origin", origin]
            if url:
                command += ["--database-url", url]
            if args.profile and n == max(args.sizes):
                command += ["--profile", args.profile]
            if args.breakdown:
                command.append("--breakdown")
            env = {**os.environ, "PYTHONPATH": str(ROOT)}
            server_cpu = _process_cpu(server_pid)
            out = subprocess.run(command, capture_output=True, text=True, env=env)
            if out.returncode:
                raise SystemExit(f"the backfill failed ({out.returncode}):\n{out.stderr[-3000:]}")
            server_cpu = _process_cpu(server_pid) - server_cpu
            result = json.loads(out.stdout.strip().splitlines()[-1])
            result["server_cpu_ms_per_article"] = round(server_cpu / n * 1000, 2)
        results.append(result)
        verdict = "ok" if result["per_second"] >= TARGET_PER_SECOND else "BELOW TARGET"
        print(
            f"{n:>6,} articles: {result['seconds']:>6.2f} s  {result['per_second']:>6.1f}/s "
            f"({verdict} {TARGET_PER_SECOND:.0f}/s)  peak RSS {result['peak_rss_mib']:.1f} MiB  "
            f"CPU {result['cpu_ms_per_article']:.2f} ms/article "
            f"(= {result['cpu_bound_per_second']:.0f}/s on an idle core)  "
            f"server CPU {result['server_cpu_ms_per_article']:.2f} ms/article  "
            f"worker CPU {result['worker_cpu_ms_per_article']:.2f} ms/article "
            f"(peak RSS {result['worker_peak_rss_mib']:.1f} MiB, "
            f"{result['prepared_by_workers']:,} pages prepared, "
            f"{result.get('pages_per_chunk', 1):.1f} per chunk)",
            flush=True,
        )
        for stage, ms in result.get("cpu_ms_by_stage", {}).items():
            print(f"        {ms:7.2f} ms  {stage}")
        if "checks_per_write" in result:
            print(f"        {result['checks_per_write']:7.2f} checks recorded per transaction")
    if len(results) > 1:
        growth = results[-1]["peak_rss_mib"] - results[0]["peak_rss_mib"]
        print(
            f"peak RSS {results[0]['articles']:,} → {results[-1]['articles']:,} articles: "
            f"{growth:+.1f} MiB"
        )


@contextlib.contextmanager
def _database(postgres: bool) -> Iterator[str | None]:
    if not postgres:
        yield None
        return
    sys.path.insert(0, str(ROOT))
    from tests.dbs import pg_schema_url

    with pg_schema_url() as url:
        yield url


if __name__ == "__main__":
    main()
