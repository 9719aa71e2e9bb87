#!/usr/bin/env bash
# Glass-to-glass latency of live HLS: classcast against ffmpeg's HLS muxer
# behind nginx, fed by one encoder, read back by Chromium, in one run.
# Prints p50/p95 for both and the ratio; see benches/latency.mjs.
#
#   benches/latency.sh [SECONDS]            (needs: cargo build --release; make web; nginx, ffmpeg, chromium)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
for tool in nginx ffmpeg node /usr/bin/chromium; do command -v $tool >/dev/null || { echo "$tool missing" >&2; exit 1; }; done
[ -x target/release/classcast ] || { echo "build first: cargo build --release" >&2; exit 1; }
[ -f web/node_modules/hls.js/dist/hls.min.js ] || { echo "install the UI first: make web" >&2; exit 1; }

work=$(mktemp -d)
free_port() { python3 -c "import socket; s=socket.socket(socket.AF_INET, socket.$1); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])"; }
http=$(free_port SOCK_STREAM); rtmp=$(free_port SOCK_STREAM); nginx_port=$(free_port SOCK_STREAM)
db="classcast_bench_$$"
export DATABASE_URL="postgres://classcast:classcast@127.0.0.1:5432/$db"
CLASSCAST_HTTP__ADDR="127.0.0.1:$http" CLASSCAST_INGEST__RTMP_ADDR="127.0.0.1:$rtmp" \
CLASSCAST_INGEST__SRT_ADDR="127.0.0.1:$(free_port SOCK_DGRAM)" CLASSCAST_MEDIA__DIR="$work/media" \
CLASSCAST_DEMO__ENABLED=false CLASSCAST_AUTH__ENABLED=false RUST_LOG=warn \
  target/release/classcast serve > "$work/server.log" 2>&1 &
server=$!
cleanup() {
  kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  psql "postgres://classcast:classcast@127.0.0.1:5432/postgres" -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 1 60); do curl -sf "http://127.0.0.1:$http/healthz" >/dev/null && break; sleep 0.5; done

mkdir -p "$work/hls"
cat > "$work/nginx.conf" <<CONF
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  types { application/vnd.apple.mpegurl m3u8; video/iso.segment m4s; video/mp4 mp4; }
  client_body_temp_path $work; proxy_temp_path $work; fastcgi_temp_path $work; uwsgi_temp_path $work; scgi_temp_path $work;
  server {
    listen 127.0.0.1:$nginx_port; root $work/hls;
    add_header Access-Control-Allow-Origin * always;
    location ~ \.m3u8\$ { add_header Cache-Control no-cache; add_header Access-Control-Allow-Origin * always; }
  }
}
CONF
nginx -c "$work/nginx.conf"

node benches/latency.mjs "http://127.0.0.1:$http" "rtmp://127.0.0.1:$rtmp/live" \
  "http://127.0.0.1:$nginx_port" "$work/hls" "$seconds" || { tail -20 "$work/server.log"; exit 1; }
