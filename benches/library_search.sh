#!/usr/bin/env bash
# Search and filtered browse over a generated catalogue of micro-lessons
# (default 1,000,000; benches/library_catalogue.sql), as a teacher of one
# campus sees the library (so the visibility rules are in every query).
# Each query is sent by wrk with concurrent connections for a few seconds;
# the p50/p95/p99 of each are reported, then the worst p95 of each kind.
# Targets (issue #11): p95 ≤ 50 ms for search, ≤ 20 ms for browse.
#
#   cargo build --release && benches/library_search.sh [lessons] [seconds per query] [connections]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000000}
seconds=${2:-5}
connections=${3:-8}
bin=${CLASSCAST_BIN:-target/release/classcast}
for tool in curl psql wrk python3; do command -v $tool >/dev/null || { echo "$tool missing (make bench installs it)" >&2; exit 1; }; done
[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 1; }

work=$(mktemp -d)
free_port() { python3 -c "import socket; s=socket.socket(socket.AF_INET, socket.$1); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])"; }
# BENCH_DB=name reuses a catalogue an earlier run kept (KEEP_DB=1).
db=${BENCH_DB:-classcast_bench_search_$$}
admin_url="postgres://classcast:classcast@127.0.0.1:5432/postgres"
export DATABASE_URL="postgres://classcast:classcast@127.0.0.1:5432/$db"
server=""
cleanup() {
  [ -n "$server" ] && { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; }
  [ -z "${KEEP_DB:-}${BENCH_DB:-}" ] && psql "$admin_url" -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
now() { date +%s.%N; }
q() { psql "$DATABASE_URL" -Atc "$1"; }

if [ -z "${BENCH_DB:-}" ]; then
psql "$admin_url" -qc "CREATE DATABASE \"$db\""
"$bin" migrate >/dev/null
# Loaded as a bulk load is: the lessons' secondary indexes (as the
# migrations made them) dropped first and built again at the end, since
# every search-word update would otherwise touch all of them.
q "SELECT indexdef || ';' FROM pg_indexes WHERE tablename = 'micro_lessons' AND indexname <> 'micro_lessons_pkey'" > "$work/indexes.sql"
q "SELECT 'DROP INDEX ' || indexname || ';' FROM pg_indexes WHERE tablename = 'micro_lessons' AND indexname <> 'micro_lessons_pkey'" \
  | psql "$DATABASE_URL" -q
t0=$(now)
psql "$DATABASE_URL" -q -v n="$n" -f benches/library_catalogue.sql >/dev/null
t1=$(now)
"$bin" reindex-library
t2=$(now)
psql "$DATABASE_URL" -q -f "$work/indexes.sql"
t3=$(now)
psql "$DATABASE_URL" -qc "VACUUM ANALYZE micro_lessons" -c "VACUUM ANALYZE micro_lesson_knowledge_points"
python3 -c "print(f'catalogue of $n lessons: rows {$t1-$t0:.0f} s; search words (classcast reindex-library, no indexes) {$t2-$t1:.0f} s, {$n/($t2-$t1):.0f} lessons/s; indexes {$t3-$t2:.0f} s')"
fi
echo "table and indexes: $(q "SELECT pg_size_pretty(pg_total_relation_size('micro_lessons'))")"

http=$(free_port SOCK_STREAM)
CLASSCAST_HTTP__ADDR="127.0.0.1:$http" CLASSCAST_INGEST__RTMP_ADDR="127.0.0.1:$(free_port SOCK_STREAM)" \
CLASSCAST_INGEST__SRT_ADDR="127.0.0.1:$(free_port SOCK_DGRAM)" CLASSCAST_MEDIA__DIR="$work/media" \
CLASSCAST_WEBRTC__UDP_ADDR=127.0.0.1:0 CLASSCAST_WEBRTC__TCP_ADDR=127.0.0.1:0 \
CLASSCAST_DEMO__ENABLED=false CLASSCAST_JOBS__IN_PROCESS=false RUST_LOG=warn \
  "$bin" serve >> "$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 120); do curl -sf "http://127.0.0.1:$http/healthz" >/dev/null && break; sleep 0.5; done
curl -sf "http://127.0.0.1:$http/healthz" >/dev/null || { echo "server did not start" >&2; cat "$work/server.log" >&2; exit 1; }
base="http://127.0.0.1:$http"

# A token for the admin, then for a teacher of the first campus.
token_of() { # username password
  curl -sf -c "$work/jar" -H 'content-type: application/json' \
    -d "{\"username\":\"$1\",\"password\":\"$2\"}" "$base/api/session" > "$work/session.json"
  local csrf
  csrf=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["csrf_token"])' "$work/session.json")
  curl -sf -b "$work/jar" -H "x-csrf-token: $csrf" -H 'content-type: application/json' \
    -d '{"name":"bench"}' "$base/api/tokens" | python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])'
}
# (A reused catalogue has them already.)
echo 'bench-password-123' | "$bin" admin create --username bench --password-stdin >/dev/null 2>&1 \
  || [ -n "${BENCH_DB:-}" ]
