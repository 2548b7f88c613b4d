#!/usr/bin/env bash
# The whole store at scale (issue #19): N clients (default 10,000,000; the store benchmark's scheme,
# so 2N links), SQLite: import, the first plan and apply, a re-import that moves 1%, and the plan of
# that 1% with each span's time (ALLOT_LOG=info). Each command once, with its peak resident memory.
# Needs ~25 GB of disk and, at 10M, ~17 GB of memory for the first plan.
# usage: bench/store_big.sh [N]      (ALLOT_BIN=path runs another build)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-10000000}
WORK=${WORK:-/tmp/allot-store-big}
A="${ALLOT_BIN:-$PWD/target/release/allot}"
[[ -n "${ALLOT_BIN:-}" ]] || cargo build --release --quiet
rm -rf "$WORK"; mkdir -p "$WORK"
python3 bench/store_data.py "$N" "$WORK"
cd "$WORK"
export ALLOT_DB="$WORK/allot.db" ALLOT_USER=bench
timed() { local what=$1; shift; /usr/bin/time -f "$what: %e s, %M KB peak" "$@" >>out.txt 2>>time.txt; tail -1 time.txt; }
"$A" import employees employees.csv >out.txt
timed "import clients" "$A" import clients clients.csv
timed "first plan" "$A" plan --scheme scheme.toml --date 2026-01-01 -o first.json.gz
timed "first apply" "$A" apply first.json.gz
timed "re-import 1% moved" "$A" import clients moved.csv
ALLOT_LOG=info NO_COLOR=1 /usr/bin/time -f "plan 1% moved: %e s, %M KB peak" "$A" plan --date 2026-02-01 -o moved.json >>out.txt 2>spans.txt
tail -1 spans.txt
grep -o 'INFO .*close time.busy=[0-9.]*[µm]*s' spans.txt | sed 's/ allot_[a-z_:]*: close / /'
timed "apply 1% moved" "$A" apply moved.json
