#!/usr/bin/env bash
# What checking playback tokens costs: HLS playlist + segment requests per
# second under wrk (1,000 connections) with sign-in required and every
# request carrying a playback token (signature, lesson and revocation
# epochs checked), against the same server with sign-in off, alternating
# in one run; and, beside it, the same with 10,000 entries in the
# revocation list, for what the revocation check costs. Prints all three.
#
#   benches/token_check.sh [SECONDS]   (needs: cargo build --release; wrk)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
for tool in wrk curl; do command -v $tool >/dev/null || { echo "$tool missing (apt-get install wrk)" >&2; exit 1; }; done
[ -x target/release/classcast ] || { echo "build first: cargo build --release" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)"

work=$(mktemp -d)
free_port() { python3 -c "import socket; s=socket.socket(socket.AF_INET, socket.$1); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])"; }
db="classcast_bench_$$"
export DATABASE_URL="postgres://classcast:classcast@127.0.0.1:5432/$db"
demo=00000000-0000-4000-8000-0000000000de
server=""
stop() { [ -n "$server" ] && { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; }; server=""; }
cleanup() {
  stop
  psql "postgres://classcast:classcast@127.0.0.1:5432/postgres" -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# Starts the server with auth on or off; sets $http and $query (the
# ?token=… every request carries, empty with auth off). With auth on it
# proves that sign-in is really required: no token, 401; else both runs
# would compare no checking with no checking.
start() {
  http=$(free_port SOCK_STREAM)
  CLASSCAST_HTTP__ADDR="127.0.0.1:$http" CLASSCAST_INGEST__RTMP_ADDR="127.0.0.1:$(free_port SOCK_STREAM)" \
  CLASSCAST_INGEST__SRT_ADDR="127.0.0.1:$(free_port SOCK_DGRAM)" CLASSCAST_MEDIA__DIR="$work/media" \
  CLASSCAST_LIVE__PLAYLIST_SEGMENTS=100 CLASSCAST_AUTH__ENABLED="$1" RUST_LOG=warn \
    target/release/classcast serve >> "$work/server.log" 2>&1 &
  server=$!
  for _ in $(seq 1 60); do curl -sf "http://127.0.0.1:$http/healthz" >/dev/null && break; sleep 0.5; done
  query=""
  base="http://127.0.0.1:$http/live/$demo/source"
  if [ "$1" = true ]; then
    curl -sf -c "$work/jar" -H 'content-type: application/json' \
      -d '{"username":"bench","password":"bench-password-123"}' "http://127.0.0.1:$http/api/session" >/dev/null
  fi
  # A live token is bound to the lesson live when it is issued: ask once
  # the demo classroom is live.
  for _ in $(seq 1 60); do
    if [ "$1" = true ]; then
      token=$(curl -sf -b "$work/jar" "http://127.0.0.1:$http/api/classrooms/$demo/playback" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
      query="?token=$token"
    fi
    n=$(curl -sf "$base/index.m3u8$query" | grep -c '\.m4s' || true)
    [ "${n:-0}" -ge 2 ] && break; sleep 1
  done
  segment=$(curl -sf "$base/index.m3u8$query" | grep '\.m4s' | tail -1 | cut -d'?' -f1)
  if [ "$1" = true ]; then
    [ -n "$query" ] || { echo "no playback token: is sign-in on?" >&2; exit 1; }
    code=$(curl -s -o /dev/null -w '%{http_code}' "$base/$segment")
    [ "$code" = 401 ] || { echo "a segment without a token answered $code, not 401: sign-in is off" >&2; exit 1; }
  fi
  cat > "$work/hls.lua" <<LUA
local n = 0
request = function()
  n = n + 1
  if n % 2 == 0 then return wrk.format(nil, "/live/$demo/source/index.m3u8$query") end
  return wrk.format(nil, "/live/$demo/source/$segment$query")
end
LUA
}

rps() {
  # Every answer must be a 200, and every request answered: a refused or
  # dropped request would be cheap and flatter the number.
  out=$(wrk -t2 -c1000 -d"${seconds}s" -s "$work/hls.lua" "http://127.0.0.1:$http")
  if echo "$out" | grep -q "Non-2xx"; then echo "$out" >&2; echo "requests were refused" >&2; exit 1; fi
  if echo "$out" | grep -q "Socket errors"; then echo "$out" >&2; echo "socket errors or timeouts" >&2; exit 1; fi
  echo "$out" | awk '/Requests\/sec/ {print $2}'
}

# 10,000 revoked viewers and classrooms: what a large revocation list costs.
revoke_many() {
  psql "$DATABASE_URL" -qc "INSERT INTO playback_revocations (subject, kind)
    SELECT gen_random_uuid(), 'user' FROM generate_series(1, 10000)" >/dev/null
}
forget_revocations() { psql "$DATABASE_URL" -qc "DELETE FROM playback_revocations" >/dev/null; }

# The admin exists before the first start (the database is made by it).
start false; stop
echo "bench-password-123" | target/release/classcast admin create --username bench --password-stdin >/dev/null

echo "wrk -t2 -c1000 -d${seconds}s, live playlist and segment alternating; runs alternate"
on=(); off=(); rev=()
for _ in 1 2; do
  forget_revocations
  start true;  on+=("$(rps)");  stop
  start false; off+=("$(rps)"); stop
  revoke_many
  start true;  rev+=("$(rps)"); stop
done
python3 - "${on[@]}" "${off[@]}" "${rev[@]}" <<'PY'
import sys
on1, on2, off1, off2, rev1, rev2 = map(float, sys.argv[1:])
on, off, rev = max(on1, on2), max(off1, off2), max(rev1, rev2)
print(f"tokens checked:              {on1:.0f} / {on2:.0f} req/s (best {on:.0f})")
print(f"tokens checked, 10k revoked: {rev1:.0f} / {rev2:.0f} req/s (best {rev:.0f})")
print(f"no checking:                 {off1:.0f} / {off2:.0f} req/s (best {off:.0f})")
print(f"cost of checking: {(1 - on / off) * 100:.1f}%, with 10k revocations {(1 - rev / off) * 100:.1f}% (target at most 10%)")
PY
