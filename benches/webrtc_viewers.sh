#!/usr/bin/env bash
# WebRTC viewer capacity: classcast's WHEP fan-out against Janus's streaming
# plugin and a webrtc-rs relay (benches/webrtc-rs-relay, a bench peer), same
# source, same load generator (benches/webrtc_viewers.rs), same run,
# alternating per step. See docs/benchmarks.md.
#
#   benches/webrtc_viewers.sh [STEP ...]    (default: 100 250 500 750 1000)
#   (needs: cargo build --release; ffmpeg; janus, installed here if missing)
#
# Environment: WINDOW (s, default 15), WARMUP (s, default 5), LIGHT=1 (the
# generator counts RTP headers instead of unprotecting SRTP), PIN=1 (servers
# on CPU 0, generator and source on CPU 1).
set -euo pipefail
cd "$(dirname "$0")/.."
steps=("$@"); [ ${#steps[@]} -gt 0 ] || steps=(100 250 500 750 1000)
window=${WINDOW:-15}; warmup=${WARMUP:-5}
light=(); [ "${LIGHT:-0}" = 1 ] && light=(--light)
server_cpus=(); generator_cpus=()
if [ "${PIN:-0}" = 1 ]; then server_cpus=(taskset -c 0); generator_cpus=(taskset -c 1); fi
[ -x target/release/classcast ] || { echo "build first: cargo build --release" >&2; exit 1; }
if ! command -v janus >/dev/null; then
  SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
  $SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q janus
fi
# The generator is a bench target; built here, run directly for each step.
generator=$(cargo bench --bench webrtc_viewers --no-run --message-format=json 2>/dev/null \
  | python3 -c 'import json,sys
for l in sys.stdin:
    m=json.loads(l)
    if m.get("reason")=="compiler-artifact" and m["target"]["name"]=="webrtc_viewers" and m.get("executable"): print(m["executable"])') || true
[ -x "$generator" ] || { echo "could not build the load generator:" >&2; cargo bench --bench webrtc_viewers --no-run >&2; exit 1; }
# The webrtc-rs relay: its own cargo project, not part of classcast.
cargo build --release -q --manifest-path benches/webrtc-rs-relay/Cargo.toml
relay_bin=benches/webrtc-rs-relay/target/release/webrtc-rs-relay
ulimit -n "$(ulimit -Hn)"

work=$(mktemp -d)
free_port() { python3 -c "import socket; s=socket.socket(socket.AF_INET, socket.$1); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])"; }
# Janus gathers no loopback candidates: everyone uses the machine's address
# (still the loopback path inside the kernel).
ip=$(ip -4 route get 1.1.1.1 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p'); ip=${ip:-127.0.0.1}
http=$(free_port SOCK_STREAM); rtmp=$(free_port SOCK_STREAM); srt=$(free_port SOCK_DGRAM)
jhttp=$(free_port SOCK_STREAM); jvideo=$(free_port SOCK_DGRAM); jaudio=$(free_port SOCK_DGRAM)
rhttp=$(free_port SOCK_STREAM); rvideo=$(free_port SOCK_DGRAM); raudio=$(free_port SOCK_DGRAM)
db="classcast_bench_$$"
export DATABASE_URL="postgres://classcast:classcast@127.0.0.1:5432/$db"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  psql "postgres://classcast:classcast@127.0.0.1:5432/postgres" -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
  [ -n "${KEEP:-}" ] && echo "kept $work" || rm -rf "$work"
}
trap cleanup EXIT

CLASSCAST_HTTP__ADDR="127.0.0.1:$http" CLASSCAST_INGEST__RTMP_ADDR="127.0.0.1:$rtmp" \
CLASSCAST_INGEST__SRT_ADDR="127.0.0.1:$srt" CLASSCAST_MEDIA__DIR="$work/media" \
CLASSCAST_WEBRTC__UDP_ADDR="$ip:0" CLASSCAST_WEBRTC__MAX_VIEWERS=100000 \
CLASSCAST_DEMO__ENABLED=false CLASSCAST_AUTH__ENABLED=false RUST_LOG=${RUST_LOG:-warn} \
  "${server_cpus[@]}" target/release/classcast serve > "$work/classcast.log" 2>&1 &
classcast=$!; pids+=("$classcast")

# Janus: HTTP transport and the streaming plugin only, one RTP mountpoint.
mkdir -p "$work/janus"
cat > "$work/janus/janus.jcfg" <<EOF
general: {
	configs_folder = "$work/janus"
	plugins_folder = "/usr/lib/x86_64-linux-gnu/janus/plugins"
	transports_folder = "/usr/lib/x86_64-linux-gnu/janus/transports"
	events_folder = "/usr/lib/x86_64-linux-gnu/janus/events"
	loggers_folder = "/usr/lib/x86_64-linux-gnu/janus/loggers"
	debug_level = 3
	session_timeout = 0
	event_loops = 2
}
media: {
	ipv6 = false
}
nat: {
	nice_debug = false
	ice_enforce_list = "$ip"
}
plugins: {
	disable = "libjanus_audiobridge.so,libjanus_duktape.so,libjanus_echotest.so,libjanus_lua.so,libjanus_nosip.so,libjanus_recordplay.so,libjanus_sip.so,libjanus_textroom.so,libjanus_videocall.so,libjanus_videoroom.so,libjanus_voicemail.so"
}
transports: {
	disable = "libjanus_websockets.so,libjanus_mqtt.so,libjanus_nanomsg.so,libjanus_pfunix.so,libjanus_rabbitmq.so"
}
loggers: {
	disable = "libjanus_jsonlog.so"
}
events: {
	broadcast = false
}
EOF
cat > "$work/janus/janus.transport.http.jcfg" <<EOF
general: {
	json = "plain"
	base_path = "/janus"
	http = true
	port = $jhttp
	ip = "127.0.0.1"
	https = false
}
admin: {
	admin_http = false
}
EOF
cat > "$work/janus/janus.plugin.streaming.jcfg" <<EOF
general: {
}
classroom: {
	type = "rtp"
	id = 1
	description = "classcast bench"
	audio = true
	audioport = $jaudio
	audiopt = 111
	audiocodec = "opus"
	video = true
	videoport = $jvideo
	videopt = 96
	videocodec = "h264"
	videofmtp = "profile-level-id=42e01f;packetization-mode=1"
}
EOF
"${server_cpus[@]}" janus -F "$work/janus" -C "$work/janus/janus.jcfg" > "$work/janus.log" 2>&1 &
janus=$!; pids+=("$janus")

# webrtc-rs: the same RTP as Janus, one shared track per kind, WHEP, all
# peers on one UDP port.
"${server_cpus[@]}" "$relay_bin" "$ip" "127.0.0.1:$rhttp" "$rvideo" "$raudio" > "$work/webrtc-rs.log" 2>&1 &
relay=$!; pids+=("$relay")

api() { curl -sf -X "$1" -H 'content-type: application/json' ${3:+-d "$3"} "http://127.0.0.1:$http$2"; }
for _ in $(seq 1 60); do curl -sf "http://127.0.0.1:$http/healthz" >/dev/null && break; sleep 0.5; done
room=$(api POST /api/classrooms '{"name":"viewer capacity","ladder_heights":[],"recording_enabled":false}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
key=$(api POST "/api/classrooms/$room/sources" '{"kind":"rtmp"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["stream_key"])')

# One encode, teed: FLV (H.264 + AAC) to classcast, which makes its own Opus,
# and RTP (the same H.264, Opus 64 kbit/s in 20 ms frames and 1200-byte
# packets, as classcast's payloaders make) to Janus and to the webrtc-rs
# relay. Noise keeps the picture
# from compressing below 1.5 Mbit/s.
"${generator_cpus[@]}" ffmpeg -hide_banner -loglevel error -nostdin -re \
  -f lavfi -i testsrc2=size=640x360:rate=30 -f lavfi -i sine=frequency=440:sample_rate=48000 \
  -filter_complex '[0:v]noise=alls=12:allf=t[v]' -map '[v]' -map 1:a -map 1:a \
  -c:v libx264 -preset ultrafast -tune zerolatency -profile:v baseline -pix_fmt yuv420p \
  -b:v 1500k -maxrate 1500k -bufsize 1500k -g 60 \
  -c:a:0 aac -b:a:0 96k -c:a:1 libopus -b:a:1 64k -frame_duration 20 -application lowdelay \
  -flags +global_header \
  -f tee "[f=flv:select=\'0,1\']rtmp://127.0.0.1:$rtmp/live/$key|[f=rtp:select=0:payload_type=96:pkt_size=1200]rtp://$ip:$jvideo|[f=rtp:select=2:payload_type=111:pkt_size=1200]rtp://$ip:$jaudio|[f=rtp:select=0:payload_type=96:pkt_size=1200]rtp://$ip:$rvideo|[f=rtp:select=2:payload_type=111:pkt_size=1200]rtp://$ip:$raudio" \
  > "$work/ffmpeg.log" 2>&1 &
pids+=("$!")

for _ in $(seq 1 60); do
  api GET "/api/classrooms/$room" | grep -q '"state":"live"' && break; sleep 0.5
done
api GET "/api/classrooms/$room" | grep -q '"state":"live"' || { echo "classroom never went live"; tail -20 "$work/classcast.log" "$work/ffmpeg.log"; exit 1; }
curl -sf -X POST -d '{"janus":"info","transaction":"x"}' "http://127.0.0.1:$jhttp/janus" >/dev/null \
  || { echo "Janus is not answering"; tail -20 "$work/janus.log"; exit 1; }
kill -0 "$relay" 2>/dev/null || { echo "the webrtc-rs relay exited"; tail -20 "$work/webrtc-rs.log"; exit 1; }
sleep 3

results="$work/results"
measure() { # NAME PID N ARGS...
  local name=$1 pid=$2 n=$3; shift 3
  local line
  line=$("${generator_cpus[@]}" "$generator" "$@" "$n" "$pid" --bind "$ip" --warmup "$warmup" --window "$window" "${light[@]}" \
    2> "$work/gen-$name-$n.log" | grep '^RESULT' || true)
  [ -n "$line" ] || { line="RESULT viewers=$n failed=1"; tail -3 "$work/gen-$name-$n.log" >&2; }
  # The server's memory 2 s after every viewer of the step hung up.
  sleep 2
  line="$line rss_after_mib=$(awk '/^VmRSS:/ {printf "%.0f", $2/1024}' "/proc/$pid/status" 2>/dev/null || echo 0)"
  echo "$name $line" | tee -a "$results"
  if ! kill -0 "$pid" 2>/dev/null; then
    local status=0; wait "$pid" || status=$?
    echo "$name exited (status $status) during the $n-viewer step; its log:"; tail -30 "$work/$name.log"; exit 1
  fi
}
echo "source: 640x360 30 fps H.264 constrained baseline 1.5 Mbit/s + Opus; generator at $ip; window ${window}s"
# Idle cost (the source flowing, nobody watching), then the steps alternating.
measure classcast "$classcast" 0 whep "http://127.0.0.1:$http/whep/$room?rendition=source"
measure janus "$janus" 0 janus "http://127.0.0.1:$jhttp/janus" 1
measure webrtc-rs "$relay" 0 whep "http://127.0.0.1:$rhttp/whep"
for n in "${steps[@]}"; do
  measure classcast "$classcast" "$n" whep "http://127.0.0.1:$http/whep/$room?rendition=source"
  sleep 2
  measure janus "$janus" "$n" janus "http://127.0.0.1:$jhttp/janus" 1
  sleep 2
  measure webrtc-rs "$relay" "$n" whep "http://127.0.0.1:$rhttp/whep"
  sleep 2
done

python3 - "$results" <<'EOF'
import sys
rows = {}
for line in open(sys.argv[1]):
    name, _, *fields = line.split()
    kv = dict(f.split('=', 1) for f in fields)
    rows.setdefault(name, []).append(kv)
idle = {name: float(r[0].get('server_cpu_pct', 0)) for name, r in rows.items()}
print('\n| server | viewers | connected | server CPU % | CPU %/viewer (over idle) | loss % | kbit/s per viewer | generator CPU % | server RSS MiB (window / after hangup) |')
print('|---|---|---|---|---|---|---|---|---|')
best = {}
for name, rs in rows.items():
    mem = lambda r: f"{r.get('server_rss_mib', '?')} / {r.get('rss_after_mib', '?')}"
    print(f'| {name} idle | 0 | | {idle[name]:.1f} | | | | | {mem(rs[0])} |')
    for r in rs[1:]:
        n = int(r['viewers'])
        if 'failed' in r:
            print(f'| {name} | {n} | failed | | | | | | {mem(r)} |'); continue
        cpu = float(r['server_cpu_pct']); loss = float(r['loss_pct'])
        per = (cpu - idle[name]) / n
        if loss < 1.0 and int(r['connected']) == n: best[name] = max(best.get(name, 0), n)
        print(f"| {name} | {n} | {r['connected']} | {cpu:.1f} | {per:.3f} | {loss:.2f} | {r['kbps_per_viewer']} | {r['generator_cpu_pct']} | {mem(r)} |")
print()
for name in rows:
    print(f'largest N with every viewer connected and < 1% loss, {name}: {best.get(name, 0)}')
EOF
