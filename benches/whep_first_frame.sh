#!/usr/bin/env bash
# Time to first frame for a new WHEP viewer, passthrough and transcoded,
# ROUNDS viewers of each; see benches/whep_first_frame.py.
#
#   benches/whep_first_frame.sh [ROUNDS]   (needs: cargo build --release; make deps-test; ffmpeg)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-20}
[ -x target/release/classcast ] || { echo "build first: cargo build --release" >&2; exit 1; }
[ -x target/peers-venv/bin/python ] || { echo "install the WHEP peer first: make deps-test" >&2; exit 1; }
work=$(mktemp -d)
free_port() { python3 -c "import socket; s=socket.socket(socket.AF_INET, socket.$1); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])"; }
http=$(free_port SOCK_STREAM); rtmp=$(free_port SOCK_STREAM)
db="classcast_bench_$$"
export DATABASE_URL="postgres://classcast:classcast@127.0.0.1:5432/$db"
CLASSCAST_HTTP__ADDR="127.0.0.1:$http" CLASSCAST_INGEST__RTMP_ADDR="127.0.0.1:$rtmp" \
CLASSCAST_INGEST__SRT_ADDR="127.0.0.1:$(free_port SOCK_DGRAM)" CLASSCAST_MEDIA__DIR="$work/media" \
CLASSCAST_WEBRTC__UDP_ADDR="127.0.0.1:$(free_port SOCK_DGRAM)" \
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
python3 benches/whep_first_frame.py "http://127.0.0.1:$http" "$rtmp" "$rounds" || { tail -20 "$work/server.log"; exit 1; }
