#!/usr/bin/env bash
# A 10-minute 1080p25 lesson through the VOD ladder: classcast's vod_ladder
# job against one ffmpeg doing the same work, alternating, ROUNDS each.
#
#   cargo build --release && benches/vod_ladder.sh [ROUNDS] [SECONDS]
#       (default 2 rounds, 600 s; PRESET=veryfast as [jobs] x264_preset;
#        CLASSCAST_BIN=target/release/classcast; needs ffmpeg, PostgreSQL)
#
# The lesson (testsrc2 with light sensor-like noise, so every frame moves,
# H.264 high 6 Mbit/s + a stereo tone whose level swells, AAC 128k) is made
# once and kept in target/bench-media.
#
# classcast: a fresh `classcast serve` (in-process worker, defaults except
# a 6 s lease so its 2 s heartbeats show the job's steps), the file placed
# in its store's uploads/, timed from POST /api/jobs to `succeeded`; CPU is
# the server's utime+stime over that span. The job probes, measures the
# loudness (audio only), then runs one pipeline: one decode, 1080/720/360
# x264 + one AAC shared by every rendition and the audio-only one, HLS 4 s
# segments, preview frames; then poster + sprite JPEGs, master playlist.
#
# ffmpeg, the same work: a loudness pass (ebur128 with true peak, audio
# only), then one process: one decode, split, scale (bilinear, as
# GStreamer's videoscale), three libx264 with the same settings (preset,
# bitrate kbps_for, CBR with a 600 ms VBV as x264enc's pass=cbr, keyint
# fps x 4, a keyframe forced every 4 s as hlssink2 asks, profile main),
# one AAC 96k at the measured gain teed to four HLS outputs, one frame per
# 5 s scaled to 320x180 RGB into a poster and a sprite; then the master
# playlist and the sprite's track. Timed with /usr/bin/time.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-2}
seconds=${2:-600}
preset=${PRESET:-veryfast}
bin=${CLASSCAST_BIN:-target/release/classcast}
for tool in curl ffmpeg ffprobe psql python3 /usr/bin/time; do command -v $tool >/dev/null || { echo "$tool missing" >&2; exit 1; }; done
[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 1; }

fps=25
cache=target/bench-media
input="$cache/lesson-1080p${fps}-${seconds}s.mp4"
mkdir -p "$cache"
if [ ! -s "$input" ]; then
  echo "making the ${seconds} s lesson (once; kept in $cache)..."
  ffmpeg -hide_banner -loglevel error -nostdin -y \
    -f lavfi -i "testsrc2=size=1920x1080:rate=$fps,noise=alls=8:allf=t+u" \
    -f lavfi -i "sine=frequency=220:sample_rate=48000,volume='0.6+0.4*sin(2*PI*t/7)':eval=frame" \
    -t "$seconds" -c:v libx264 -preset veryfast -profile:v high -pix_fmt yuv420p \
    -b:v 6M -maxrate 8M -bufsize 12M -g 50 -c:a aac -b:a 128k -ac 2 -movflags +faststart \
    -f mp4 "$input.tmp"
  mv "$input.tmp" "$input"
fi

work=$(mktemp -d)
server=""
db=""
drop_db() {
  [ -n "$db" ] && psql "postgres://classcast:classcast@127.0.0.1:5432/postgres" -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
}
stop_server() {
  [ -n "$server" ] && { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; }
  server=""
  drop_db; db=""
}
cleanup() { stop_server; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c "import socket; s=socket.socket(socket.AF_INET, socket.$1); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])"; }
now() { date +%s.%N; }

# The ladder as vod_ladder::plan makes it for 1920x1080, bitrates as
# media::format::kbps_for (0.1 bit per pixel per frame, at least 300).
kbps() { python3 -c "print(max(int($1*$2*min($fps,30)*0.1/1000), 300))"; }
k1080=$(kbps 1920 1080); k720=$(kbps 1280 720); k360=$(kbps 640 360)
vbv() { echo $(( $1 * 600 / 1000 )); }  # x264enc's vbv-buf-capacity: 600 ms
gop=$(( fps * 4 ))

