# Sourced by the store benchmarks: where the store is (ALLOT_DB) and who changes it (ALLOT_USER).
# DB=postgres://… puts it in schema allot_bench of that database (emptied by `fresh_store`);
# otherwise it is a SQLite file in $WORK.
if [[ "${DB:-}" == postgres* ]]; then
  SCHEMA=allot_bench
  export ALLOT_DB="$DB?options=-csearch_path%3D$SCHEMA"
  BACKEND=postgres
else
  export ALLOT_DB="$WORK/allot.db"
  BACKEND=sqlite
fi
export ALLOT_USER=bench
fresh_store() {
  if [[ $BACKEND == postgres ]]; then psql "$DB" -qc "SET client_min_messages = warning; DROP SCHEMA IF EXISTS $SCHEMA CASCADE; CREATE SCHEMA $SCHEMA" >/dev/null; fi
}
