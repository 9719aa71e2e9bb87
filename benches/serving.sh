#!/usr/bin/env bash
# HLS serving: playlist + segment requests per second under wrk with 1,000
# connections, classcast's live HLS against nginx serving byte-identical
# copies of the same files, in one run. Prints both and the ratio.
#
#   benches/serving.sh [SECONDS]      (needs: cargo build --release; wrk, nginx)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
for tool in wrk nginx curl; do command -v $tool >/dev/null || { echo "$tool missing (apt-get install wrk nginx)" >&2; exit 1; }; done
[ -x target/release/classcast ] || { echo "build first: cargo build --release" >&2; exit 1; }
# 1,000 connections on each side, plus the servers own files.
ulimit -n "$(ulimit -Hn)"

work=$(mktemp -d)
free_port() { python3 -c "import socket; s=socket.socket(socket.AF_INET, socket.$1); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])"; }
http=$(free_port SOCK_STREAM); nginx_port=$(free_port SOCK_STREAM)
db="classcast_bench_$$"
export DATABASE_URL="postgres://classcast:classcast@127.0.0.1:5432/$db"
CLASSCAST_HTTP__ADDR="127.0.0.1:$http" CLASSCAST_INGEST__RTMP_ADDR="127.0.0.1:$(free_port SOCK_STREAM)" \
CLASSCAST_INGEST__SRT_ADDR="127.0.0.1:$(free_port SOCK_DGRAM)" CLASSCAST_MEDIA__DIR="$work/media" \
CLASSCAST_LIVE__PLAYLIST_SEGMENTS=100 CLASSCAST_AUTH__ENABLED=false RUST_LOG=warn \
  target/release/classcast serve > "$work/server.log" 2>&1 &
server=$!
cleanup() {
  kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  psql "postgres://classcast:classcast@127.0.0.1:5432/postgres" -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

demo=00000000-0000-4000-8000-0000000000de
base="http://127.0.0.1:$http/live/$demo/source"
for _ in $(seq 1 60); do
  n=$(curl -sf "$base/index.m3u8" | grep -c '\.m4s$' || true)
  [ "${n:-0}" -ge 2 ] && break; sleep 1
done
segment=$(curl -sf "$base/index.m3u8" | grep '\.m4s$' | tail -1)
mkdir -p "$work/www/live/$demo/source"
curl -sf "$base/index.m3u8" -o "$work/www/live/$demo/source/index.m3u8"
curl -sf "$base/$segment" -o "$work/www/live/$demo/source/$segment"
size=$(stat -c %s "$work/www/live/$demo/source/$segment")

cat > "$work/nginx.conf" <<CONF
worker_processes auto;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 8192; }
http {
  access_log off;
  sendfile on; tcp_nopush on; keepalive_requests 1000000;
  types { application/vnd.apple.mpegurl m3u8; video/iso.segment m4s; }
  client_body_temp_path $work; proxy_temp_path $work; fastcgi_temp_path $work; uwsgi_temp_path $work; scgi_temp_path $work;
  server { listen 127.0.0.1:$nginx_port; root $work/www; }
}
CONF
nginx -c "$work/nginx.conf"

cat > "$work/hls.lua" <<LUA
local n = 0
request = function()
  n = n + 1
  if n % 2 == 0 then return wrk.format(nil, "/live/$demo/source/index.m3u8") end
  return wrk.format(nil, "/live/$demo/source/$segment")
end
LUA

# Every answer must be a 200 and every request answered: quick errors or
# dropped connections would flatter either side.
rps() {
  out=$(wrk -t2 -c1000 -d"${seconds}s" -s "$work/hls.lua" "$1")
  if echo "$out" | grep -q "Non-2xx"; then echo "$out" >&2; echo "$1 refused requests" >&2; exit 1; fi
  if echo "$out" | grep -q "Socket errors"; then echo "$out" >&2; echo "$1: socket errors or timeouts" >&2; exit 1; fi
  echo "$out" | awk '/Requests\/sec/ {print $2}'
}
echo "segment: $segment ($size bytes); playlist and segment alternate; wrk -t2 -c1000 -d${seconds}s"
# Alternate so neither always runs in the quieter moment.
ours1=$(rps "http://127.0.0.1:$http"); nginx1=$(rps "http://127.0.0.1:$nginx_port")
ours2=$(rps "http://127.0.0.1:$http"); nginx2=$(rps "http://127.0.0.1:$nginx_port")
python3 - "$ours1" "$ours2" "$nginx1" "$nginx2" <<'PY'
import sys
o1, o2, n1, n2 = map(float, sys.argv[1:])
ours, nginx = max(o1, o2), max(n1, n2)
print(f"classcast: {o1:.0f} / {o2:.0f} req/s (best {ours:.0f})")
print(f"nginx:     {n1:.0f} / {n2:.0f} req/s (best {nginx:.0f})")
print(f"ratio (classcast / nginx): {ours / nginx:.2f}")
PY