admin=$(token_of bench bench-password-123) || { echo "no token" >&2; cat "$work/server.log" >&2; exit 1; }
campus=$(q "SELECT id FROM schools WHERE name = '实验学校 第1校区'")
curl -sf -H "authorization: Bearer $admin" -H 'content-type: application/json' \
  -d "{\"username\":\"zhang_laoshi\",\"password\":\"teacher-password-123\",\"school_id\":\"$campus\",\"roles\":[{\"role\":\"teacher\"}]}" \
  "$base/api/users" >/dev/null || [ -n "${BENCH_DB:-}" ]
token=$(token_of zhang_laoshi teacher-password-123)

math=$(q "SELECT id FROM subjects WHERE code = 'math'")
g5=$(q "SELECT id FROM grades WHERE code = 'g5'")
pep=$(q "SELECT id FROM editions WHERE code = 'pep'")
point=$(q "SELECT id FROM knowledge_points WHERE name = '分数' AND grade_id = '$g5'")
school=$(q "SELECT id FROM schools WHERE name = '实验学校 第3校区'")
enc() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$1"; }
L=/api/library/lessons
searches=(
  "$L?q=$(enc 分数)"
  "$L?q=$(enc 加减法)"
  "$L?q=$(enc '分数 加减法')"
  "$L?q=$(enc 三角形的面积)"
  "$L?q=$(enc 'Python 循环')"
  "$L?q=$(enc ＰＹＴＨＯＮ)"
  "$L?q=$(enc 春)"
  "$L?q=$(enc 勾股)"
  "$L?q=$(enc 七彩阅读)"
  "$L?q=$(enc 王芳)"
  "$L?q=$(enc 光合作用)&grade_id=$g5"
  "$L?q=$(enc 易错题)&sort=most_viewed"
  "$L?q=$(enc 学生)"
  "$L?q=$(enc 分数)&offset=200"
)
browses=(
  "$L"
  "$L?subject_id=$math"
  "$L?subject_id=$math&grade_id=$g5"
  "$L?sort=most_viewed"
  "$L?featured=true"
  "$L?knowledge_point_id=$point"
  "$L?school_id=$school"
  "$L?series=$(enc 七彩阅读课程)"
  "$L?edition_id=$pep&chapter=$(enc 第3单元)"
  "$L?subject_id=$math&offset=200"
)

run() { # kind path
  local items
  items=$(curl -sf -H "authorization: Bearer $token" "$base$2" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))') \
    || { echo "$2 failed" >&2; tail "$work/server.log" >&2; exit 1; }
  local result
  result=$(BENCH_PATH="$2" BENCH_TOKEN="$token" wrk -t2 -c"$connections" -d"${seconds}s" --timeout 10s -s benches/library_search.lua "$base" | grep '^RESULT')
  local label
  label=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.unquote(sys.argv[1]).replace("/api/library/lessons", "") or "(none)")' "$2")
  printf '%-7s %-58s %6s  %s\n' "$1" "$label" "$items" "${result#RESULT }"
  echo "$1 ${result#RESULT }" >> "$work/results"
}
echo "wrk: $connections connections, ${seconds} s per query; latencies in ms; items = lessons on the first page"
for path in "${searches[@]}"; do run search "$path"; done
for path in "${browses[@]}"; do run browse "$path"; done
python3 - "$work/results" <<'PY'
import sys, re
worst = {}
for line in open(sys.argv[1]):
    kind, rest = line.split(" ", 1)
    fields = dict(f.split("=") for f in rest.split())
    # A query with no answer inside wrk's 10 s timeout counts as 10 s.
    p95 = float(fields["p95"]) if int(fields["requests"]) > int(fields["errors"]) else 10000.0
    worst[kind] = max(worst.get(kind, 0.0), p95)
    if int(fields["errors"]):
        print(f"errors (timeouts) in: {line.strip()}")
print(f"worst p95: search {worst['search']:.1f} ms (target ≤ 50), browse {worst['browse']:.1f} ms (target ≤ 20)")
PY
