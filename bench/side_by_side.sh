#!/usr/bin/env bash
# allot and what a user would run instead (polars, DuckDB), on the same generated data, one after
# the other in one sitting, so that the ratios compare like with like. Results: $OUT/*.jsonl and the
# table printed by bench/report.py (paste it into BENCHMARKS.md).
#
#   bench/side_by_side.sh            # 1M and 10M clients × 10, 1,000, 10,000 rules (~15 min)
#   SIZES="1000000" bench/side_by_side.sh
#
# Needs the anchor harness (default ../shared/bench/assign) and a Python with its requirements:
#   python3 -m venv /tmp/assign-venv && /tmp/assign-venv/bin/pip install -r ../shared/bench/assign/requirements.txt
set -euo pipefail
cd "$(dirname "$0")/.."
ANCHORS=${ANCHORS:-../shared/bench/assign}
PY=${PY:-/tmp/assign-venv/bin/python}
SIZES=${SIZES:-"1000000 10000000"}
RULES=${RULES:-"10 1000 10000"}
OUT=${OUT:-/tmp/allot-side-by-side}
export ASSIGN_DATA=${ASSIGN_DATA:-/tmp/assign-data}
export ASSIGN_RESULTS=$OUT
mkdir -p "$OUT"
rm -f "$OUT"/*.jsonl

for n in $SIZES; do
  [ -f "$ASSIGN_DATA/clients_$n.parquet" ] || (cd "$ANCHORS" && "$PY" gen_data.py --clients "$n" --rules $RULES)
done
for r in $RULES; do
  [ -f "$ASSIGN_DATA/rules_$r.json" ] || (cd "$ANCHORS" && "$PY" gen_data.py --clients --rules "$r")
done
"$PY" bench/prepare.py --data "$ASSIGN_DATA" --clients $SIZES --rules $RULES
cargo build --release -p allot-cli

for n in $SIZES; do
  for r in $RULES; do  # one process per rule set, so that each peak is its own
    target/release/allot bench --data "$ASSIGN_DATA/allot" --clients "$n" --rules "$r" --repeat 5 | tee -a "$OUT/allot.jsonl"
  done
  # The anchors' fastest variants per results.md: CASE for 10 rules, signatures beyond.
  (cd "$ANCHORS" && "$PY" bench_frames.py --lib polars --n "$n" --r 10 --variants case --stages match full)
  (cd "$ANCHORS" && "$PY" bench_frames.py --lib polars --n "$n" --r 1000 10000 --variants sig --stages match full exact)
  (cd "$ANCHORS" && "$PY" bench_sql.py --engine duckdb --n "$n" --r 10 --variants case --stages match full)
  (cd "$ANCHORS" && "$PY" bench_sql.py --engine duckdb --n "$n" --r 1000 10000 --variants sig --stages match full)
done
"$PY" bench/report.py "$OUT"
