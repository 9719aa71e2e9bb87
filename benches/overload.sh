#!/usr/bin/env bash
# Live lag of each rendition, idle and with the machine overloaded, in one
# run; see benches/overload.mjs.
#
#   benches/overload.sh [SECONDS]   (needs: cargo build --release; ffmpeg, node)
#   HOGS=8 benches/overload.sh      a heavier hog
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
for tool in ffmpeg node; do command -v $tool >/dev/null || { echo "$tool missing" >&2; exit 1; }; done
[ -x target/release/classcast ] || { echo "build first: cargo build --release" >&2; exit 1; }

work=$(mktemp -d)
free_port() { python3 -c "import socket; s=socket.socket(socket.AF_INET, socket.$1); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])"; }
http=$(free_port SOCK_STREAM); rtmp=$(free_port SOCK_STREAM)
db="classcast_bench_$$"
export DATABASE_URL="postgres://classcast:classcast@127.0.0.1:5432/$db"
CLASSCAST_HTTP__ADDR="127.0.0.1:$http" CLASSCAST_INGEST__RTMP_ADDR="127.0.0.1:$rtmp" \
CLASSCAST_INGEST__SRT_ADDR="127.0.0.1:$(free_port SOCK_DGRAM)" CLASSCAST_MEDIA__DIR="$work/media" \
CLASSCAST_DEMO__ENABLED=false CLASSCAST_AUTH__ENABLED=false RUST_LOG=warn \
  target/release/classcast serve > "$work/server.log" 2>&1 &
server=$!
cleanup() {
  kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true
  psql "postgres://classcast:classcast@127.0.0.1:5432/postgres" -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 1 60); do curl -sf "http://127.0.0.1:$http/healthz" >/dev/null && break; sleep 0.5; done
# The camera and the measuring client above the hog (only root may raise it).
$( [ "$(id -u)" = 0 ] && echo "nice -n -10" ) node benches/overload.mjs "http://127.0.0.1:$http" \
  "rtmp://127.0.0.1:$rtmp/live" "$seconds" || { tail -20 "$work/server.log"; exit 1; }
