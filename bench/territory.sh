#!/usr/bin/env bash
# `allot balance` on data/territory's instances (issue #5), with the measures of ANCHORS.md there:
# the table of BENCHMARKS.md §5. comp_w is shown relative to scikit-learn's
# KMeans(sample_weight=potential) on the same clients, recomputed by bench/territory_baseline.py.
#
#   bench/territory.sh                 # ~1 min, after a release build
#
# Needs a Python with numpy and scikit-learn (from PyPI; nothing else is downloaded):
#   python3 -m venv /tmp/territory-venv && /tmp/territory-venv/bin/pip install numpy scikit-learn
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-/tmp/territory-venv/bin/python}
OUT=${OUT:-/tmp/allot-territory}
D=data/territory
mkdir -p "$OUT"
rm -f "$OUT"/*.json
cargo build --release -p allot-cli

N=0
run() {  # name clients k args...
  local name=$1 clients=$2 k=$3; shift 3
  N=$((N + 1))
  local tag; tag=$N-$(echo "$name" | tr -c 'a-z0-9' '-')
  /usr/bin/time -f "%e %M" -o "$OUT/$tag.time" target/release/allot balance --clients "$clients" -k "$k" "$@" -q \
    -o "$OUT/$tag.csv" --json "$OUT/$tag.figures.json"
  read -r secs kb < "$OUT/$tag.time"
  printf '{"name":"%s","clients":"%s","k":%s,"design":"%s","figures":"%s","time":"%s","kb":"%s"}\n' \
    "$name" "$clients" "$k" "$OUT/$tag.csv" "$OUT/$tag.figures.json" "$secs" "$kb" > "$OUT/$tag.json"
}

run "ru15k k = 7, design, contiguous" $D/ru_cities15k.csv 7 --contiguous
run "ru15k k = 7, re-balance" $D/ru_cities15k.csv 7 --current $D/ru15k_k7_current.csv
run "ru15k k = 7, re-balance, contiguous" $D/ru_cities15k.csv 7 --contiguous --current $D/ru15k_k7_current.csv
run "ru15k k = 20, design, contiguous" $D/ru_cities15k.csv 20 --contiguous
run "synth100k k = 100, design, contiguous" $D/synth_ru_100k.csv 100 --contiguous
run "synth100k k = 100, re-balance, contiguous" $D/synth_ru_100k.csv 100 --contiguous --current $D/synth100k_k100_current.csv

echo "| instance | pot dev | pieces | p-med/LB | comp_w | moved pot (bound) | time | peak MB |"
echo "|---|---|---:|---:|---:|---:|---:|---:|"
"$PY" bench/territory_baseline.py $(ls "$OUT"/*[!s].json | sort -V)
