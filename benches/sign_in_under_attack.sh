#!/usr/bin/env bash
# Sign-in under attack: 100 clients keep sending sign-ins for unknown
# accounts (each costs a full argon2 hash: the decoy), with the per-address
# limit lifted so that none is turned away before hashing. Meanwhile a real
# user signs in again and again. Prints the real user's sign-in latency
# (p50, p95), how the attack's requests were answered, and the server's
# resident memory at rest and at its peak.
#
#   benches/sign_in_under_attack.sh [SECONDS]   (needs: cargo build --release; wrk)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
for tool in wrk curl python3; do command -v $tool >/dev/null || { echo "$tool missing (apt-get install wrk)" >&2; exit 1; }; done
[ -x target/release/classcast ] || { echo "build first: cargo build --release" >&2; exit 1; }

work=$(mktemp -d)
free_port() { python3 -c "import socket; s=socket.socket(socket.AF_INET, socket.$1); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])"; }
db="classcast_bench_$$"
export DATABASE_URL="postgres://classcast:classcast@127.0.0.1:5432/$db"
http=$(free_port SOCK_STREAM)
server=""
cleanup() {
  [ -n "$server" ] && { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; }
  psql "postgres://classcast:classcast@127.0.0.1:5432/postgres" -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

target/release/classcast migrate >/dev/null
echo "bench-password-123" | target/release/classcast admin create --username bench --password-stdin >/dev/null
CLASSCAST_HTTP__ADDR="127.0.0.1:$http" CLASSCAST_INGEST__RTMP_ADDR="127.0.0.1:$(free_port SOCK_STREAM)" \
CLASSCAST_INGEST__SRT_ADDR="127.0.0.1:$(free_port SOCK_DGRAM)" CLASSCAST_MEDIA__DIR="$work/media" \
CLASSCAST_DEMO__ENABLED=false CLASSCAST_AUTH__MAX_FAILURES_PER_ADDRESS=100000000 RUST_LOG=warn \
  target/release/classcast serve > "$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 60); do curl -sf "http://127.0.0.1:$http/healthz" >/dev/null && break; sleep 0.5; done
rss() { awk -v f="$1" '$1 == f {print int($2 / 1024)}' "/proc/$server/status"; }

sign_in() {  # prints status and seconds
  curl -s -o /dev/null -w '%{http_code} %{time_total}\n' -H 'content-type: application/json' \
    -d '{"username":"bench","password":"bench-password-123"}' "http://127.0.0.1:$http/api/session"
}
# At rest first: the same sign-in with nothing else going on.
for _ in $(seq 1 10); do sign_in; done > "$work/rest.txt"
rest_rss=$(rss VmRSS:)

cat > "$work/attack.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local n = 0
request = function()
  n = n + 1
  return wrk.format(nil, "/api/session", nil,
    '{"username":"nobody' .. n .. '_' .. math.random(1e9) .. '","password":"wrong password!"}')
end
LUA
wrk -t2 -c100 -d"${seconds}s" --timeout 10s -s "$work/attack.lua" "http://127.0.0.1:$http" > "$work/attack.txt" &
attack=$!
sleep 2
: > "$work/attacked.txt"
end=$((SECONDS + seconds - 4))
while [ $SECONDS -lt $end ]; do sign_in >> "$work/attacked.txt"; sleep 0.2; done
wait $attack
peak_rss=$(rss VmHWM:)
after_rss=$(rss VmRSS:)

python3 - "$work/rest.txt" "$work/attacked.txt" "$work/attack.txt" "$rest_rss" "$peak_rss" "$after_rss" <<'PY'
import re, statistics, sys
rest, attacked, attack = (open(p).read() for p in sys.argv[1:4])
rest_rss, peak_rss, after_rss = map(int, sys.argv[4:7])
def latencies(text):
    rows = [l.split() for l in text.split("\n") if l.strip()]
    return [r[0] for r in rows], sorted(float(r[1]) * 1000 for r in rows)
_, at_rest = latencies(rest)
codes, under = latencies(attacked)
ok = codes.count("200")
p = lambda xs, q: xs[min(len(xs) - 1, int(q * len(xs)))]
print(f"real user at rest:     p50 {statistics.median(at_rest):.0f} ms ({len(at_rest)} sign-ins)")
print(f"real user under attack: p50 {statistics.median(under):.0f} ms, p95 {p(under, 0.95):.0f} ms; "
      f"{ok} of {len(codes)} signed in, others: {sorted(set(c for c in codes if c != '200'))}")
total = re.search(r"(\d+) requests in", attack)
rate = re.search(r"Requests/sec:\s+([\d.]+)", attack)
print(f"attack: 100 connections, {total.group(1) if total else '?'} bad sign-ins answered "
      f"({rate.group(1) if rate else '?'}/s; all non-2xx: 401 judged, 503 when no hashing slot freed in 2 s)")
print(f"server memory: {rest_rss} MiB at rest, peak {peak_rss} MiB, {after_rss} MiB after")
PY
