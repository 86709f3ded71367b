#!/usr/bin/env bash
# Switchboard developer entry point. On a fresh Debian 12 machine:
#   ./dev.sh build   install missing packages, configure, build
#   ./dev.sh test    ... then run every test
#   ./dev.sh demo    ... then run the demo
# Environment: BUILD_DIR (default build), RC_PARAMS (RapidCheck; default max_success=1000),
# SB_SKIP_APT=1 to skip the package check.
set -euo pipefail
cd "$(dirname "$0")"

BUILD_DIR=${BUILD_DIR:-build}

# DESIGN.md §2: every dependency comes from Debian's packages.
PACKAGES=(
  build-essential pkg-config meson ninja-build python3 curl
  libzmq3-dev cppzmq-dev libcapnp-dev capnproto librocksdb-dev libspdlog-dev
  libgtest-dev libgmock-dev libsodium-dev librapidcheck-dev libcli11-dev nlohmann-json3-dev
  libcpp-httplib-dev libtomlplusplus-dev libbenchmark-dev zlib1g-dev
  chromium
)
# The review console's browser test (tests/browser) runs Debian's chromium, driven by
# playwright-core from npm (installed there with `npm ci`). Node.js and npm: the machine's if
# it has them, else Debian's (nodejs 18 is enough for playwright-core).

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

setup() {
  [ "${SB_SKIP_APT:-0}" = 1 ] && return 0
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing missing packages: ${missing[*]}"
  local sudo=()
  [ "$(id -u)" -ne 0 ] && sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
}

build() {
  setup
  if [ ! -f "$BUILD_DIR/build.ninja" ]; then
    log "configuring $BUILD_DIR"
    meson setup "$BUILD_DIR" --buildtype=debugoptimized >/dev/null
  fi
  log "building"
  ninja -C "$BUILD_DIR" | grep -v '^\[' || true
  # ninja's exit status is lost in the pipe above; check it again quietly.
  ninja -C "$BUILD_DIR" >/dev/null
  # The sample directory (fictional, ~1.5 MB) is generated, not committed.
  if [ ! -f examples/data/directory.json ]; then
    log "generating the sample directory (examples/data/directory.json)"
    python3 examples/data/generate.py --out examples/data/directory.json
  fi
  if [ ! -d tests/browser/node_modules/playwright-core ] ||
     [ tests/browser/package-lock.json -nt tests/browser/node_modules/.package-lock.json ]; then
    log "installing the browser test's npm packages (tests/browser)"
    (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

run_tests() {
  build
  export RC_PARAMS=${RC_PARAMS:-max_success=1000}
  log "running tests (RC_PARAMS=$RC_PARAMS)"
  local rc=0
  meson test -C "$BUILD_DIR" --print-errorlogs --num-processes 2 "$@" || rc=$?
  # A plain closing line that any CI reader understands.
  python3 - "$BUILD_DIR/meson-logs/testlog.json" <<'PY'
import json, sys
passed = failed = skipped = 0
for line in open(sys.argv[1]):
    r = json.loads(line).get("result")
    if r in ("OK", "EXPECTEDFAIL"): passed += 1
    elif r == "SKIP": skipped += 1
    else: failed += 1
print(f"{passed} passed, {failed} failed, {skipped} skipped")
PY
  return $rc
}

case "${1:-}" in
  build) build ;;
  test) shift; run_tests "$@" ;;
  demo) build; log "running the demo"; "$BUILD_DIR/cli/switchboard" demo ;;
  *) echo "usage: ./dev.sh build|test|demo" >&2; exit 2 ;;
esac
