#!/usr/bin/env bash
# The workspace's pages on a big store (issue #16): server time of each page a salesperson opens,
# for an employee who holds many clients. Run on the store bench/store.sh built:
#   bench/store.sh                       # builds /tmp/allot-store-bench/allot.db (1M clients)
#   bench/pages.sh [STORE] [EMPLOYEE]    # default: that store (copied), dealer0
# Each page is fetched RUNS times (default 7) with curl on loopback; the table shows the fastest,
# the median and the slowest time to the last byte.
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=${1:-/tmp/allot-store-bench/allot.db}
EMP=${2:-dealer0}
RUNS=${RUNS:-7}
PORT=${PORT:-18091}
A="${ALLOT_BIN:-$PWD/target/release/allot}"
[[ -n "${ALLOT_BIN:-}" ]] || cargo build --release --quiet
WORK=$(mktemp -d)
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
if [[ "$SRC" == postgres* ]]; then
  export ALLOT_DB="$SRC"
else
  cp "$SRC" "$WORK/allot.db"
  export ALLOT_DB="$WORK/allot.db"
fi
"$A" log >"$WORK/log.txt"   # opens (and, for an older store, migrates) the copy first
LOGIN="bench-$(date +%s)"
printf '%s\n' 'пароль-для-замеров' | "$A" user add "$LOGIN" --role employee --employee "$EMP" >"$WORK/user.txt"
"$A" serve --listen "127.0.0.1:$PORT" >"$WORK/serve.log" 2>&1 &
SERVER=$!
for _ in $(seq 100); do curl -s -o "$WORK/x" "http://127.0.0.1:$PORT/sign-in" && break; sleep 0.1; done
J="$WORK/cookies"
csrf=$(curl -s -c "$J" "http://127.0.0.1:$PORT/sign-in" | grep -o 'name="csrf" value="[^"]*"' | head -1 | sed 's/.*value="//; s/"$//')
curl -s -b "$J" -c "$J" -o "$WORK/x" --data-urlencode "login=$LOGIN" --data-urlencode "password=пароль-для-замеров" \
  --data-urlencode "csrf=$csrf" "http://127.0.0.1:$PORT/sign-in"
time_page() {
  local path=$1 t=()
  for _ in $(seq "$RUNS"); do
    t+=("$(curl -s -b "$J" -o "$WORK/page" -w '%{http_code} %{time_total}' "http://127.0.0.1:$PORT$path")")
  done
  printf '%s\n' "${t[@]}" | python3 -c "
import sys
rows=[l.split() for l in sys.stdin if l.strip()]
codes={r[0] for r in rows}
ms=sorted(float(r[1])*1000 for r in rows)
print(f'| \`$path\` | {\"/\".join(sorted(codes))} | {ms[0]:.0f} | {ms[len(ms)//2]:.0f} | {ms[-1]:.0f} |')"
}
echo "employee $EMP, $RUNS runs per page (ms, time to the last byte)"
echo "| page | status | fastest | median | slowest |"
echo "|---|---|---:|---:|---:|"
time_page "/home"
time_page "/my-clients"
time_page "/my-clients?page=1000"
time_page "/my-clients?sort=since"
time_page "/my-clients?sort=role&page=2000"
time_page "/my-clients?q=c0050"
time_page "/my-clients?q=%D0%BA%D0%BB%D0%B8%D0%B5%D0%BD%D1%82%201234"   # клиент 1234
time_page "/my-clients?q=%D0%94%D0%98%D0%9B"                            # ДИЛ (no client)
# The head of sales' Team page: every employee's load per role over the whole book.
printf '%s\n' 'пароль-для-замеров' | "$A" user add "$LOGIN-boss" --role admin >"$WORK/boss.txt"
BOSS="$WORK/boss-cookies"
csrf=$(curl -s -c "$BOSS" "http://127.0.0.1:$PORT/sign-in" | grep -o 'name="csrf" value="[^"]*"' | head -1 | sed 's/.*value="//; s/"$//')
curl -s -b "$BOSS" -c "$BOSS" -o "$WORK/x" --data-urlencode "login=$LOGIN-boss" --data-urlencode "password=пароль-для-замеров" \
  --data-urlencode "csrf=$csrf" "http://127.0.0.1:$PORT/sign-in"
J_EMP="$J"; J="$BOSS"
time_page "/team"
# The head of sales' screens (issue #17).
time_page "/routing"
time_page "/changes"
time_page "/schemes"
time_page "/contribution?from=2026-01-01&to=2026-03-31"
time_page "/plans"
time_page "/territories"
# Opening the rule builder makes the server read the store ahead for its checks (issue #17 §7):
# waited for, its time said, then the builder and the check are timed.
STARTED=$(date +%s.%N)
curl -s -b "$J" -o "$WORK/x" "http://127.0.0.1:$PORT/rules"
for _ in $(seq 1200); do
  curl -s "http://127.0.0.1:$PORT/metrics" | grep -q '^allot_draft_reads_total [1-9]' && break
  sleep 0.1
done
echo "the store read ahead for the rule builder's checks: $(python3 -c "print(f'{$(date +%s.%N) - $STARTED:.1f}')") s after the builder was opened" >&2
time_page "/rules"
# The live check of a scheme edit (issue #17 §7): the active scheme as the builder posts it.
curl -s -b "$J" "http://127.0.0.1:$PORT/rules" >"$WORK/rules.html"
python3 - "$WORK/rules.html" "$WORK/check.form" <<'PY'
import html, re, sys, urllib.parse
page = open(sys.argv[1], encoding="utf-8").read()
csrf = re.search(r'name="csrf" value="([^"]*)"', page).group(1)
toml = html.unescape(re.search(r'<textarea id="toml"[^>]*>(.*?)</textarea>', page, re.S).group(1))
open(sys.argv[2], "w").write(urllib.parse.urlencode({"csrf": csrf, "toml": toml + "\n"}))
PY
time_post() {
  local path=$1 form=$2 t=()
  for _ in $(seq "$RUNS"); do
    t+=("$(curl -s -b "$J" -o "$WORK/page" -w '%{http_code} %{time_total}' --data-binary "@$form" \
      -H 'content-type: application/x-www-form-urlencoded' "http://127.0.0.1:$PORT$path")")
  done
  printf '%s\n' "${t[@]}" | python3 -c "
import sys
rows=[l.split() for l in sys.stdin if l.strip()]
codes={r[0] for r in rows}
ms=sorted(float(r[1])*1000 for r in rows)
print(f'| POST \`$path\` | {\"/\".join(sorted(codes))} | {ms[0]:.0f} | {ms[len(ms)//2]:.0f} | {ms[-1]:.0f} |')"
}
time_post "/rules/check" "$WORK/check.form"
J="$J_EMP"
first=$(curl -s -b "$J" "http://127.0.0.1:$PORT/my-clients" | grep -o 'href="/clients/[^"#]*"' | head -1 | sed 's/href="//; s/"$//' || true)
time_page "$first"
