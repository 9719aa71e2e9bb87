#!/usr/bin/env bash
# Runs the browser tests (web/tests, Playwright driving Debian's Chromium)
# against a real classcast with its demo classroom, on ports and a database
# of their own. Playback tokens last 20 s here, so every playing test also
# rides through token renewals; lessons end 3 s after their feed stops.
# Screenshots of every page land in web/test-output/screenshots (not committed).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x /usr/bin/chromium ] || { echo "chromium missing: run make test (installs it)" >&2; exit 1; }
[ -d web/dist ] || { echo "web/dist missing: run make web" >&2; exit 1; }
db="classcast_browser_$$"
media=$(mktemp -d)
free_port() { python3 -c "import socket; s=socket.socket(socket.AF_INET, socket.$1); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])"; }
port=$(free_port SOCK_STREAM)
rtmp_port=$(free_port SOCK_STREAM)
srt_port=$(free_port SOCK_DGRAM)
webrtc_port=$(free_port SOCK_DGRAM)
playback_ttl=20
export DATABASE_URL="postgres://classcast:classcast@127.0.0.1:5432/$db"
export CLASSCAST_SCREENSHOT_DIR="${CLASSCAST_SCREENSHOT_DIR:-$PWD/web/test-output/screenshots}"
rm -rf "$CLASSCAST_SCREENSHOT_DIR" && mkdir -p "$CLASSCAST_SCREENSHOT_DIR"
# A real OpenID Connect provider as the district's identity platform.
idp_port=$(free_port SOCK_STREAM)
(cd web && exec node tests/idp.mjs "$idp_port" "http://127.0.0.1:$port/api/sso/callback") > "$media/idp.log" 2>&1 &
idp=$!
CLASSCAST_SSO__ENABLED=true CLASSCAST_SSO__ISSUER="http://127.0.0.1:$idp_port" \
CLASSCAST_SSO__CLIENT_ID=classcast CLASSCAST_SSO__CLIENT_SECRET=classcast-test-secret \
CLASSCAST_SSO__REDIRECT_URL="http://127.0.0.1:$port/api/sso/callback" \
CLASSCAST_HTTP__ADDR="127.0.0.1:$port" CLASSCAST_AUTH__ENABLED=true \
CLASSCAST_AUTH__PLAYBACK_TTL_SECONDS=$playback_ttl CLASSCAST_LIVE__GRACE_SECONDS=3 \
CLASSCAST_INGEST__RTMP_ADDR="127.0.0.1:$rtmp_port" CLASSCAST_INGEST__SRT_ADDR="127.0.0.1:$srt_port" \
CLASSCAST_WEBRTC__UDP_ADDR="127.0.0.1:$webrtc_port" CLASSCAST_WEBRTC__TCP_ADDR="127.0.0.1:$(free_port SOCK_STREAM)" \
CLASSCAST_MEDIA__DIR="$media" CLASSCAST_HTTP__WEB_DIR="$PWD/web/dist" \
  ./target/debug/classcast serve > "$media/server.log" 2>&1 &
server=$!
cleanup() {
  kill "$idp" 2>/dev/null || true
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  psql "postgres://classcast:classcast@127.0.0.1:5432/postgres" -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$media"
}
trap cleanup EXIT
for _ in $(seq 1 60); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.5; done
curl -sf "http://127.0.0.1:$port/healthz" >/dev/null || { cat "$media/server.log"; exit 1; }
fail() { echo "--- server log ---"; tail -50 "$media/server.log"; exit 1; }
# BROWSER_TESTS="whip whep" runs only those files (while working on one page).
wanted() { [ -z "${BROWSER_TESTS:-}" ] || [[ " $BROWSER_TESTS " == *" $1 "* ]]; }
# First, as a newcomer: the setup link the server printed makes the first
# admin, who then puts a classroom on air with nothing but the UI.
setup_code=$(grep -o 'setup?code=[A-Za-z0-9_-]*' "$media/server.log" | head -1 | cut -d= -f2)
[ -n "$setup_code" ] || { echo "the server printed no setup link"; cat "$media/server.log"; exit 1; }
export CLASSCAST_URL="http://127.0.0.1:$port"
if wanted setup; then (cd web && CLASSCAST_SETUP_CODE="$setup_code" node --test tests/setup.test.mjs) || fail; fi
# Pages open signed in, with an admin made the way an IT office would:
# classcast admin create, password on standard input.
admin_password="browser-test-$(date +%s)-pw"
echo "$admin_password" | ./target/debug/classcast admin create --username 教务处管理员 --password-stdin
export CLASSCAST_ADMIN=教务处管理员 CLASSCAST_ADMIN_PASSWORD="$admin_password" CLASSCAST_PLAYBACK_TTL=$playback_ttl
cd web
if wanted watch; then node --test tests/watch.test.mjs || fail; fi
if wanted whep; then node --test tests/whep.test.mjs || fail; fi
if wanted whip; then node --test tests/whip.test.mjs || fail; fi
if wanted interactive; then node --test tests/interactive.test.mjs || fail; fi
if wanted admin_pages; then node --test tests/admin_pages.test.mjs || fail; fi
if wanted library; then node --test tests/library.test.mjs || fail; fi
if wanted lesson_delete; then node --test tests/lesson_delete.test.mjs || fail; fi
if wanted clip_editor; then node --test tests/clip_editor.test.mjs || fail; fi
if wanted knowledge_points; then node --test tests/knowledge_points.test.mjs || fail; fi
if wanted sign_in; then CLASSCAST_AUTH_URL="$CLASSCAST_URL" node --test tests/sign_in.test.mjs || fail; fi
echo "screenshots: $CLASSCAST_SCREENSHOT_DIR ($(ls "$CLASSCAST_SCREENSHOT_DIR" | wc -l) files)"
