# classcast: `make run` and `make test` work on a fresh Debian 12 with only
# the Rust toolchain: missing packages are installed, PostgreSQL is started
# and given a `classcast` role, the UI is built, then the server runs.

SHELL := /bin/bash
.DEFAULT_GOAL := run

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
export DATABASE_URL ?= postgres://classcast:classcast@127.0.0.1:5432/classcast
CARGO ?= cargo

# Build and runtime dependencies (GStreamer 1.22 with the plugins the
# pipelines use, FFmpeg, CJK font for the slate), and the test peers.
APT_BUILD := pkg-config clang libclang-dev \
	libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgstreamer-plugins-bad1.0-dev \
	libgstrtspserver-1.0-dev gstreamer1.0-tools gstreamer1.0-plugins-base \
	gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly \
	gstreamer1.0-libav gstreamer1.0-rtsp fonts-wqy-microhei \
	libavformat-dev libavcodec-dev libavutil-dev libswscale-dev libswresample-dev \
	libavfilter-dev libavdevice-dev
APT_TEST := ffmpeg chromium srt-tools fuse python3-fusepy python3-venv
# postgresql-15-rum: the library's search indexes (migration 0032); 15 is
# Debian 12's PostgreSQL.
APT_DB := postgresql postgresql-client postgresql-15-rum

.PHONY: run test deps deps-test tools db web build check bench clean-data

deps:
	@missing=$$(for p in $(APT_BUILD) $(APT_DB); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if ! command -v node >/dev/null || ! command -v npm >/dev/null; then missing="$$missing nodejs npm"; fi; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $$missing; \
	fi

# The WHEP test peer (tests/peers/whep_play.py) is aiortc, a second WebRTC
# stack, in a venv under target/ so `cargo clean` takes it too. Binary wheels
# only: building PyAV from source would need FFmpeg's development headers.
deps-test: deps tools
	@missing=$$(for p in $(APT_TEST); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $$missing; \
	fi
	@if ! target/peers-venv/bin/python -c 'import aiortc, av' 2>/dev/null; then \
		echo "installing the aiortc test peer into target/peers-venv"; \
		mkdir -p target && python3 -m venv --clear target/peers-venv \
		&& target/peers-venv/bin/pip install -q --disable-pip-version-check --only-binary=:all: \
			'aiortc==1.16.*' 'av>=14,<20' \
		&& target/peers-venv/bin/python -c 'import aiortc, av' \
		|| { echo "could not install the aiortc test peer into target/peers-venv" >&2; exit 1; }; \
	fi

# Test servers built from the crate registry, kept under target/tools (so
# `cargo clean` takes them too). s3s-fs is a real S3 API over a directory,
# for the object-storage upload test; 0.14 is the last line whose minimum
# Rust (1.92) is not above ours.
S3S_FS_VERSION := 0.14.1
tools:
	@if [ "$$(target/tools/bin/s3s-fs --version 2>/dev/null)" != "s3s-fs $(S3S_FS_VERSION)" ]; then \
		echo "installing s3s-fs $(S3S_FS_VERSION) into target/tools"; \
		$(CARGO) install --locked --quiet s3s-fs --version $(S3S_FS_VERSION) --features binary --root target/tools \
		|| { echo "could not install s3s-fs into target/tools" >&2; exit 1; }; \
	fi

# Starts PostgreSQL if it is not running and makes sure the classcast role
# exists (password auth over TCP, as Debian's default pg_hba.conf expects).
db: deps
	@if ! pg_isready -q -h 127.0.0.1 -p 5432; then \
		echo "starting PostgreSQL"; \
		$(SUDO) pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql | sort -V | tail -1) main start \
			|| $(SUDO) service postgresql start; \
		for i in $$(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done; \
	fi
	@pg_isready -h 127.0.0.1 -p 5432 >/dev/null || { echo "PostgreSQL is not reachable on 127.0.0.1:5432" >&2; exit 1; }
	@$(SUDO) runuser -u postgres -- psql -qtAc "SELECT 1 FROM pg_roles WHERE rolname='classcast'" | grep -q 1 \
		|| $(SUDO) runuser -u postgres -- psql -qc "CREATE ROLE classcast LOGIN CREATEDB PASSWORD 'classcast'"
	@# Only a superuser may create the RUM extension (migration 0032): in
	@# template1, so every database classcast creates has it, and in the
	@# databases it has already.
	@for d in template1 $$($(SUDO) runuser -u postgres -- psql -qtAc \
		"SELECT datname FROM pg_database WHERE datdba = (SELECT oid FROM pg_roles WHERE rolname = 'classcast')"); do \
		$(SUDO) runuser -u postgres -- psql -d "$$d" -qc "CREATE EXTENSION IF NOT EXISTS rum" || [ "$$d" != template1 ] || exit 1; \
	done

# Vite 8 needs Node 20.19+; Debian 12's own nodejs is 18, so say so plainly.
web: deps
	@node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' \
		|| { echo "the UI build needs Node.js 20.19 or newer (found $$(node --version))" >&2; exit 1; }
	cd web && npm ci --no-audit --no-fund && npm run build

build: deps
	$(CARGO) build --release

run: db web build
	./target/release/classcast serve $(if $(CONFIG),--config $(CONFIG))

# The whole suite: Rust unit and integration tests (real PostgreSQL,
# GStreamer, ffmpeg publishers, an RTSP camera), then the browser tests in
# Chromium against a running server.
test: db deps-test web
	$(CARGO) build --bins
	$(CARGO) test -- --test-threads=2
	./scripts/browser-tests.sh

check:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings

# Speed targets live here, never in timed tests; see docs/benchmarks.md.
bench: db deps-test web
	@missing=$$(for p in wrk nginx janus; do command -v $$p >/dev/null || echo $$p; done); \
	if [ -n "$$missing" ]; then $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $$missing; fi
	$(CARGO) build --release --bins
	$(CARGO) bench --bench transcode -- 30
	./benches/serving.sh 10
	./benches/token_check.sh 10
	./benches/latency.sh 60
	./benches/whep_first_frame.sh 20
	./benches/webrtc_viewers.sh
	./benches/overload.sh 60
	./benches/going_live.sh 10
	./benches/sign_in_under_attack.sh 20
	$(CARGO) bench --bench recorder
	./benches/tus_upload.sh
	./benches/library_search.sh 1000000 5 4
	./benches/vod_ladder.sh 2 600

clean-data:
	rm -rf data
