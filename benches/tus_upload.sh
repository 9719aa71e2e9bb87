#!/usr/bin/env bash
# Upload throughput over loopback with tus, and the server's memory: a
# 200 MB and a 1 GB lesson video (real H.264 + AAC, so the probe at the end
# runs as in use) sent by tus-js-client in one PATCH, and by curl as one
# PATCH; MB/s from the first byte to the server's 204 (assembly and probe
# included), and the server's peak RSS (VmHWM) after each size. Memory
# must not grow with the file: chunks are streamed to storage.
#
#   benches/tus_upload.sh            (CLASSCAST_BIN=target/debug/classcast to
#                                     measure a debug build; default release)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${CLASSCAST_BIN:-target/release/classcast}
for tool in curl ffmpeg node nginx; do command -v $tool >/dev/null || { echo "$tool missing (make bench installs it)" >&2; exit 1; }; done
[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 1; }
[ -d web/node_modules/tus-js-client ] || { echo "tus-js-client missing: make web" >&2; exit 1; }

work=$(mktemp -d)
free_port() { python3 -c "import socket; s=socket.socket(socket.AF_INET, socket.$1); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])"; }
db="classcast_bench_$$"
export DATABASE_URL="postgres://classcast:classcast@127.0.0.1:5432/$db"
server=""
cleanup() {
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  [ -n "$server" ] && { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; }
  psql "postgres://classcast:classcast@127.0.0.1:5432/postgres" -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# Test videos: a 2 s nearly incompressible clip (~22 MB), joined to size
# by stream copy (fast: no encoding).
ffmpeg -hide_banner -loglevel error -nostdin -y -f lavfi -i "testsrc2=size=640x360:rate=25,noise=alls=60:allf=t" \
  -f lavfi -i "sine=frequency=440:sample_rate=48000" -t 2 -c:v libx264 -preset ultrafast -qp 0 -pix_fmt yuv420p \
  -c:a aac -f mpegts "$work/clip.ts"
clip=$(stat -c %s "$work/clip.ts")
make_video() { # name megabytes
  local n=$(( $2 * 1024 * 1024 / clip + 1 ))
  for _ in $(seq 1 $n); do echo "file '$work/clip.ts'"; done > "$work/list.txt"
  ffmpeg -hide_banner -loglevel error -nostdin -y -f concat -safe 0 -i "$work/list.txt" -c copy \
    -bsf:a aac_adtstoasc -movflags +faststart "$work/$1"
}
make_video 200mb.mp4 200
make_video 1gb.mp4 1024

http=$(free_port SOCK_STREAM)
CLASSCAST_HTTP__ADDR="127.0.0.1:$http" CLASSCAST_INGEST__RTMP_ADDR="127.0.0.1:$(free_port SOCK_STREAM)" \
CLASSCAST_INGEST__SRT_ADDR="127.0.0.1:$(free_port SOCK_DGRAM)" CLASSCAST_MEDIA__DIR="$work/media" \
CLASSCAST_WEBRTC__UDP_ADDR=127.0.0.1:0 CLASSCAST_WEBRTC__TCP_ADDR=127.0.0.1:0 \
CLASSCAST_DEMO__ENABLED=false CLASSCAST_UPLOADS__MAX_PER_USER=100 RUST_LOG=warn \
  "$bin" serve >> "$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 60); do curl -sf "http://127.0.0.1:$http/healthz" >/dev/null && break; sleep 0.5; done
echo 'bench-password-123' | "$bin" admin create --username bench --password-stdin >/dev/null
curl -sf -c "$work/jar" -H 'content-type: application/json' \
  -d '{"username":"bench","password":"bench-password-123"}' "http://127.0.0.1:$http/api/session" > "$work/session.json"
csrf=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["csrf_token"])' "$work/session.json")
token=$(curl -sf -b "$work/jar" -H "x-csrf-token: $csrf" -H 'content-type: application/json' \
  -d '{"name":"bench"}' "http://127.0.0.1:$http/api/tokens" | python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])')
endpoint="http://127.0.0.1:$http/api/uploads"
rss() { awk '/VmHWM/ {printf "%.0f", $2/1024}' "/proc/$server/status"; }
now() { date +%s.%N; }
mbps() { python3 -c "print(f'{$1/1048576/($3-$2):.0f}')"; }

# The peer: nginx taking the same file as one HTTP PUT (WebDAV module),
# written to a temporary file on the same disk and renamed into place, as
# classcast writes its parts and joins them. nginx does less: no tus
# offsets, no probe of the file at the end.
nginx_port=$(free_port SOCK_STREAM)
mkdir -p "$work/nginx/store"
# nginx's workers drop root: let them reach and write their directories.
chmod 755 "$work"; chmod 777 "$work/nginx" "$work/nginx/store"
cat > "$work/nginx.conf" <<CONF
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path $work/nginx; proxy_temp_path $work/nginx; fastcgi_temp_path $work/nginx;
  uwsgi_temp_path $work/nginx; scgi_temp_path $work/nginx;
  server {
    listen 127.0.0.1:$nginx_port; root $work/nginx/store;
    client_max_body_size 0;
    location / { dav_methods PUT DELETE; create_full_put_path on; }
  }
}
CONF
nginx -c "$work/nginx.conf"

echo "server: $bin; RSS at start $(awk '/VmRSS/ {printf "%.0f", $2/1024}' /proc/$server/status) MiB"
printf '%-8s %-14s %8s %14s\n' size client MB/s "peak RSS MiB"
for f in 200mb.mp4 1gb.mp4; do
  size=$(stat -c %s "$work/$f")
  t0=$(now)
  node web/tests/tus_upload.mjs --endpoint "$endpoint" --token "$token" --file "$work/$f" --no-creation-with-upload \
    | grep -q '"success"' || { echo "tus-js-client upload of $f failed" >&2; tail "$work/server.log" >&2; exit 1; }
  t1=$(now)
  printf '%-8s %-14s %8s %14s\n' "${f%.mp4}" tus-js-client "$(mbps "$size" "$t0" "$t1")" "$(rss)"
  location=$(curl -sf -D - -o /dev/null -X POST -H "authorization: Bearer $token" -H 'tus-resumable: 1.0.0' \
    -H "upload-length: $size" "$endpoint" | tr -d '\r' | awk -F': ' 'tolower($1)=="location" {print $2}')
  t0=$(now)
  code=$(curl -s -o /dev/null -w '%{http_code}' -X PATCH -T "$work/$f" -H "authorization: Bearer $token" \
    -H 'tus-resumable: 1.0.0' -H 'upload-offset: 0' -H 'content-type: application/offset+octet-stream' \
    "http://127.0.0.1:$http$location")
  t1=$(now)
  [ "$code" = 204 ] || { echo "curl upload of $f: $code" >&2; exit 1; }
  printf '%-8s %-14s %8s %14s\n' "${f%.mp4}" curl "$(mbps "$size" "$t0" "$t1")" "$(rss)"
  t0=$(now)
  code=$(curl -s -o /dev/null -w '%{http_code}' -T "$work/$f" "http://127.0.0.1:$nginx_port/$f")
  t1=$(now)
  [ "$code" = 201 ] || { echo "nginx PUT of $f: $code" >&2; exit 1; }
  printf '%-8s %-14s %8s %14s\n' "${f%.mp4}" "curl → nginx" "$(mbps "$size" "$t0" "$t1")" "-"
  rm -f "$work/nginx/store/$f"
done
