#!/usr/bin/env bash
# The credit command's speed from the store (issue #6), on SQLite (default) or PostgreSQL
# (DB=postgres://…): N clients distributed on 2026-01-01, 1% of them moved on 2026-04-01 (their
# sales role changes hands), M sales over 2026 imported (5% of them lost), then `allot credit`
# (summary only, and with the per-part CSV) and `allot report` for the year, best of 3 with the
# peak resident memory of that run (/usr/bin/time).
# With YEARS=10 the sales spread over the ten years up to 2026's end, and the last quarter of
# 2026 is credited and reported too (the sale dates' index reads that quarter's deals only).
# usage: bench/credit.sh [N] [M]          (default 100,000 clients, 1,000,000 sales)
#        YEARS=10 bench/credit.sh 100000 10000000
#        REUSE=1 bench/credit.sh N M      (time the commands again on the store already built)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000}
M=${2:-1000000}
WORK=${WORK:-/tmp/allot-credit-bench}
# ALLOT_BIN=path runs another build (e.g. the one before a change) on the same data.
A="${ALLOT_BIN:-$PWD/target/release/allot}"
[[ -n "${ALLOT_BIN:-}" ]] || cargo build --release --quiet
source bench/store_env.sh
# One run: seconds and peak MB.
once() {
  local s e
  s=$(date +%s.%N)
  /usr/bin/time -f %M -o "$WORK/rss" "$@" >/dev/null
  e=$(date +%s.%N)
  echo "$(echo "$e - $s" | bc) $(( $(cat "$WORK/rss") / 1024 ))"
}
best() { for _ in 1 2 3; do once "$@"; done | sort -n | head -1 | awk '{printf "%6.2f s %6d MB", $1, $2}'; }
echo "backend $BACKEND, $N clients, $M sales over ${YEARS:-1} year(s)"
if [[ "${REUSE:-}" != 1 ]]; then
  rm -rf "$WORK"; mkdir -p "$WORK"
  python3 bench/store_data.py "$N" "$WORK"
  python3 bench/credit_data.py "$N" "$M" "$WORK" "${YEARS:-1}"
  fresh_store
  cd "$WORK"
  "$A" import employees employees.csv >/dev/null
  "$A" import clients clients.csv >/dev/null
  "$A" plan --scheme credit.toml --date 2026-01-01 -o first.json >/dev/null
  "$A" apply first.json >/dev/null
  "$A" import clients moved.csv >/dev/null
  "$A" plan --date 2026-04-01 -o moved.json >/dev/null
  "$A" apply moved.json >/dev/null
  echo "import deals:            $(once "$A" import deals deals.csv | awk '{printf "%6.2f s %6d MB", $1, $2}')"
fi
cd "$WORK"
Y=(--from 2026-01-01 --to 2026-12-31)
echo "credit (summary):        $(best "$A" credit "${Y[@]}")"
echo "credit -o credit.csv:    $(best "$A" credit "${Y[@]}" -o credit.csv)  ($(($(wc -l < credit.csv) - 1)) credited parts, $(( $(stat -c %s credit.csv) / 1000000 )) MB)"
echo "report -o report.csv:    $(best "$A" report "${Y[@]}" -o report.csv)"
Q=(--from 2026-10-01 --to 2026-12-31)
echo "credit, one quarter:     $(best "$A" credit "${Q[@]}")"
echo "report, one quarter:     $(best "$A" report "${Q[@]}" -o report-q.csv)"
