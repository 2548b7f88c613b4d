#!/usr/bin/env bash
# Routing throughput over HTTP (issue #4): `allot serve` on SQLite (default) or PostgreSQL
# (DB=postgres://…), a pool of three with weights 3:2:1, and wrk on loopback posting one new lead
# per request (a unique id and Idempotency-Key each), 64 connections. Every answered route is
# durable before its answer (group commit); the script checks the store holds exactly as many
# routed items as wrk got answers.
# usage: bench/serve.sh [SECONDS] [CONNECTIONS]   (HAMMER=8: eight clients reading explain/report meanwhile)
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-20}
CONNS=${2:-64}
WORK=${WORK:-/tmp/allot-serve-bench}
PORT=${PORT:-18181}
# ALLOT_BIN=path: measure that binary (e.g. an older build, side by side) instead of building this one.
A="${ALLOT_BIN:-$PWD/target/release/allot}"
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)"; exit 1; }
[[ -n "${ALLOT_BIN:-}" ]] || cargo build --release --quiet
rm -rf "$WORK"; mkdir -p "$WORK"; cd "$WORK"
if [[ "${DB:-}" == postgres* ]]; then
  psql "$DB" -qc "DROP SCHEMA IF EXISTS allot_serve_bench CASCADE; CREATE SCHEMA allot_serve_bench" >/dev/null
  export ALLOT_DB="$DB?options=-csearch_path%3Dallot_serve_bench"
else
  export ALLOT_DB="$WORK/allot.db"
fi
mkdir site
printf 'id,name,teams\nanna,Анна,desk\nboris,Борис,desk\nvera,Вера,desk\n' > site/employees.csv
printf 'id,source,potential\n' > site/clients.csv
cat > site/scheme.toml <<'TOML'
[columns]
source = "text"
potential = "number"

[[rules]]
id = "desk"
role = "sales"
team = "desk"
strategy = "balance-count"
weights = { anna = 3, boris = 2, vera = 1 }
TOML
"$A" sync --dir site --date 2026-01-01 >/dev/null
TOKEN=$("$A" token create --scope router --label bench 2>/dev/null)
cat > post.lua <<LUA
counter = 0
local thread_id = 0
function setup(thread) thread:set("id", thread_id); thread_id = thread_id + 1 end
function request()
  counter = counter + 1
  local key = "b" .. id .. "-" .. counter
  local body = '{"id":"' .. key .. '","attributes":{"source":"web","potential":' .. (counter % 1000) .. '}}'
  return wrk.format("POST", "/v1/route", {["Authorization"] = "Bearer $TOKEN", ["Content-Type"] = "application/json", ["Idempotency-Key"] = key}, body)
end
done = function(summary, latency, requests)
  io.write(string.format("wrk: %d requests, %d errors (status %d, timeout %d)\n", summary.requests, summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout, summary.errors.status, summary.errors.timeout))
  io.write(string.format("latency ms: p50 %.2f  p90 %.2f  p99 %.2f  max %.2f\n", latency:percentile(50)/1000, latency:percentile(90)/1000, latency:percentile(99)/1000, latency.max/1000))
end
LUA
"$A" serve --listen 127.0.0.1:$PORT ${SERVE_ARGS:-} 2>serve.log &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 50); do curl -sf http://127.0.0.1:$PORT/health >/dev/null && break; sleep 0.1; done
# HAMMER=N: N clients meanwhile read the whole book's way without pause (explain of a routed
# lead, then the contribution report), to show what such reads leave of routing (issue #13).
HAMMERS=()
if [[ "${HAMMER:-0}" -gt 0 ]]; then
  ADMIN=$("$A" token create --scope admin --label hammer 2>/dev/null)
  cat > read.lua <<LUA
n = 0
function request()
  n = n + 1
  local path = (n % 2 == 0) and "/v1/report?from=2026-01-01" or "/v1/clients/b0-1/explain"
  return wrk.format("GET", path, {["Authorization"] = "Bearer $ADMIN"})
end
LUA
  wrk -t1 -c"$HAMMER" -d"${SECS}s" -s read.lua http://127.0.0.1:$PORT/ > hammer.log 2>&1 &
  HAMMERS+=($!)
  trap 'kill $SERVER ${HAMMERS[*]} 2>/dev/null || true' EXIT
fi
# wrk on one thread; its own CPU time is reported next to the result.
/usr/bin/time -f "wrk cpu: %U s user + %S s system over %e s (%P of one core)" wrk -t1 -c"$CONNS" -d"${SECS}s" --latency -s post.lua http://127.0.0.1:$PORT/v1/route 2>&1 | grep -E "Requests/sec|wrk:|latency ms|wrk cpu|Non-2xx"
if [[ ${#HAMMERS[@]} -gt 0 ]]; then
  wait "${HAMMERS[@]}" 2>/dev/null || true
  echo "meanwhile $HAMMER clients read explain and report: $(grep -E 'requests in' hammer.log | xargs)"
fi
kill -INT $SERVER; wait $SERVER 2>/dev/null || true
trap - EXIT
if [[ "${DB:-}" == postgres* ]]; then
  N=$(psql "$DB" -Atc "SELECT count(*) FROM allot_serve_bench.routes")
else
  N=$(sqlite3 "$WORK/allot.db" "SELECT count(*) FROM routes")
fi
echo "routed items in the store: $N"
