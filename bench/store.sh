#!/usr/bin/env bash
# The store's speed (issue #3), on SQLite (default) or PostgreSQL (DB=postgres://…):
#   import 1,000,000 clients; the first plan + apply (every link new); a re-import that moves
#   1% of the clients to another territory, then plan + apply of that 1%; `owners --at` for one
#   client (whole command, 20 runs); the store's size per million links.
# usage: bench/store.sh [N]          (N clients, default 1,000,000)
#        DB=postgres://postgres@127.0.0.1:5432/test bench/store.sh
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
WORK=${WORK:-/tmp/allot-store-bench}
# ALLOT_BIN=path runs another build (e.g. the one before a change) on the same data.
A="${ALLOT_BIN:-$PWD/target/release/allot}"
[[ -n "${ALLOT_BIN:-}" ]] || cargo build --release --quiet
rm -rf "$WORK"; mkdir -p "$WORK"
python3 bench/store_data.py "$N" "$WORK"
source bench/store_env.sh
fresh_store
cd "$WORK"
t() { local s e; s=$(date +%s.%N); "$@" >/dev/null; e=$(date +%s.%N); printf '%.2f' "$(echo "$e - $s" | bc)"; }
echo "backend $BACKEND, $N clients"
"$A" import employees employees.csv >/dev/null
echo "import clients:            $(t "$A" import clients clients.csv) s"
# For scale: a raw bulk load of the same file (no checks, no types, no history), same backend.
if [[ $BACKEND == sqlite ]]; then
  echo "  raw: sqlite3 .import + unique index on id: $(t sqlite3 raw.db 'PRAGMA journal_mode=WAL' '.mode csv' '.import clients.csv clients' 'CREATE UNIQUE INDEX c_id ON clients(id)') s"
else
  psql "$DB" -qc "CREATE TABLE $SCHEMA.raw_clients (id text PRIMARY KEY, name text, region text, significance text, potential bigint)"
  echo "  raw: psql \\copy into a keyed table:        $(t psql "$DB" -qc "\\copy $SCHEMA.raw_clients FROM 'clients.csv' CSV HEADER") s"
fi
echo "first plan (all new):      $(t "$A" plan --scheme scheme.toml --date 2026-01-01 -o first.json) s"
echo "first apply:               $(t "$A" apply first.json) s"
echo "re-import 1% moved:        $(t "$A" import clients moved.csv) s"
p=$(t "$A" plan --date 2026-02-01 -o moved.json)
a=$(t "$A" apply moved.json)
echo "plan 1% moved:             $p s"
echo "apply 1% moved:            $a s"
echo "plan + apply 1%:           $(printf '%.2f' "$(echo "$p + $a" | bc)") s ($(python3 -c "import json;p=json.load(open('moved.json'));print(len(p['opens']), 'links opened,', len(p['closes']), 'closed')"))"
ONE=$(printf "c%08d" $(( N / 2 + 7 )))
if command -v hyperfine >/dev/null; then
  hyperfine -N --warmup 3 --runs 20 --export-json owners.json "$A owners --at 2026-01-15 --client $ONE" >/dev/null
  echo "owners --at, one client:   $(python3 -c "import json;r=json.load(open('owners.json'))['results'][0];print(f\"{r['mean']*1000:.1f} ms mean, {r['max']*1000:.1f} ms max (whole command, 20 runs)\")")"
else
  s=$(date +%s%N); for _ in $(seq 20); do "$A" owners --at 2026-01-15 --client $ONE >/dev/null; done; e=$(date +%s%N)
  echo "owners --at, one client:   $(( (e - s) / 20000000 )) ms mean (whole command, 20 runs)"
fi
# The query alone, in the process (the `owners_at` span's own time), without start-up and connecting.
q=$(for _ in $(seq 20); do ALLOT_LOG=allot_app=info NO_COLOR=1 "$A" owners --at 2026-01-15 --client $ONE 2>&1 >/dev/null | sed 's/\x1b\[[0-9;]*m//g' | grep -o 'time.busy=[0-9.]*[µm]s'; done | python3 -c "
import sys
v=[float(l.strip().split('=')[1][:-2])*(1 if l.strip().endswith('ms') else 0.001) for l in sys.stdin if l.strip()]
print(f'{sum(v)/len(v):.2f} ms mean, {max(v):.2f} ms max')")
echo "owners --at, query alone:  $q (20 runs)"
echo "owners --at, whole book:   $(t "$A" owners --at 2026-01-15 -o book.csv) s ($(($(wc -l < book.csv) - 1)) links)"
LINKS=$(( $(wc -l < book.csv) - 1 + $(python3 -c "import json;print(len(json.load(open('moved.json'))['opens']))") ))
if [[ $BACKEND == sqlite ]]; then
  "$A" log >/dev/null  # the WAL is checkpointed when the last connection closes
  BYTES=$(stat -c %s "$WORK/allot.db")
else
  BYTES=$(psql "$DB" -Atc "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = '$SCHEMA' AND c.relkind = 'r' AND c.relname <> 'raw_clients'")
fi
echo "store size:                $((BYTES / 1048576)) MB for $N clients and $LINKS links"
LB=$(python3 - "$WORK" "$BACKEND" "${DB:-}" "${SCHEMA:-}" <<'PY'
import os, subprocess, sys
work, backend, db, schema = sys.argv[1:5]
if backend == "sqlite":
    import sqlite3
    c = sqlite3.connect(os.path.join(work, "allot.db"))
    try:
        rows = c.execute("SELECT name, sum(pgsize) FROM dbstat WHERE name LIKE 'links%' OR name IN (SELECT name FROM sqlite_master WHERE tbl_name = 'links') GROUP BY name").fetchall()
        total = sum(r[1] for r in rows)
    except sqlite3.OperationalError:
        total = 0
    n = c.execute("SELECT count(*) FROM links").fetchone()[0]
else:
    q = f"SELECT pg_total_relation_size('{schema}.links'), (SELECT count(*) FROM {schema}.links)"
    total, n = map(int, subprocess.check_output(["psql", db, "-Atc", q], text=True).strip().split("|"))
print(f"{total / n * 1e6 / 1048576:.0f} MB per million links (table and indexes)" if total else "per-link size: dbstat not available")
PY
)
echo "links:                     $LB"
