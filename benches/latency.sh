#!/usr/bin/env bash
# Glass-to-glass latency of live HLS (classcast against ffmpeg's HLS muxer
# behind nginx) and of WebRTC (classcast's WHEP, passthrough and transcoded,
# against Janus's streaming plugin), fed by one encoder, read back by
# Chromium, in one run. Prints p50/p95 for each and the ratios; see
# benches/latency.mjs.
#
#   benches/latency.sh [SECONDS]            (needs: cargo build --release; make web; nginx, janus, ffmpeg, chromium)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
for tool in nginx janus ffmpeg node /usr/bin/chromium; do command -v $tool >/dev/null || { echo "$tool missing" >&2; exit 1; }; done
[ -x target/release/classcast ] || { echo "build first: cargo build --release" >&2; exit 1; }
[ -f web/node_modules/hls.js/dist/hls.min.js ] || { echo "install the UI first: make web" >&2; exit 1; }

work=$(mktemp -d)
free_port() { python3 -c "import socket; s=socket.socket(socket.AF_INET, socket.$1); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])"; }
http=$(free_port SOCK_STREAM); rtmp=$(free_port SOCK_STREAM); nginx_port=$(free_port SOCK_STREAM)
janus_port=$(free_port SOCK_STREAM); janus_rtp=$(free_port SOCK_DGRAM)
db="classcast_bench_$$"
export DATABASE_URL="postgres://classcast:classcast@127.0.0.1:5432/$db"
CLASSCAST_HTTP__ADDR="127.0.0.1:$http" CLASSCAST_INGEST__RTMP_ADDR="127.0.0.1:$rtmp" \
CLASSCAST_INGEST__SRT_ADDR="127.0.0.1:$(free_port SOCK_DGRAM)" CLASSCAST_MEDIA__DIR="$work/media" \
CLASSCAST_WEBRTC__UDP_ADDR="127.0.0.1:$(free_port SOCK_DGRAM)" CLASSCAST_DEMO__ENABLED=false CLASSCAST_AUTH__ENABLED=false RUST_LOG=warn \
  target/release/classcast serve > "$work/server.log" 2>&1 &
server=$!
cleanup() {
  kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  [ -n "${janus:-}" ] && { kill "$janus" 2>/dev/null || true; wait "$janus" 2>/dev/null || true; }
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

# Janus: the HTTP API and the streaming plugin, with one RTP mountpoint the
# camera's H.264 is sent to; Janus relays it as it comes (no keyframe
# buffering, its default), as classcast's `source` does.
mkdir -p "$work/janus"
plugins=/usr/lib/x86_64-linux-gnu/janus
others() { ls "$plugins/$1" | grep '\.so$' | grep -v "$2" | paste -sd, -; }
cat > "$work/janus/janus.jcfg" <<CONF
general: { configs_folder = "$work/janus" plugins_folder = "$plugins/plugins" transports_folder = "$plugins/transports"
  events_folder = "$plugins/events" loggers_folder = "$plugins/loggers" debug_level = 3 session_timeout = 0 }
plugins: { disable = "$(others plugins libjanus_streaming)" }
transports: { disable = "$(others transports libjanus_http)" }
loggers: { disable = "$(others loggers '^$')" }
events: { broadcast = false }
CONF
cat > "$work/janus/janus.transport.http.jcfg" <<CONF
general: { json = "compact" base_path = "/janus" http = true port = $janus_port ip = "127.0.0.1" }
admin: { admin_http = false }
cors: { allow_origin = "*" }
CONF
cat > "$work/janus/janus.plugin.streaming.jcfg" <<CONF
general: { }
bench: { type = "rtp" id = 1 description = "painted clock"
  media = ( { type = "video" mid = "v" port = $janus_rtp pt = 96 codec = "h264" fmtp = "profile-level-id=42e01f;packetization-mode=1" } ) }
CONF
janus -C "$work/janus/janus.jcfg" -F "$work/janus" > "$work/janus.log" 2>&1 &
janus=$!
for _ in $(seq 1 40); do curl -sf "http://127.0.0.1:$janus_port/janus/info" >/dev/null && break; sleep 0.25; done

node benches/latency.mjs "http://127.0.0.1:$http" "rtmp://127.0.0.1:$rtmp/live" \
  "http://127.0.0.1:$nginx_port" "$work/hls" "http://127.0.0.1:$janus_port/janus" "$janus_rtp" "$seconds" \
  || { tail -20 "$work/server.log"; tail -20 "$work/janus.log"; exit 1; }
