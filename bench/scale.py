"""Scaling benchmark: re-check throughput of 1, 2 and 4 workers on one PostgreSQL, rate limit off.

Real ``cphpost-monitor run`` processes share one database (a schema of its own on
``CPHMON_TEST_PG_URL``) and a local synthetic site in a process of its own. Every article is
stored first (``backfill``); then, per worker count, the workers are started and left idle,
every article is made due at once, and the time until the last one is recorded gives checks
per second. The site answers 304 Not Modified (conditional GETs with the stored ETag), the
common case of a re-check; ``--unchanged`` makes it answer 200 with the same content instead
(extraction and fingerprint on every check).

A second, in-process part counts database round trips per check by stage, with SQLAlchemy
events: every statement, BEGIN, COMMIT/ROLLBACK and the pool's pre-ping on checkout.

    .venv/bin/python bench/scale.py                       # 500 articles, 1 2 4 workers
    .venv/bin/python bench/scale.py --workers 1 2 4 8 --articles 1000 --rounds 3

Skips (exit 0, with the reason) where PostgreSQL is not reachable. The machine is shared and
has few cores: the site, PostgreSQL and the workers compete for them, so read the scaling
against ``os.cpu_count()`` printed in the header.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import contextvars
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, event, func, update  # noqa: E402
from sqlmodel import Session, col, select  # noqa: E402

from bench.support.replay_server import replay_server  # noqa: E402
from monitor.db import make_engine, upgrade  # noqa: E402
from monitor.models import Article, FetchLog, Lease  # noqa: E402
from tests.dbs import pg_schema_url, pg_unavailable  # noqa: E402

IDLE = "*:1d"  # nothing falls due by itself during a run
FAR = timedelta(days=1)


def _env(origin: str, url: str, data_dir: Path, **settings: Any) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CPHMON_")}
    env.update(
        CPHMON_SITE_URL=origin,
        CPHMON_DATABASE_URL=url,
        CPHMON_DATA_DIR=str(data_dir),
        CPHMON_RATE_LIMIT="0",
        CPHMON_FEEDS="/feed/",
        CPHMON_POLL_INTERVAL="1h",
        CPHMON_SITEMAP_INTERVAL="1h",
        CPHMON_RECHECK_SCHEDULE=IDLE,
        CPHMON_RECHECK_INTERVAL="0.2",
        CPHMON_LOG_LEVEL="INFO",
    )
    env.update({f"CPHMON_{k.upper()}": str(v) for k, v in settings.items()})
    return env


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _set_due(engine: Engine, when: datetime, *, forget_validators: bool = False) -> None:
    values: dict[str, Any] = {"next_check_at": when}
    if forget_validators:
        values.update(etag=None, last_modified=None)
    with Session(engine) as db:
        db.execute(update(Article).values(**values))
        db.commit()


# Throughput: worker processes --------------------------------------------------------------


def load(origin: str, url: str, data_dir: Path, n: int) -> None:
    """Store every article of the site once (backfill, rate limit off, no alerts)."""
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "monitor", "backfill"],
        cwd=ROOT,
        env=_env(origin, url, data_dir),
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if result.returncode != 0:
        raise SystemExit(f"backfill failed ({result.returncode}):\n{result.stderr[-3000:]}")
    engine = make_engine(url)
    with Session(engine) as db:
        stored = db.exec(select(func.count()).select_from(Article)).one()
    engine.dispose()
    if stored != n:
        raise SystemExit(f"backfill stored {stored} of {n} articles")
    print(f"loaded {n} articles in {time.perf_counter() - started:.1f} s (backfill)")


def _wait(what: str, probe: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)


def sweep(
    origin: str, url: str, data_dir: Path, workers: int, rounds: int, unchanged: bool
) -> dict[str, Any]:
    """Start ``workers`` processes, then ``rounds`` times: everything due, time the sweep."""
    engine = make_engine(url)
    _set_due(engine, _utcnow() + FAR)
    logs = [data_dir / f"w{workers}-{i}.log" for i in range(workers)]
    procs = []
    for log in logs:
        with log.open("wb") as out:
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "monitor", "run"],
                    cwd=ROOT,
                    env=_env(origin, url, data_dir),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            )
    try:
        _wait("the workers", lambda: all("started" in p.read_text() for p in logs), 60)
        _wait("the first discovery", lambda: _discovered(engine), 120)
        n = _count(engine, select(func.count()).select_from(Article))
        results: list[dict[str, Any]] = []
        for _round in range(rounds):
            start = _utcnow()
            cpu_before = sum(_cpu_seconds(p.pid) for p in procs)
            _set_due(engine, start - timedelta(seconds=1), forget_validators=unchanged)
            done = select(func.count()).where(col(Article.last_checked) >= start)
            _wait(f"{n} checks", lambda: _count(engine, done) >= n, 600)  # noqa: B023
            with Session(engine) as db:
                newest = db.exec(select(func.max(Article.last_checked))).one()
                assert newest is not None
                last = _aware(newest)
                fetches = db.exec(
                    select(FetchLog.url, FetchLog.worker).where(col(FetchLog.at) >= start)
                ).all()
            seconds = (last - start).total_seconds()
            cpu = sum(_cpu_seconds(p.pid) for p in procs) - cpu_before
            by_url = Counter(u for u, _ in fetches)
            results.append(
                {
                    "seconds": seconds,
                    "fetches": len(fetches),
                    "twice": sum(1 for c in by_url.values() if c > 1),
                    "share": sorted(Counter(w for _, w in fetches).values(), reverse=True),
                    "cpu_ms": cpu / n * 1000,
                }
            )
            _set_due(engine, _utcnow() + FAR)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=20)
            if proc.poll() is None:
                proc.kill()
        engine.dispose()
    best = statistics.median(r["seconds"] for r in results)
    return {
        "workers": workers,
        "articles": n,
        "seconds": best,
        "per_second": n / best,
        "twice": max(r["twice"] for r in results),
        "fetches": results[-1]["fetches"],
        "share": results[-1]["share"],
        "cpu_ms": statistics.median(r["cpu_ms"] for r in results),
    }


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _discovered(engine: Engine) -> bool:
    with Session(engine) as db:
        lease = db.get(Lease, "sitemap")
        return lease is not None and lease.last_run_at is not None and lease.owner is None


def _count(engine: Engine, query: Any) -> int:
    with Session(engine) as db:
        return int(db.exec(query).one())


# Round trips per check: one worker in this process ------------------------------------------

STAGE: contextvars.ContextVar[str] = contextvars.ContextVar("stage", default="other")
STAGES = ("claim", "renew", "rate limit", "record", "health", "other")


def _staged(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        token = STAGE.set(name)
        try:
            return func(*args, **kwargs)
        finally:
            STAGE.reset(token)

    return wrapper


def round_trips(origin: str, url: str, data_dir: Path, n: int, **settings: Any) -> dict[str, Any]:
    """Check every article once in this process; round trips per check by stage."""
    import monitor.check as check_module
    import monitor.daemon as daemon_module
    import monitor.runtime as runtime_module
    from monitor.daemon import Daemon
    from monitor.db import engine_for
    from monitor.runtime import make_context
    from monitor.settings import load_settings

    values: dict[str, Any] = {
        "site_url": origin,
        "database_url": url,
        "data_dir": data_dir,
        "rate_limit": 0,
        "recheck_schedule": IDLE,
        "feeds": "/feed/",
    }
    values.update(settings)
    daemon = Daemon(load_settings(**values))
    engine = engine_for(url)
    counts: Counter[str] = Counter()

    def count(*_args: Any, **_kwargs: Any) -> None:
        counts[STAGE.get()] += 1

    def count_transaction(connection: Any) -> None:
        # an AUTOCOMMIT connection sends no BEGIN, and its COMMIT/ROLLBACK are driver no-ops
        if connection.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
            counts[STAGE.get()] += 1

    patches = {
        (daemon_module, "claim_due"): "claim",
        (daemon_module, "renew_claim"): "renew",
        (runtime_module, "reserve_slot"): "rate limit",
        (runtime_module, "renew_and_reserve"): "rate limit",  # the renewal and the slot
        (daemon_module, "record_cycle"): "health",
        (check_module, "record"): "record",
    }
    originals = {key: getattr(*key) for key in patches}
    for (module, name), stage in patches.items():
        setattr(module, name, _staged(stage, originals[(module, name)]))
    listeners = [
        (engine, "before_cursor_execute", count),
        (engine, "begin", count_transaction),
        (engine, "commit", count_transaction),
        (engine, "rollback", count_transaction),
        (engine.pool, "checkout", count),  # pool_pre_ping: one round trip per checkout
    ]
    for target, name, listener in listeners:
        event.listen(target, name, listener)

    async def check_all() -> int:
        daemon.stopping = asyncio.Event()
        daemon.ctx = make_context(daemon.settings, engine, daemon.owner)
        await daemon.ctx.fetcher.allowed(origin + "/")  # robots.txt, outside the count
        counts.clear()
        checked = 0
        try:
            for _ in range(10 * n):  # bounded: each round checks at least one article
                reports = await daemon.recheck_job()
                if not reports:
                    break
                checked += len(reports)
        finally:
            await daemon.ctx.fetcher.aclose()
        return checked

    try:
        checked = asyncio.run(check_all())
    finally:
        for target, name, listener in listeners:
            event.remove(target, name, listener)
        for (module, name), original in originals.items():
            setattr(module, name, original)
    per_check = {stage: counts[stage] / checked for stage in STAGES}
    per_check["total"] = sum(counts.values()) / checked
    return {"checked": checked, "per_check": per_check}


# Main ---------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=500)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--rounds", type=int, default=3, help="sweeps per worker count (median)")
    parser.add_argument("--unchanged", action="store_true", help="200 unchanged instead of 304")
    args = parser.parse_args()
    reason = pg_unavailable()
    if reason:
        print(f"bench/scale.py skipped: {reason}")
        return
    print(
        f"{args.articles} articles, rate limit off, {os.cpu_count()} CPUs shared by the site, "
        "PostgreSQL and the workers"
    )
    with (
        replay_server(args.articles) as (origin, _pid),
        pg_schema_url() as url,
        tempfile.TemporaryDirectory(prefix="scale-bench-") as tmp,
    ):
        data_dir = Path(tmp)
        upgrade(url)
        load(origin, url, data_dir, args.articles)
        answer = "200 unchanged" if args.unchanged else "304 Not Modified"
        print(f"\nre-check throughput, every article due at once, the site answers {answer}")
        print(
            f"{'workers':>7} {'seconds':>8} {'checks/s':>9} {'speed-up':>9} "
            f"{'worker CPU ms/check':>20}  checks per worker"
        )
        base = None
        for workers in args.workers:
            r = sweep(origin, url, data_dir, workers, args.rounds, args.unchanged)
            base = base or r["per_second"]
            if r["twice"]:
                print(f"  !! {r['twice']} articles fetched twice in one sweep")
            print(
                f"{workers:>7} {r['seconds']:>8.2f} {r['per_second']:>9.0f} "
                f"{r['per_second'] / base:>8.2f}x {r['cpu_ms']:>20.1f}  {r['share']}"
            )
        m = min(args.articles, 200)
        print(f"\ndatabase round trips per check ({m} checks, one worker in this process)")
        header = "".join(f"{s:>11}" for s in (*STAGES, "total"))
        print(f"{'':<26}{header}")
        engine = make_engine(url)
        cases: list[tuple[str, bool, dict[str, Any]]] = [
            ("304, rate limit off", False, {}),
            ("200 unchanged", True, {}),
            ("304, shared rate limit", False, {"rate_limit": 1000}),
        ]
        for label, unchanged, settings in cases:
            _set_due(engine, _utcnow() + FAR)
            with Session(engine) as db:
                ids = db.exec(select(Article.id).order_by(col(Article.id)).limit(m)).all()
                values: dict[str, Any] = {"next_check_at": _utcnow() - timedelta(seconds=1)}
                if unchanged:
                    values.update(etag=None, last_modified=None)
                db.execute(update(Article).where(col(Article.id).in_(ids)).values(**values))
                db.commit()
            r = round_trips(origin, url, data_dir, m, **settings)
            row = "".join(f"{r['per_check'][s]:>11.2f}" for s in (*STAGES, "total"))
            print(f"{label:<26}{row}")
        engine.dispose()


if __name__ == "__main__":
    main()