# x264's own record of its settings, from the first segment of a rendition.
x264_options() {
  ffmpeg -v error -i "$1" -map 0:v:0 -c copy -frames:v 1 -f h264 - | strings -n 40 \
    | grep -m1 -o 'options: .*' | tr ' ' '\n' | grep -v '^options:'
}
# Per rendition: segments, MB, and the mean bitrate over the lesson.
outputs() {
  for r in 1080 720 360 audio; do
    local n bytes
    n=$(ls "$1/$r"/*.ts | wc -l); bytes=$(cat "$1/$r"/*.ts | wc -c)
    printf '    %-6s %4d segments %7.1f MB %6d kbit/s\n' "$r" "$n" "$(echo "$bytes/1000000" | bc -l)" $(( bytes * 8 / seconds / 1000 ))
  done
  ls "$1/poster.jpg" "$1/preview/sprite.jpg" "$1/preview/thumbnails.vtt" "$1/master.m3u8" >/dev/null
}

results="$work/results.tsv"
run_classcast() { # round
  local media="$work/classcast/media" http
  rm -rf "$work/classcast"; mkdir -p "$media/objects/uploads"
  ln "$input" "$media/objects/uploads/lesson.mp4" 2>/dev/null || cp "$input" "$media/objects/uploads/lesson.mp4"
  http=$(free_port SOCK_STREAM)
  db="classcast_bench_vod_$$_$1"
  DATABASE_URL="postgres://classcast:classcast@127.0.0.1:5432/$db" \
  CLASSCAST_HTTP__ADDR="127.0.0.1:$http" CLASSCAST_INGEST__RTMP_ADDR="127.0.0.1:$(free_port SOCK_STREAM)" \
  CLASSCAST_INGEST__SRT_ADDR="127.0.0.1:$(free_port SOCK_DGRAM)" CLASSCAST_MEDIA__DIR="$media" \
  CLASSCAST_WEBRTC__UDP_ADDR=127.0.0.1:0 CLASSCAST_WEBRTC__TCP_ADDR=127.0.0.1:0 \
  CLASSCAST_DEMO__ENABLED=false CLASSCAST_AUTH__ENABLED=false \
  CLASSCAST_JOBS__IN_PROCESS=true CLASSCAST_JOBS__X264_PRESET="$preset" CLASSCAST_JOBS__LEASE_SECONDS=6 \
  RUST_LOG=warn "$bin" serve > "$work/server.log" 2>&1 &
  server=$!
  for _ in $(seq 1 120); do curl -sf "http://127.0.0.1:$http/healthz" >/dev/null && break; sleep 0.5; done
  curl -sf "http://127.0.0.1:$http/healthz" >/dev/null || { echo "server did not start" >&2; tail -20 "$work/server.log" >&2; exit 1; }
  sleep 2  # let start-up work settle before the CPU count starts
  python3 benches/vod_ladder.py job "http://127.0.0.1:$http" "$server" uploads/lesson.mp4 lessons/bench/hls \
    > "$work/job.json" || { tail -20 "$work/server.log" >&2; exit 1; }
  python3 - "$work/job.json" "$1" >> "$results" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
if j["attempts"] != 1:
    sys.exit(f"the job took {j['attempts']} attempts")
pre = j["steps"].get("transcoding", 0.0)
print(f"classcast\t{sys.argv[2]}\t{j['wall']:.2f}\t{j['cpu']:.1f}\t{j['rss_mib']:.0f}\t{pre:.1f}\t{j['wall'] - pre:.1f}")
steps = ", ".join(f"{k} at {v:.1f} s" for k, v in j["steps"].items())
print(f"  classcast round {sys.argv[2]}: {j['wall']:.1f} s, CPU {j['cpu']:.0f} s, peak RSS {j['rss_mib']:.0f} MiB; steps seen: {steps}", file=sys.stderr)
print(f"    job created {j['created_at']}, started {j['started_at']}, finished {j['finished_at']}", file=sys.stderr)
EOF
  outputs "$media/objects/lessons/bench/hls" >&2
  if [ "$1" = 1 ]; then
    for r in 1080 720 360; do x264_options "$media/objects/lessons/bench/hls/$r/segment00000.ts" > "$work/classcast-$r.x264"; done
  fi
  stop_server
  rm -rf "$work/classcast"
}

run_ffmpeg() { # round
  local out="$work/ffmpeg" t0 t1 gain
  rm -rf "$out"; mkdir -p "$out"/{1080,720,360,audio,preview}
  t0=$(now)
  /usr/bin/time -f '%e %U %S %M' -o "$work/time1" \
    ffmpeg -hide_banner -nostats -nostdin -i "$input" -vn -af ebur128=peak=true:framelog=verbose -f null - 2> "$work/loudness.log"
  gain=$(python3 benches/vod_ladder.py gain "$work/loudness.log")
  local hls="f=hls:hls_time=4:hls_playlist_type=vod"
  /usr/bin/time -f '%e %U %S %M' -o "$work/time2" \
    ffmpeg -hide_banner -loglevel error -nostdin -y -i "$input" -filter_complex "
      [0:v]split=4[v1080][s720][s360][sp];
      [s720]scale=1280:720:flags=bilinear[v720];
      [s360]scale=640:360:flags=bilinear[v360];
      [sp]fps=1/5,scale=320:180:flags=bilinear,format=rgb24,split[pa][pb];
      [pa]select='gte(t\,$seconds/10)'[poster];
      [pb]scale=160:90:flags=area,tile=10x$(( (seconds / 5 + 9) / 10 ))[sprite];
      [0:a]volume=${gain}dB,aresample=48000,aformat=channel_layouts=stereo[a]" \
    -map '[v1080]' -map '[v720]' -map '[v360]' -map '[a]' \
    -c:v libx264 -preset "$preset" -profile:v main -g "$gop" -force_key_frames 'expr:gte(t,n_forced*4)' \
    -b:v:0 "${k1080}k" -maxrate:v:0 "${k1080}k" -bufsize:v:0 "$(vbv "$k1080")k" \
    -b:v:1 "${k720}k" -maxrate:v:1 "${k720}k" -bufsize:v:1 "$(vbv "$k720")k" \
    -b:v:2 "${k360}k" -maxrate:v:2 "${k360}k" -bufsize:v:2 "$(vbv "$k360")k" \
    -c:a aac -b:a 96k -f tee \
      "[select=\'v:0,a\':$hls:hls_segment_filename=$out/1080/segment%05d.ts]$out/1080/index.m3u8|[select=\'v:1,a\':$hls:hls_segment_filename=$out/720/segment%05d.ts]$out/720/index.m3u8|[select=\'v:2,a\':$hls:hls_segment_filename=$out/360/segment%05d.ts]$out/360/index.m3u8|[select=a:$hls:hls_segment_filename=$out/audio/segment%05d.ts]$out/audio/index.m3u8" \
    -map '[poster]' -frames:v 1 -update 1 "$out/poster.jpg" \
    -map '[sprite]' -frames:v 1 -update 1 "$out/preview/sprite.jpg"
  python3 benches/vod_ladder.py master "$out" "$seconds"
  t1=$(now)
  read -r e1 u1 s1 m1 < "$work/time1"; read -r e2 u2 s2 m2 < "$work/time2"
  python3 -c "
w = $t1 - $t0
print(f'ffmpeg\t$1\t{w:.2f}\t{$u1 + $s1 + $u2 + $s2:.1f}\t{max($m1, $m2) / 1024:.0f}\t{$e1:.1f}\t{w - $e1:.1f}')
" >> "$results"
  echo "  ffmpeg round $1: $(tail -1 "$results" | cut -f3) s, loudness pass $e1 s (gain $gain dB), ladder $e2 s, CPU $(tail -1 "$results" | cut -f4) s" >&2
  outputs "$out" >&2
  if [ "$1" = 1 ]; then
    for r in 1080 720 360; do
      x264_options "$out/$r/segment00000.ts" > "$work/ffmpeg-$r.x264"
      if diff -q "$work/classcast-$r.x264" "$work/ffmpeg-$r.x264" >/dev/null; then
        echo "    $r: x264 settings identical on both sides: $(paste -sd' ' "$work/ffmpeg-$r.x264" | grep -o 'bitrate=[0-9]*') $(grep -E '^(keyint|threads|bframes|rc)=' "$work/ffmpeg-$r.x264" | paste -sd' ')" >&2
      else
        echo "    $r: x264 settings differ (classcast < > ffmpeg):" >&2
        diff "$work/classcast-$r.x264" "$work/ffmpeg-$r.x264" | grep '^[<>]' | paste -sd' ' >&2
      fi
    done
  fi
  rm -rf "$out"
}

echo "input: $input ($(du -m "$input" | cut -f1) MB, ${seconds} s); preset $preset; ladder 1920x1080 ${k1080}k, 1280x720 ${k720}k, 640x360 ${k360}k, AAC 96k; $rounds rounds each"
for i in $(seq 1 "$rounds"); do
  run_classcast "$i"
  run_ffmpeg "$i"
done
python3 benches/vod_ladder.py summary "$results" "$seconds"
