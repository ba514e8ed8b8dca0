"""Backfill benchmark: N generated articles from a local server, rate limit off.

Reports articles per second and the peak memory (RSS) of the backfill process. Each size runs in
a fresh process, so the peak RSS of one size is not inflated by an earlier, larger run; the
server runs in its own process too, so it does not share the backfill's interpreter (GIL).

    .venv/bin/python bench/backfill.py                 # 1,000 and 5,000 articles
    .venv/bin/python bench/backfill.py --sizes 5000 --profile /tmp/backfill.prof
    .venv/bin/python bench/backfill.py --postgres      # on CPHMON_TEST_PG_URL instead of SQLite
    .venv/bin/python bench/backfill.py --sizes 1000 --breakdown   # CPU ms per article by stage

The machine is shared, so wall time is noisy; ``--breakdown`` reports process CPU per article by
stage (exclusive: a stage's figure does not include the stages it calls), which is what decides
the rate once the machine is idle. The replay server's CPU per article is reported too: it runs
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


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process of this host has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _Stages:
    """Exclusive process-CPU time per pipeline stage, by wrapping the functions check() calls."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.batches: list[int] = []  # checks per write of the group commit
        self._nested = 0.0  # CPU already attributed, so an outer stage can leave it out

    def _add(self, stage: str, started: float, nested_before: float) -> None:
        own = time.process_time() - started - (self._nested - nested_before)
        self.seconds[stage] = self.seconds.get(stage, 0.0) + own
        self._nested += own

    def wrap(self, stage: str, func: Any) -> Any:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started, nested = time.process_time(), self._nested
            try:
                return func(*args, **kwargs)
            finally:
                self._add(stage, started, nested)

        return timed

    def wrap_async(self, stage: str, func: Any) -> Any:
        async def timed(*args: Any, **kwargs: Any) -> Any:
            started, nested = time.process_time(), self._nested
            try:
                return await func(*args, **kwargs)
            finally:
                self._add(stage, started, nested)

        return timed

    def install(self) -> None:
        from sqlalchemy.orm import Session

        import monitor.backfill as backfill_module
        import monitor.check as check_module
        from monitor.fetch import Fetcher

        Fetcher.get = self.wrap_async("fetch (httpx, robots, limiter)", Fetcher.get)  # type: ignore[method-assign]
        check_module.extract = self.wrap("extract", check_module.extract)
        backfill_module._Offload.__call__ = self.wrap_async(  # type: ignore[method-assign]
            "offload (IPC to the extract+classify process)", backfill_module._Offload.__call__
        )
        check_module.classify = self.wrap("classify", check_module.classify)
        check_module.diff_articles = self.wrap("diff", check_module.diff_articles)
        backfill_module.record_batch = self.wrap(
            "record: batches (SELECT, checks' logic, minus the stages below)",
            backfill_module.record_batch,
        )
        backfill_module.record = self.wrap(
            "record: one by one (minus the stages below)", backfill_module.record
        )
        check_module.lock_claimed = self.wrap(
            "record: lock_claimed (SELECT … FOR UPDATE)", check_module.lock_claimed
        )
        check_module._add_change = self.wrap("record: _add_change", check_module._add_change)
        check_module._insert = self.wrap(
            "record: Core INSERTs (version, change, fetch log)", check_module._insert
        )
        check_module._same_story = self.wrap("record: _same_story", check_module._same_story)
        Session.commit = self.wrap("commit (flush of pending rows + COMMIT)", Session.commit)  # type: ignore[method-assign]
        backfill_module.add_candidates = self.wrap("add_candidates", backfill_module.add_candidates)
        write = backfill_module._Writer._write

        def counted(writer: Any, batch: list[Any]) -> None:
            self.batches.append(len(batch))
            write(writer, batch)

        backfill_module._Writer._write = counted  # type: ignore[method-assign,assignment]
        backfill_module.plan_batch = self.wrap(
            "plan_batch (lookups, leases, minus add_candidates)", backfill_module.plan_batch
        )


def run_once(
    origin: str, n: int, database_url: str | None, profile: str | None, breakdown: bool
) -> dict[str, Any]:
    """One backfill in this process (the child); returns its measurements."""
    stages = _Stages() if breakdown else None
    if stages is not None:
        stages.install()
    from monitor.backfill import backfill
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
        coro = backfill(
            settings,
            engine,
            since=None,
            until=None,
            source="sitemap",
            limit=None,
            alert=False,
            dry_run=False,
        )
        started, cpu_started = time.perf_counter(), time.process_time()
        children_started = _children_cpu()
        if profile:
            import cProfile

            with cProfile.Profile(time.process_time) as prof:  # CPU, not wall: a shared machine
                counts = asyncio.run(coro)
            prof.dump_stats(profile)
        else:
            counts = asyncio.run(coro)
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        children = _children_cpu() - children_started  # the extract+classify process, if any
        peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        children_peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
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
        "worker_cpu_ms_per_article": round(children / n * 1000, 2),
        "worker_peak_rss_mib": round(children_peak_kib / 1024, 1),
        "rss_before_run_mib": round(rss_before / 1024, 1),
    }
    if stages is not None:
        measured = sum(stages.seconds.values())
        by_stage = {k: v / n * 1000 for k, v in stages.seconds.items()}
        by_stage["other (event loop, backfill workers, pool)"] = (cpu - measured) / n * 1000
        result["cpu_ms_by_stage"] = {k: round(v, 2) for k, v in by_stage.items()}
        result["checks_per_write"] = round(sum(stages.batches) / max(len(stages.batches), 1), 2)
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
            f"(peak RSS {result['worker_peak_rss_mib']:.1f} MiB)",
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
