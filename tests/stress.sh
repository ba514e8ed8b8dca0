#!/usr/bin/env bash
# Run a pytest selection while a CPU hog keeps every core busy: the proof that the tests wait
# for events, not for a quiet machine.
#
#   tests/stress.sh [--runs N] [--hogs N] -- [pytest arguments...]
#   tests/stress.sh --runs 3 -- tests/scale/test_coordination.py -x
#
# One `yes > /dev/null` per core (or --hogs N) runs beside pytest; they are stopped by their
# process ids when this script exits, however it exits. Runs stop at the first failing one;
# the exit code is pytest's.
set -euo pipefail

runs=1
hogs=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)
while [[ $# -gt 0 ]]; do
    case "$1" in
        --runs) runs="$2"; shift 2 ;;
        --hogs) hogs="$2"; shift 2 ;;
        --) shift; break ;;
        -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
        *) break ;;
    esac
done
if [[ $# -eq 0 ]]; then
    echo "usage: tests/stress.sh [--runs N] [--hogs N] -- PYTEST_ARGS..." >&2
    exit 2
fi

root="$(cd "$(dirname "$0")/.." && pwd)"
pytest="${PYTEST:-$root/.venv/bin/pytest}"
hog_pids=()

stop_hogs() {
    for pid in "${hog_pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${hog_pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    hog_pids=()
}
trap stop_hogs EXIT
trap 'exit 130' INT TERM

for _ in $(seq "$hogs"); do
    yes > /dev/null &
    hog_pids+=("$!")
done
echo "stress: $hogs CPU hog(s) running (pids ${hog_pids[*]}); $runs run(s) of: pytest $*"

cd "$root"
for run in $(seq "$runs"); do
    started=$(date +%s)
    status=0
    "$pytest" -p no:cacheprovider "$@" || status=$?
    echo "stress: run $run of $runs: exit $status after $(( $(date +%s) - started )) s"
    if [[ $status -ne 0 ]]; then
        exit "$status"
    fi
done
