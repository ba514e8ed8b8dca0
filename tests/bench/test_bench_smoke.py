"""Every ``bench/*.py`` runs at a tiny size and prints its figures: benches do not rot.

The benches time stages by wrapping the monitor's functions, some of them private, by name; a
refactor that renames one breaks the bench silently (the wrapper lands on a name nobody calls
and the stage reads 0). Each bench runs here as a user runs it, in a subprocess, and its
figure lines are checked, stage figures included. Marked ``bench`` (by directory): out of
``make test-fast``, in ``make test``.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.dbs import require_pg

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"
NUMBER = r"[\d,]+(?:\.\d+)?"


@dataclass(frozen=True)
class Smoke:
    args: tuple[str, ...]
    figures: tuple[str, ...]  # regular expressions, each matching a line of the output


SMOKES: dict[str, Smoke] = {
    "backfill.py": Smoke(
        ("--sizes", "20", "--breakdown"),
        (
            rf"^\s+20 articles: +{NUMBER} s +{NUMBER}/s .* peak RSS {NUMBER} MiB",
            rf"^\s+{NUMBER} checks recorded per transaction$",
        ),
    ),
    "classify.py": Smoke(
        (),
        (
            rf"^dev\.jsonl: {NUMBER} articles/s \(CPU time\)$",
            rf"^dev\.jsonl +33 articles  relevance P {NUMBER} R {NUMBER} F1 {NUMBER}  "
            rf"negatives flagged \d+/\d+  hard \d+/\d+  topics P {NUMBER} R {NUMBER} F1 {NUMBER}$",
        ),
    ),
    "daemon.py": Smoke(
        ("--articles", "20", "--rounds", "1", "--repeat", "1", "--edits", "2"),
        (
            r"^    requests by kind and status: +article 304: 20, ",
            r"^    requests by kind and status: +article 200: 2, article 304: 18, ",
            r"^    connections opened: +\d+$",
            rf"^    CPU per re-check: +-?{NUMBER} ms$",
            r"^    changes stored: +2$",
            rf"^  {NUMBER}  \(",  # database round trips per check
            rf"^  urlwatch: +-?{NUMBER} / -?{NUMBER} / -?{NUMBER} ms$",
            rf"^  latency min / median / max: +{NUMBER} / {NUMBER} / {NUMBER} s$",
        ),
    ),
    "diff.py": Smoke(
        ("--diffs", "20"),
        (
            rf"^warm: 20 diff in {NUMBER} s, {NUMBER}/s, {NUMBER} ms each$",
            rf"^cold: 20 diff in {NUMBER} s, {NUMBER}/s, {NUMBER} ms each$",
        ),
    ),
    "extract.py": Smoke(
        ("--repeat", "1"),
        (
            rf"^cphpost +p50 +{NUMBER} ms +p95 +{NUMBER} ms +\(\d+ calls\)$",
            rf"^ratio p50 +{NUMBER} ",
        ),
    ),
    "web.py": Smoke(
        ("--versions", "60", "--per-article", "3", "--requests", "3"),
        (
            r"^built 20 articles, 60 versions in ",
            rf"^healthz \(floor\)( +{NUMBER}){{4}}$",
            rf"^/( +{NUMBER}){{4}}$",
            rf"^/ last page( +{NUMBER}){{4}}$",
            rf"^article \(diff\)( +{NUMBER}){{4}}$",
            rf"^search( +{NUMBER}){{4}}$",
            rf"^search 2 words( +{NUMBER}){{4}}$",
            r"^target (met|missed): p95 ",
        ),
    ),
    "scale.py": Smoke(
        ("--articles", "20", "--workers", "1", "--rounds", "1"),
        (
            rf"^ +1 +{NUMBER} +{NUMBER} +1\.00x +{NUMBER}  \[20\]$",
            rf"^304, rate limit off( +{NUMBER}){{7}}$",
            rf"^304, shared rate limit( +{NUMBER}){{7}}$",
        ),
    ),
    "store.py": Smoke(
        ("--articles", "30"),
        (
            rf"^store 30 new versions: +{NUMBER} s +\({NUMBER}/s\)$",
            rf"^re-check 30 unchanged \(304\): +{NUMBER} s +\({NUMBER}/s\)$",
        ),
    ),
}


def test_every_bench_has_a_smoke_run() -> None:
    assert sorted(p.name for p in BENCH.glob("*.py")) == sorted(SMOKES)


TARGET_MISSED = 3  # bench/extract.py's exit code for a missed target


def _run(name: str) -> str:
    result = subprocess.run(
        [sys.executable, str(BENCH / name), *SMOKES[name].args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    # 3: the bench ran and printed its figures but missed a speed target, which on a loaded
    # machine says nothing of the code; a crash (traceback, exit 1) or anything else fails
    assert result.returncode in (0, TARGET_MISSED), (
        f"{name} exited {result.returncode}:\n{result.stderr[-4000:]}"
    )
    return result.stdout


def _assert_figures(name: str, out: str) -> None:
    missing = [f for f in SMOKES[name].figures if not re.search(f, out, re.MULTILINE)]
    assert not missing, f"{name} did not print {missing}; it printed:\n{out}"


@pytest.mark.parametrize(
    "name", [n for n in SMOKES if n not in {"backfill.py", "scale.py"}], ids=lambda n: n
)
def test_a_bench_prints_its_figures_at_a_tiny_size(name: str) -> None:
    _assert_figures(name, _run(name))


def test_the_backfill_bench_times_every_stage() -> None:
    out = _run("backfill.py")
    _assert_figures("backfill.py", out)
    stages = dict(
        (stage, float(ms)) for ms, stage in re.findall(r"^ +([\d.]+) ms  (.+)$", out, re.MULTILINE)
    )
    # the stages the backfill's Timings hook reports
    assert {"plan_batch", "prepare inline (extract, classify)", "record: batches"} <= set(stages)
    # a stage at 0 is a wrapper on a name the backfill no longer calls
    assert [stage for stage, ms in stages.items() if ms <= 0] == [], out


@pytest.mark.postgres
def test_the_scale_bench_counts_round_trips_by_stage() -> None:
    require_pg()
    out = _run("scale.py")
    _assert_figures("scale.py", out)
    header = re.search(r"^ +claim +renew +rate limit +record +health +other +total$", out, re.M)
    assert header, out
    for label in ("304, rate limit off", "200 unchanged", "304, shared rate limit"):
        row = re.search(rf"^{label}((?: +[\d.]+){{7}})$", out, re.MULTILINE)
        assert row, f"no round trips for {label!r}:\n{out}"
        claim, renew, limit, record, _health, _other, total = map(float, row.group(1).split())
        # (bench/scale.py refuses to patch a name the daemon no longer has; a claim just
        # taken is not renewed, and with the shared limit the renewal is the slot's statement)
        assert claim > 0 and renew >= 0 and record > 0 and total > 0, row.group(0)
        assert (limit > 0) == ("shared rate limit" in label), row.group(0)
